#pragma once
// jacnet/io/idx_source.hpp — the byte source under read_idx/parse_idx (io/idx.hpp): sequential
// reads over an IDX file held in a file or in memory, plain or gzip (detected from the magic
// 1F 8B). gzip is inflated incrementally through zlib when JACNET_HAS_ZLIB is set; truncation,
// corruption and trailing bytes are IoErrors naming the file.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <ios>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "jacnet/core/error.hpp"

#ifdef JACNET_HAS_ZLIB
#include <zlib.h>
#endif

namespace jacnet::io::detail {

/// The largest factor by which deflate can expand data: one 258-byte match costs at least two
/// bits, so a deflate stream decompresses to at most 1032 times its size (zlib's "technical
/// details"). A gzip file of c bytes therefore holds at most 1032 * c bytes.
inline constexpr std::uint64_t kDeflateMaxRatio = 1032;

/// Sequential reader over the bytes of an IDX file, plain or gzip, held in a file or in memory.
/// gzip is decoded incrementally with zlib's inflate (members may be concatenated, as gzip
/// allows); bytes after the last member that are not another gzip member are an error.
class IdxSource {
 public:
  /// Reads the file at `path`.
  explicit IdxSource(const std::filesystem::path& path) : name_(path.string()) {
    std::error_code ec;
    JACNET_CHECK(std::filesystem::exists(path, ec), IoError, "read_idx", "'", name_,
                 "' does not exist");
    JACNET_CHECK(std::filesystem::is_regular_file(path, ec), IoError, "read_idx", "'", name_,
                 "' is not a regular file");
    size_ = std::filesystem::file_size(path, ec);
    JACNET_CHECK(!ec, IoError, "read_idx", "cannot stat '", name_, "': ", ec.message());
    in_.open(path, std::ios::binary);
    JACNET_CHECK(in_.good(), IoError, "read_idx", "cannot open '", name_, "'");
    file_ = true;
    init();
  }
  /// Reads `n` bytes at `bytes` (kept by reference; `name` names them in errors).
  IdxSource(const unsigned char* bytes, std::size_t n, std::string name)
      : name_(std::move(name)), mem_(bytes), mem_left_(n), size_(n) {
    init();
  }
  IdxSource(const IdxSource&) = delete;
  IdxSource& operator=(const IdxSource&) = delete;
  ~IdxSource() {
#ifdef JACNET_HAS_ZLIB
    if (zinit_) inflateEnd(&zs_);
#endif
  }

  bool gzip() const { return gzip_; }
  /// Size of the stored (possibly compressed) bytes.
  std::uint64_t stored_size() const { return size_; }
  const std::string& name() const { return name_; }

  /// Reads up to n bytes; returns how many were read (fewer only at the end of the data).
  /// Throws IoError on a corrupt or truncated gzip stream.
  std::uint64_t read(void* dst, std::uint64_t n) {
    auto* p = static_cast<unsigned char*>(dst);
    if (!gzip_) return raw_read(p, n);
#ifdef JACNET_HAS_ZLIB
    std::uint64_t got = 0;
    while (got < n) {
      if (zs_.avail_in == 0) refill();
      if (zs_.avail_in == 0) {
        // No compressed bytes left: a clean end only between members.
        JACNET_CHECK(member_done_, IoError, "read_idx", "'", name_,
                     "' (gzip): truncated: the compressed stream ends early");
        break;
      }
      if (member_done_) {  // another member follows: decode it as a continuation
        JACNET_CHECK(inflateReset(&zs_) == Z_OK, IoError, "read_idx", "'", name_,
                     "' (gzip): zlib inflateReset failed");
        member_done_ = false;
        ++members_;
      }
      const auto chunk = static_cast<uInt>(std::min<std::uint64_t>(n - got, 1u << 30));
      zs_.next_out = p + got;
      zs_.avail_out = chunk;
      const int rc = inflate(&zs_, Z_NO_FLUSH);
      got += chunk - zs_.avail_out;
      if (rc == Z_STREAM_END) {
        member_done_ = true;
      } else if (rc == Z_BUF_ERROR) {
        // No progress possible: only legitimate when the input ran dry (refilled next round).
        JACNET_CHECK(zs_.avail_in == 0, IoError, "read_idx", "'", name_,
                     "' (gzip): corrupt compressed data (zlib: no progress)");
      } else if (rc != Z_OK) {
        const char* msg = zs_.msg ? zs_.msg : "error";
        if (rc == Z_MEM_ERROR)
          jacnet::detail::raise<IoError>("read_idx", "'", name_,
                                         "' (gzip): zlib is out of memory");
        jacnet::detail::raise<IoError>(
            "read_idx", "'", name_, "' (gzip): corrupt compressed data",
            members_ > 0 ? " after the end of a gzip member (trailing bytes that are not gzip)"
                         : "",
            " (zlib: ", msg, ")");
      }
    }
    return got;
#else
    return 0;
#endif
  }

 private:
  void init() {
    unsigned char m[2] = {0, 0};
    // Peek at the first two bytes without consuming them.
    if (file_) {
      in_.read(reinterpret_cast<char*>(m), 2);
      const auto k = in_.gcount();
      in_.clear();
      in_.seekg(0);
      gzip_ = k == 2 && m[0] == 0x1F && m[1] == 0x8B;
    } else {
      gzip_ = mem_left_ >= 2 && mem_[0] == 0x1F && mem_[1] == 0x8B;
    }
    if (!gzip_) return;
#ifdef JACNET_HAS_ZLIB
    // windowBits 15 + 16: gzip wrapper only (header, CRC-32 and length are checked by zlib).
    JACNET_CHECK(inflateInit2(&zs_, 15 + 16) == Z_OK, IoError, "read_idx", "'", name_,
                 "' (gzip): zlib inflateInit2 failed");
    zinit_ = true;
#else
    jacnet::detail::raise<IoError>("read_idx", "'", name_,
                                   "' is gzip-compressed but jacnet was built without zlib "
                                   "(link zlib and define JACNET_HAS_ZLIB)");
#endif
  }

  /// Stored bytes, uncompressed.
  std::uint64_t raw_read(unsigned char* p, std::uint64_t n) {
    if (file_) {
      in_.read(reinterpret_cast<char*>(p), static_cast<std::streamsize>(n));
      return static_cast<std::uint64_t>(in_.gcount());
    }
    const std::uint64_t k = std::min<std::uint64_t>(n, mem_left_);
    if (k) std::memcpy(p, mem_, static_cast<std::size_t>(k));
    mem_ += k;
    mem_left_ -= k;
    return k;
  }

#ifdef JACNET_HAS_ZLIB
  /// Gives inflate the next compressed bytes (none at the end of the input).
  void refill() {
    if (file_) {
      inbuf_.resize(1 << 16);
      const std::uint64_t k = raw_read(inbuf_.data(), inbuf_.size());
      zs_.next_in = inbuf_.data();
      zs_.avail_in = static_cast<uInt>(k);
    } else {
      const std::uint64_t k = std::min<std::uint64_t>(mem_left_, 1u << 30);
      zs_.next_in = const_cast<unsigned char*>(mem_);
      zs_.avail_in = static_cast<uInt>(k);
      mem_ += k;
      mem_left_ -= k;
    }
  }
  z_stream zs_{};
  bool zinit_ = false;
  bool member_done_ = false;
  std::uint64_t members_ = 0;  ///< members fully decoded before the current one
  std::vector<unsigned char> inbuf_;
#endif

  std::string name_;
  const unsigned char* mem_ = nullptr;
  std::uint64_t mem_left_ = 0;
  std::uint64_t size_ = 0;
  bool file_ = false;
  bool gzip_ = false;
  std::ifstream in_;
};

}  // namespace jacnet::io::detail
