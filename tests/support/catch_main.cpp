// The test runners' main: Catch2's session, plus honest skips (see skip.hpp): when every test
// case that ran was skipped and none failed, exit with kSkipReturnCode so ctest reports SKIPPED.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "skip.hpp"

namespace {

int& cases_started() {
  static int n = 0;
  return n;
}

struct CaseCounter : Catch::TestEventListenerBase {
  using TestEventListenerBase::TestEventListenerBase;
  void testCaseStarting(Catch::TestCaseInfo const& info) override {
    TestEventListenerBase::testCaseStarting(info);
    ++cases_started();
  }
};

}  // namespace

CATCH_REGISTER_LISTENER(CaseCounter)

int main(int argc, char* argv[]) {
  const int failed = Catch::Session().run(argc, argv);
  const int skipped = int(jacnet::test::skipped_cases().size());
  if (failed == 0 && cases_started() > 0 && skipped == cases_started())
    return jacnet::test::kSkipReturnCode;
  return failed;
}
