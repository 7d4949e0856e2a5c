#pragma once
// jacnet/ad/tape_buffers.hpp — the storage of a reverse-mode tape (jacnet/ad/tape.hpp): flat
// growable arrays of trivially copyable items that grow geometrically and never shrink, so a tape
// rewound and re-recorded reaches a steady state without allocation, and the operand entries
// (indices and partials in two arrays sharing one size and capacity).
#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <type_traits>
#include <utility>

#include "jacnet/core/error.hpp"  // JACNET_CHECK, TapeError

namespace jacnet::detail {

/// Flat growable array of trivially copyable items: geometric growth, never shrinks, so a tape
/// rewound and re-recorded reaches a steady state without allocation.
template <class U>
class FlatBuffer {
  static_assert(std::is_trivially_copyable_v<U>);

 public:
  std::size_t size() const { return size_; }
  std::size_t capacity() const { return cap_; }
  U* data() { return data_.get(); }
  const U* data() const { return data_.get(); }
  U& operator[](std::size_t i) { return data_[i]; }
  const U& operator[](std::size_t i) const { return data_[i]; }
  /// Make room for `extra` more items (a call per statement; the branch is almost never taken).
  void ensure(std::size_t extra, std::size_t max_size, const char* what) {
    if (size_ + extra > cap_) [[unlikely]]
      grow(size_ + extra, max_size, what);
  }
  void reserve(std::size_t n, std::size_t max_size, const char* what) {
    if (n > cap_) grow(n, max_size, what);
  }
  void push_unchecked(const U& u) { data_[size_++] = u; }
  void resize_unchecked(std::size_t n) { size_ = n; }

 private:
  [[gnu::noinline]] void grow(std::size_t need, std::size_t max_size, const char* what) {
    JACNET_CHECK(need <= max_size, TapeError, "Tape", "tape full: ", what, " would need ", need,
                 " entries, the index type holds at most ", max_size);
    std::size_t cap = std::max<std::size_t>({need, 2 * cap_, 1024});
    cap = std::min(cap, max_size);
    auto fresh = std::make_unique_for_overwrite<U[]>(cap);
    if (size_) std::memcpy(fresh.get(), data_.get(), size_ * sizeof(U));
    data_ = std::move(fresh);
    cap_ = cap;
  }
  std::unique_ptr<U[]> data_;
  std::size_t size_ = 0, cap_ = 0;
};

/// The operand entries of a tape: indices and partials in two arrays sharing one size and
/// capacity (one capacity check per statement).
template <class T, class I>
class OperandBuffer {
 public:
  std::size_t size() const { return size_; }
  std::size_t capacity() const { return cap_; }
  I* index() { return index_.get(); }
  const I* index() const { return index_.get(); }
  T* partial() { return partial_.get(); }
  const T* partial() const { return partial_.get(); }
  void ensure(std::size_t extra, std::size_t max_size) {
    if (size_ + extra > cap_) [[unlikely]]
      grow(size_ + extra, max_size);
  }
  void reserve(std::size_t n, std::size_t max_size) {
    if (n > cap_) grow(n, max_size);
  }
  void resize_unchecked(std::size_t n) { size_ = n; }

 private:
  [[gnu::noinline]] void grow(std::size_t need, std::size_t max_size) {
    JACNET_CHECK(need <= max_size, TapeError, "Tape", "tape full: operands would need ", need,
                 " entries, the index type holds at most ", max_size);
    std::size_t cap = std::max<std::size_t>({need, 2 * cap_, 4096});
    cap = std::min(cap, max_size);
    auto fi = std::make_unique_for_overwrite<I[]>(cap);
    auto fp = std::make_unique_for_overwrite<T[]>(cap);
    if (size_) {
      std::memcpy(fi.get(), index_.get(), size_ * sizeof(I));
      std::memcpy(fp.get(), partial_.get(), size_ * sizeof(T));
    }
    index_ = std::move(fi);
    partial_ = std::move(fp);
    cap_ = cap;
  }
  std::unique_ptr<I[]> index_;
  std::unique_ptr<T[]> partial_;
  std::size_t size_ = 0, cap_ = 0;
};

}  // namespace jacnet::detail
