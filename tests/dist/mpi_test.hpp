// tests/dist/mpi_test.hpp — a minimal harness for tests that run as several MPI processes.
//
// Catch2 is not used here: a failed REQUIRE on one rank would leave the other ranks blocked in
// the next collective. DIST_CHECK prints the rank, file, line, condition and a message, then ends
// every rank with MPI_Abort (exit code non-zero: the ctest fails at once, never hangs). A test
// program runs its cases in order on every rank (the same collectives in the same order) and
// rank 0 prints one "ok <case>" line per case.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <jacnet/dist.hpp>
#include <sstream>
#include <string>

namespace jacnet::test {

[[noreturn]] inline void dist_fail(const char* file, int line, const char* cond,
                                   const std::string& msg) {
  int rank = -1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  std::fprintf(stderr, "rank %d: FAILED %s:%d: %s %s\n", rank, file, line, cond, msg.c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 2);
  std::_Exit(2);
}

/// The parts streamed into one string.
template <class... A>
std::string dist_msg(const A&... a) {
  std::ostringstream os;
  ((os << a), ...);
  return os.str();
}

/// Runs one test case on every rank; rank 0 reports it. An escaping exception fails the test.
template <class F>
void dist_case(const jacnet::dist::Communicator& comm, const char* name, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    dist_fail(__FILE__, __LINE__, name, std::string("threw: ") + e.what());
  }
  comm.barrier();
  if (comm.is_root()) std::printf("ok %s (%d ranks)\n", name, comm.size());
  std::fflush(stdout);
}

}  // namespace jacnet::test

/// DIST_CHECK(cond, parts...): on failure print this rank's message and abort every rank.
#define DIST_CHECK(cond, ...)                                                                      \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      ::jacnet::test::dist_fail(__FILE__, __LINE__, #cond, ::jacnet::test::dist_msg(__VA_ARGS__)); \
    }                                                                                              \
  } while (0)

/// DIST_CHECK_THROWS_WITH(expr, ExceptionType, substring): expr throws ExceptionType whose
/// message contains substring.
#define DIST_CHECK_THROWS_WITH(expr, E, sub)                                                   \
  do {                                                                                         \
    bool dist_thrown_ = false;                                                                 \
    try {                                                                                      \
      (void)(expr);                                                                            \
    } catch (const E& dist_e_) {                                                               \
      dist_thrown_ = true;                                                                     \
      const std::string dist_w_ = dist_e_.what();                                              \
      DIST_CHECK(dist_w_.find(sub) != std::string::npos, "message \"", dist_w_, "\" lacks \"", \
                 sub, "\"");                                                                   \
    }                                                                                          \
    DIST_CHECK(dist_thrown_, #expr " did not throw " #E);                                      \
  } while (0)
