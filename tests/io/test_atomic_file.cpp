#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <string>

#include "jacnet/io/atomic_file.hpp"
#include "support/temp_dir.hpp"

using namespace jacnet;
using jacnet_test::TempDir;

namespace {
std::string slurp(const std::filesystem::path& p) {
  const auto b = jacnet_test::read_bytes(p);
  return std::string(b.begin(), b.end());
}
}  // namespace

TEST_CASE("write_file_atomic creates and replaces files, leaving no temporary", "[io][atomic]") {
  TempDir dir;
  const auto target = dir / "out.bin";
  io::write_file_atomic(target, std::string_view("first"));
  CHECK(slurp(target) == "first");
  io::write_file_atomic(target, std::string_view("second, longer"));
  CHECK(slurp(target) == "second, longer");
  CHECK(dir.entries() == std::vector<std::string>{"out.bin"});

  // Permissions follow the umask like an ordinary file created with open(..., 0666).
  const auto ref = dir / "ref.bin";
  jacnet_test::write_bytes(ref, {1});
  CHECK(std::filesystem::status(target).permissions() ==
        std::filesystem::status(ref).permissions());

  // Streaming form, and read_file returns what was written.
  io::write_file_atomic(target, [](io::AtomicFile& f) {
    for (int i = 0; i < 1000; ++i) f.write("0123456789");
    CHECK(f.size() == 10000);
  });
  CHECK(io::read_file(target).size() == 10000);
}

TEST_CASE("an exception while writing leaves the old file intact", "[io][atomic]") {
  TempDir dir;
  const auto target = dir / "weights.safetensors";
  io::write_file_atomic(target, std::string_view("old content"));
  CHECK_THROWS_WITH(io::write_file_atomic(target,
                                          [](io::AtomicFile& f) {
                                            f.write("half of the new ");
                                            throw std::runtime_error("serializer failed");
                                          }),
                    "serializer failed");
  CHECK(slurp(target) == "old content");
  CHECK(dir.entries().size() == 1);

  // An AtomicFile destroyed without commit() changes nothing either.
  {
    io::AtomicFile f(target);
    f.write("never committed");
    CHECK(std::filesystem::exists(f.temp_path()));
  }
  CHECK(slurp(target) == "old content");
  CHECK(dir.entries().size() == 1);
}

TEST_CASE("a failing write(2) (file size limit) leaves the old file intact", "[io][atomic]") {
  TempDir dir;
  const auto target = dir / "big.bin";
  io::write_file_atomic(target, std::string_view("old"));
  // RLIMIT_FSIZE makes write(2) fail with EFBIG past 4 KiB, even for root; ignore SIGXFSZ.
  rlimit old_limit{};
  REQUIRE(getrlimit(RLIMIT_FSIZE, &old_limit) == 0);
  auto old_handler = signal(SIGXFSZ, SIG_IGN);
  rlimit small = old_limit;
  small.rlim_cur = 4096;
  REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
  std::string err;
  try {
    io::write_file_atomic(target, std::string(100000, 'x'));
  } catch (const IoError& e) {
    err = e.what();
  }
  setrlimit(RLIMIT_FSIZE, &old_limit);
  signal(SIGXFSZ, old_handler);
  CHECK_THAT(err, Catch::Contains("big.bin") && Catch::Contains("failed after 4096 bytes"));
  CHECK(slurp(target) == "old");
  CHECK(dir.entries() == std::vector<std::string>{"big.bin"});
}

TEST_CASE("unwritable targets raise IoError naming the path", "[io][atomic]") {
  TempDir dir;
  // Missing parent directory.
  CHECK_THROWS_WITH(io::write_file_atomic(dir / "no/such/dir/x.bin", std::string_view("x")),
                    Catch::Contains("no/such/dir") && Catch::Contains("cannot create temporary"));
  // A regular file where a directory should be.
  jacnet_test::write_bytes(dir / "plain", {1, 2, 3});
  CHECK_THROWS_AS(io::write_file_atomic(dir / "plain" / "x.bin", std::string_view("x")), IoError);
  CHECK(jacnet_test::read_bytes(dir / "plain") == std::vector<unsigned char>{1, 2, 3});
  // A directory where the file should be: the rename fails, the directory and its content stay.
  std::filesystem::create_directory(dir / "taken");
  jacnet_test::write_bytes(dir / "taken" / "inside", {7});
  CHECK_THROWS_WITH(io::write_file_atomic(dir / "taken", std::string_view("x")),
                    Catch::Contains("rename") && Catch::Contains("taken"));
  CHECK(std::filesystem::is_directory(dir / "taken"));
  CHECK(jacnet_test::read_bytes(dir / "taken" / "inside") == std::vector<unsigned char>{7});
  auto names = dir.entries();
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"plain", "taken"});
}

TEST_CASE("read_file names missing files and directories", "[io][atomic]") {
  TempDir dir;
  CHECK_THROWS_WITH(io::read_file(dir / "absent.bin"),
                    Catch::Contains("absent.bin") && Catch::Contains("does not exist"));
  CHECK_THROWS_WITH(io::read_file(dir.path()), Catch::Contains("not a regular file"));
  jacnet_test::write_bytes(dir / "ten", std::vector<unsigned char>(10, 1));
  CHECK_THROWS_WITH(io::read_file(dir / "ten", 9), Catch::Contains("more than the limit of 9"));
}
