// tests/support/skip.hpp — honest skips for Catch2 2.13 (which has no SKIP of its own).
//
// A test case that cannot run (no torch, no data set, no MPI) calls
//     JACNET_SKIP("no python3 with torch");
// which records the reason, prints it, and returns from the test case. The runner's main
// (tests/support/catch_main.cpp) exits with kSkipReturnCode when every test case it ran was
// skipped and none failed. ctest runs each TEST_CASE in its own process (catch_discover_tests)
// with SKIP_RETURN_CODE = kSkipReturnCode, so a skipped case is listed as "Not Run (Skipped)"
// and counted apart — never as Passed.
#pragma once

#include <catch2/catch.hpp>

#include <set>
#include <string>

namespace jacnet::test {

inline constexpr int kSkipReturnCode = 77;

/// Names of the test cases that called skip() in this process (read by the runner's main).
inline std::set<std::string>& skipped_cases() {
  static std::set<std::string> names;
  return names;
}

/// Marks the current test case as skipped and says why (printed; the caller then returns).
inline void skip(const std::string& reason) {
  skipped_cases().insert(Catch::getResultCapture().getCurrentTestName());
  WARN("SKIPPED: " << reason);
}

}  // namespace jacnet::test

/// Skip the current test case with a reason, and return from it.
#define JACNET_SKIP(reason)          \
  do {                               \
    ::jacnet::test::skip(reason);    \
    return;                          \
  } while (false)
