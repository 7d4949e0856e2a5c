#pragma once
// jacnet/io/atomic_file.hpp — write a file so that readers see either the old or the new content.
//
// AtomicFile creates a uniquely named temporary file in the target's own directory (so the final
// rename(2) never crosses a file system), the caller writes into it, and commit() flushes it with
// fsync, renames it over the target and fsyncs the directory. Until commit() succeeds the target is
// untouched; if anything fails (a write error, a full disk, an exception thrown by the caller while
// it serializes) the destructor closes and unlinks the temporary file. POSIX only.
//
//   io::write_file_atomic("net.safetensors", bytes);                  // one buffer
//   io::write_file_atomic("out.csv", [&](io::AtomicFile& f) { f.write(line); });  // streamed
//
// read_file() is the matching whole-file reader used by the other io headers.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <new>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "jacnet/core/error.hpp"

namespace jacnet::io {

namespace detail {
inline std::string errno_text(int err) { return std::string(std::strerror(err)); }
}  // namespace detail

/// A temporary file next to `target` that replaces `target` on commit() and disappears otherwise.
class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path target) : target_(std::move(target)) {
    JACNET_CHECK(!target_.empty(), IoError, "AtomicFile", "empty target path");
    JACNET_CHECK(target_.has_filename(), IoError, "AtomicFile", "target '", target_.string(),
                 "' names a directory, not a file");
    std::filesystem::path dir = target_.parent_path();
    if (dir.empty()) dir = ".";
    // Unique name: pid, thread, a per-thread counter and a clock sample; O_EXCL turns a clash
    // into a retry instead of a shared file.
    thread_local std::uint64_t counter = 0;
    const std::size_t thread = std::hash<std::thread::id>()(std::this_thread::get_id());
    for (int attempt = 0;; ++attempt) {
      const auto stamp =
          static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
      std::string name = ".";
      name += target_.filename().string();
      name += ".tmp.";
      name += std::to_string(::getpid());
      name += '.';
      name += std::to_string(thread % 1000003U);
      name += '.';
      name += std::to_string(counter++);
      name += '.';
      name += std::to_string(stamp % 1000000007ULL);
      temp_ = dir / name;
      fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (fd_ >= 0) break;
      const int err = errno;
      JACNET_CHECK(err == EEXIST && attempt < 100, IoError, "AtomicFile",
                   "cannot create temporary file '", temp_.string(), "' for '", target_.string(),
                   "': ", detail::errno_text(err));
    }
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile() { discard(); }

  const std::filesystem::path& target() const { return target_; }
  const std::filesystem::path& temp_path() const { return temp_; }
  /// Bytes written so far.
  std::uint64_t size() const { return written_; }

  /// Appends `n` bytes; throws IoError naming the target on a short or failed write.
  void write(const void* data, std::size_t n) {
    JACNET_CHECK(fd_ >= 0, IoError, "AtomicFile::write", "'", target_.string(),
                 "' is already committed or discarded");
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
      const ssize_t k = ::write(fd_, p, n);
      if (k < 0 && errno == EINTR) continue;
      if (k <= 0) {
        const int err = k < 0 ? errno : EIO;
        discard();
        jacnet::detail::raise<IoError>("AtomicFile::write", "writing '", target_.string(),
                                       "' failed after ", written_,
                                       " bytes: ", detail::errno_text(err));
      }
      p += k;
      n -= static_cast<std::size_t>(k);
      written_ += static_cast<std::uint64_t>(k);
    }
  }
  void write(std::string_view s) { write(s.data(), s.size()); }

  /// fsync, rename over the target, fsync the directory. After this the object is inert.
  void commit() {
    JACNET_CHECK(fd_ >= 0, IoError, "AtomicFile::commit", "'", target_.string(),
                 "' is already committed or discarded");
    if (::fsync(fd_) != 0) fail("fsync");
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) {
      fd_ = -2;  // closed, but the temp file still exists
      fail("close");
    }
    if (::rename(temp_.c_str(), target_.c_str()) != 0) {
      fd_ = -2;
      fail("rename");
    }
    committed_ = true;
    // Make the rename durable. Failure here cannot undo the rename, so it is not an error.
    std::filesystem::path dir = target_.parent_path();
    if (dir.empty()) dir = ".";
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      (void)::fsync(dfd);
      ::close(dfd);
    }
  }

  /// Closes and removes the temporary file (no-op after commit()).
  void discard() noexcept {
    if (committed_) return;
    if (fd_ >= 0) ::close(fd_);
    if (!temp_.empty()) ::unlink(temp_.c_str());
    fd_ = -1;
    temp_.clear();
  }

 private:
  [[noreturn]] void fail(const char* what) {
    const int err = errno;
    discard();
    jacnet::detail::raise<IoError>("AtomicFile::commit", what, " of '", target_.string(),
                                   "' failed: ", detail::errno_text(err));
  }

  std::filesystem::path target_;
  std::filesystem::path temp_;
  int fd_ = -1;
  std::uint64_t written_ = 0;
  bool committed_ = false;
};

/// Writes `bytes` to `path` atomically.
inline void write_file_atomic(const std::filesystem::path& path, std::string_view bytes) {
  AtomicFile f(path);
  f.write(bytes);
  f.commit();
}
inline void write_file_atomic(const std::filesystem::path& path,
                              const std::vector<unsigned char>& bytes) {
  AtomicFile f(path);
  f.write(bytes.data(), bytes.size());
  f.commit();
}
/// Calls `fill(AtomicFile&)` and commits; if `fill` throws, the target is untouched.
template <class Fill>
requires std::invocable<Fill&, AtomicFile&>
void write_file_atomic(const std::filesystem::path& path, Fill&& fill) {
  AtomicFile f(path);
  fill(f);
  f.commit();
}

/// Reads a whole file; throws IoError naming the file if it is missing, not a regular file, larger
/// than `max_bytes`, or cannot be read completely.
inline std::vector<unsigned char> read_file(const std::filesystem::path& path,
                                            std::uint64_t max_bytes = std::uint64_t{1} << 34) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  JACNET_CHECK(!ec && std::filesystem::exists(status), IoError, "read_file", "'", path.string(),
               "' does not exist");
  JACNET_CHECK(std::filesystem::is_regular_file(status), IoError, "read_file", "'", path.string(),
               "' is not a regular file");
  const std::uint64_t size = std::filesystem::file_size(path, ec);
  JACNET_CHECK(!ec, IoError, "read_file", "cannot stat '", path.string(), "': ", ec.message());
  JACNET_CHECK(size <= max_bytes, IoError, "read_file", "'", path.string(), "' has ", size,
               " bytes, more than the limit of ", max_bytes);
  std::vector<unsigned char> bytes;
  try {
    bytes.resize(static_cast<std::size_t>(size));
  } catch (const std::bad_alloc&) {
    jacnet::detail::raise<IoError>("read_file", "'", path.string(), "' has ", size,
                                   " bytes: cannot allocate them (out of memory)");
  }
  std::ifstream in(path, std::ios::binary);
  JACNET_CHECK(in.good(), IoError, "read_file", "cannot open '", path.string(), "'");
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
  JACNET_CHECK(static_cast<std::uint64_t>(in.gcount()) == size, IoError, "read_file", "read only ",
               in.gcount(), " of ", size, " bytes of '", path.string(), "'");
  return bytes;
}

}  // namespace jacnet::io
