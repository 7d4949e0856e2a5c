#pragma once
// jacnet/io/dtype.hpp — element types of the tensor file formats and little-endian byte access.
//
// safetensors names element types "F32", "F64", "U8", ...; NumPy's .npy names them "<f4", "<f8",
// "|u1", ... Both store little-endian data. DType is the common vocabulary; load_le/store_le read
// and write one element at an unaligned byte address in little-endian order on any host.
//
// Conversion policy (all readers): by default a file's dtype must equal the requested C++ type
// (float <-> F32/<f4, double <-> F64/<f8, std::uint8_t <-> U8/|u1, std::int32_t <-> I32/<i4,
// std::int64_t <-> I64/<i8). Passing Convert::allow converts element by element:
//   * to float or double: from F32, F64, U8, I32 and I64 with static_cast (F64 -> float and
//     I64 -> double round to nearest);
//   * to std::int32_t or std::int64_t: from U8, I32 and I64; a value that does not fit (an I64
//     label above 2^31 - 1 read as int32) is an error naming the element, never a wrap-around.
// Floating-point data is never converted to an integer type, and nothing is converted to uint8.
//
// Empty arrays (a zero in the shape) decode to nothing: no pointer of an empty buffer is ever
// passed to memcpy.
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <new>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "jacnet/core/error.hpp"

namespace jacnet::io {

enum class DType { BOOL, U8, I8, U16, I16, F16, BF16, U32, I32, F32, U64, I64, F64 };

/// Whether a reader may convert between element types (see the header comment).
enum class Convert { exact, allow };

/// Bytes per element.
constexpr std::size_t dtype_size(DType d) {
  switch (d) {
    case DType::BOOL:
    case DType::U8:
    case DType::I8:
      return 1;
    case DType::U16:
    case DType::I16:
    case DType::F16:
    case DType::BF16:
      return 2;
    case DType::U32:
    case DType::I32:
    case DType::F32:
      return 4;
    case DType::U64:
    case DType::I64:
    case DType::F64:
      return 8;
  }
  return 0;
}

/// safetensors' name of a dtype ("F32", ...).
constexpr std::string_view safetensors_name(DType d) {
  switch (d) {
    case DType::BOOL:
      return "BOOL";
    case DType::U8:
      return "U8";
    case DType::I8:
      return "I8";
    case DType::U16:
      return "U16";
    case DType::I16:
      return "I16";
    case DType::F16:
      return "F16";
    case DType::BF16:
      return "BF16";
    case DType::U32:
      return "U32";
    case DType::I32:
      return "I32";
    case DType::F32:
      return "F32";
    case DType::U64:
      return "U64";
    case DType::I64:
      return "I64";
    case DType::F64:
      return "F64";
  }
  return "?";
}

/// Parses a safetensors dtype name; returns false for an unknown name.
inline bool parse_safetensors_dtype(std::string_view s, DType& out) {
  for (int i = 0; i <= static_cast<int>(DType::F64); ++i) {
    const auto d = static_cast<DType>(i);
    if (safetensors_name(d) == s) {
      out = d;
      return true;
    }
  }
  return false;
}

/// The DType a C++ element type is stored as (float, double, std::uint8_t, std::int32_t,
/// std::int64_t).
template <class T>
constexpr DType dtype_of() {
  if constexpr (std::is_same_v<T, float>)
    return DType::F32;
  else if constexpr (std::is_same_v<T, double>)
    return DType::F64;
  else if constexpr (std::is_same_v<T, std::uint8_t>)
    return DType::U8;
  else if constexpr (std::is_same_v<T, std::int32_t>)
    return DType::I32;
  else if constexpr (std::is_same_v<T, std::int64_t>)
    return DType::I64;
  else
    static_assert(sizeof(T) == 0,
                  "jacnet::io: element type must be float, double, uint8_t, int32_t or int64_t");
}

/// Whether data of dtype `from` may be read as dtype `to` under `conv` (see the header comment).
constexpr bool dtype_convertible(DType from, DType to, Convert conv) {
  if (from == to) return true;
  if (conv == Convert::exact) return false;
  const bool int_src = from == DType::U8 || from == DType::I32 || from == DType::I64;
  if (to == DType::F32 || to == DType::F64) return int_src || from == DType::F32 || from == DType::F64;
  if (to == DType::I32 || to == DType::I64) return int_src;
  return false;
}

/// Whether data of dtype `d` may be read as T under `conv`.
template <class T>
constexpr bool dtype_readable_as(DType d, Convert conv) {
  return dtype_convertible(d, dtype_of<T>(), conv);
}

namespace detail {
template <class U>
constexpr U byteswap_if_big(U v) {
  if constexpr (std::endian::native == std::endian::little || sizeof(U) == 1) {
    return v;
  } else {
    U r = 0;
    for (std::size_t i = 0; i < sizeof(U); ++i)
      r = static_cast<U>((r << 8) | ((v >> (8 * i)) & 0xFF));
    return r;
  }
}
template <std::size_t N>
using uint_of_size = std::conditional_t<
    N == 1, std::uint8_t,
    std::conditional_t<N == 2, std::uint16_t,
                       std::conditional_t<N == 4, std::uint32_t, std::uint64_t>>>;
}  // namespace detail

/// Reads one little-endian element of type E (arithmetic) at `p`.
template <class E>
inline E load_le(const unsigned char* p) {
  using U = detail::uint_of_size<sizeof(E)>;
  U u;
  std::memcpy(&u, p, sizeof(U));
  u = detail::byteswap_if_big(u);
  E e;
  std::memcpy(&e, &u, sizeof(E));
  return e;
}
/// Writes one element of type E at `p` in little-endian order.
template <class E>
inline void store_le(unsigned char* p, E e) {
  using U = detail::uint_of_size<sizeof(E)>;
  U u;
  std::memcpy(&u, &e, sizeof(E));
  u = detail::byteswap_if_big(u);
  std::memcpy(p, &u, sizeof(U));
}

namespace detail {
/// dst[i] = src element i of type E (little-endian); for an integer T, returns the index of the
/// first element that does not fit in T (n if all fit).
template <class E, class T>
inline std::size_t decode_as(const unsigned char* src, std::size_t n, T* dst) {
  for (std::size_t i = 0; i < n; ++i) {
    const E e = load_le<E>(src + sizeof(E) * i);
    if constexpr (std::is_integral_v<T> && std::is_integral_v<E>) {
      if (!std::in_range<T>(e)) return i;
    }
    dst[i] = static_cast<T>(e);
  }
  return n;
}
}  // namespace detail

/// Converts `n` little-endian elements of dtype `d` at `src` to T (the pairs dtype_convertible
/// allows under Convert::allow). Returns the index of the first element whose value does not fit
/// in an integer T (then dst holds only the elements before it), or n when all were converted.
/// n == 0 touches neither pointer (both may be null).
template <class T>
inline std::size_t decode_le(DType d, const unsigned char* src, std::size_t n, T* dst) {
  if (n == 0) return 0;
  if (d == dtype_of<T>() && std::endian::native == std::endian::little) {
    std::memcpy(dst, src, n * sizeof(T));
    return n;
  }
  switch (d) {
    case DType::F32:
      if constexpr (std::is_floating_point_v<T>) return detail::decode_as<float>(src, n, dst);
      break;
    case DType::F64:
      if constexpr (std::is_floating_point_v<T>) return detail::decode_as<double>(src, n, dst);
      break;
    case DType::U8:
      return detail::decode_as<std::uint8_t>(src, n, dst);
    case DType::I32:
      if constexpr (!std::is_same_v<T, std::uint8_t>)
        return detail::decode_as<std::int32_t>(src, n, dst);
      break;
    case DType::I64:
      if constexpr (!std::is_same_v<T, std::uint8_t>)
        return detail::decode_as<std::int64_t>(src, n, dst);
      break;
    default:
      break;
  }
  jacnet::detail::raise<ValueError>("decode_le", "cannot decode dtype ", safetensors_name(d),
                                    " as ", safetensors_name(dtype_of<T>()));
}

/// Resizes `v` to n elements; an allocation failure (std::bad_alloc, std::length_error) becomes
/// an IoError naming `what` (the file and the field), so hostile sizes never escape as bad_alloc.
template <class Vec, class... Args>
inline void resize_or_fail(Vec& v, std::uint64_t n, const char* where, Args&&... what) {
  bool failed = n > v.max_size();
  if (!failed) {
    try {
      v.resize(static_cast<std::size_t>(n));
    } catch (const std::bad_alloc&) {
      failed = true;
    } catch (const std::length_error&) {
      failed = true;
    }
  }
  if (failed)
    jacnet::detail::raise<IoError>(where, std::forward<Args>(what)..., ": cannot allocate ", n,
                                   " elements of ", sizeof(typename Vec::value_type),
                                   " bytes (out of memory)");
}

/// Encodes `n` elements of T as little-endian bytes of T's own dtype.
template <class T>
inline void encode_le(const T* src, std::size_t n, unsigned char* dst) {
  if (n == 0) return;
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(dst, src, n * sizeof(T));
  } else {
    for (std::size_t i = 0; i < n; ++i) store_le<T>(dst + sizeof(T) * i, src[i]);
  }
}

}  // namespace jacnet::io
