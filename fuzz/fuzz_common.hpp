#pragma once
// fuzz/fuzz_common.hpp — shared pieces of jacnet's libFuzzer targets.
//
// Contract checked by every target: a reader either returns a valid result or throws one of
// jacnet's own exceptions (jacnet::Error). Anything else — std::bad_alloc, another exception, an
// abort, a sanitizer report, an allocation above libFuzzer's -malloc_limit_mb — is a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <string>

#include "jacnet/core/error.hpp"

namespace jacnet_fuzz {

/// Runs f(); swallows jacnet::Error (the documented rejection), lets everything else escape.
/// Returns true if f() completed.
template <class F>
bool accepts(F&& f) {
  try {
    f();
    return true;
  } catch (const jacnet::Error& e) {
    // Every rejection must name the reader ("jacnet: <where>: ...").
    if (std::string(e.what()).rfind("jacnet: ", 0) != 0) {
      std::fprintf(stderr, "error without jacnet prefix: %s\n", e.what());
      std::abort();
    }
    return false;
  }
}

/// A property the target checks on accepted input; failing it is a crash.
inline void expect(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz property violated: %s\n", what);
    std::abort();
  }
}

}  // namespace jacnet_fuzz
