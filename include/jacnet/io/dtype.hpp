#pragma once
// jacnet/io/dtype.hpp — element types of the tensor file formats and little-endian byte access.
//
// safetensors names element types "F32", "F64", "U8", ...; NumPy's .npy names them "<f4", "<f8",
// "|u1", ... Both store little-endian data. DType is the common vocabulary; load_le/store_le read
// and write one element at an unaligned byte address in little-endian order on any host.
//
// Conversion policy (both readers): by default a file's dtype must equal the requested C++ type
// (float <-> F32/<f4, double <-> F64/<f8, std::uint8_t <-> U8/|u1). Passing Convert::allow accepts
// F32, F64 and U8 data for any of float/double and converts element by element with static_cast
// (F64 -> float rounds to nearest; U8 -> float is exact). Reading float data as uint8 is never
// done.
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

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

/// The DType a C++ element type is stored as (float, double, std::uint8_t).
template <class T>
constexpr DType dtype_of() {
  if constexpr (std::is_same_v<T, float>)
    return DType::F32;
  else if constexpr (std::is_same_v<T, double>)
    return DType::F64;
  else if constexpr (std::is_same_v<T, std::uint8_t>)
    return DType::U8;
  else
    static_assert(sizeof(T) == 0, "jacnet::io: element type must be float, double or uint8_t");
}

/// Whether data of dtype `d` may be read as T under `conv`.
template <class T>
constexpr bool dtype_readable_as(DType d, Convert conv) {
  if (d == dtype_of<T>()) return true;
  if (conv == Convert::exact) return false;
  if constexpr (std::is_floating_point_v<T>)
    return d == DType::F32 || d == DType::F64 || d == DType::U8;
  return false;
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

/// Converts `n` little-endian elements of dtype `d` at `src` to T (d must be F32, F64 or U8).
template <class T>
inline void decode_le(DType d, const unsigned char* src, std::size_t n, T* dst) {
  if (d == dtype_of<T>() && std::endian::native == std::endian::little) {
    std::memcpy(dst, src, n * sizeof(T));
    return;
  }
  switch (d) {
    case DType::F32:
      for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<T>(load_le<float>(src + 4 * i));
      break;
    case DType::F64:
      for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<T>(load_le<double>(src + 8 * i));
      break;
    case DType::U8:
      for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<T>(src[i]);
      break;
    default:
      jacnet::detail::raise<ValueError>("decode_le", "cannot decode dtype ", safetensors_name(d));
  }
}

/// Encodes `n` elements of T as little-endian bytes of T's own dtype.
template <class T>
inline void encode_le(const T* src, std::size_t n, unsigned char* dst) {
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(dst, src, n * sizeof(T));
  } else {
    for (std::size_t i = 0; i < n; ++i) store_le<T>(dst + sizeof(T) * i, src[i]);
  }
}

}  // namespace jacnet::io
