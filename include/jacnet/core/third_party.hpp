#pragma once
// jacnet/core/third_party.hpp — <Eigen/Core> and the x86 intrinsics headers, included for every
// jacnet header that needs them (before xsimd, Eigen or <immintrin.h> anywhere else in jacnet).
//
// GCC 12 and older report `-Wmaybe-uninitialized` (at -O3; `-Wuninitialized`, "is used
// uninitialized", at -O2) on '__Y' inside their own avx512fintrin.h
// wherever an AVX-512 intrinsic that starts from an undefined vector (the `__m512d __Y = __Y;`
// idiom, GCC PR 105593, fixed in GCC 13) is inlined — through Eigen's and xsimd's AVX-512 kernels,
// so about 190 of them per translation unit under -march=skylake-avx512 / x86-64-v4 / native on
// an AVX-512 machine. The warning is located in the intrinsics header, and GCC applies the
// diagnostic state in force where that header was read: with the warning off while <immintrin.h>
// is first read (here, and only there: Eigen is included after the pop), exactly those reports
// go away. Both warnings stay on for every other line: jacnet's code, Eigen's and xsimd's own
// headers, and the consumer's code (checked by compiling genuinely (maybe-)uninitialized
// variables after this header). It only takes effect when
// this header is the first to include <immintrin.h> in the translation unit (a consumer that
// includes <Eigen/Core>, xsimd or <immintrin.h> before jacnet gets GCC's reports as before).
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ <= 12
#define JACNET_GCC_AVX512_FALSE_POSITIVES 1
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif
#ifdef JACNET_GCC_AVX512_FALSE_POSITIVES
#pragma GCC diagnostic pop
#undef JACNET_GCC_AVX512_FALSE_POSITIVES
#endif
#include <Eigen/Core>
