#pragma once
// jacnet/dist/environment.hpp — MPI's lifetime as an object (needs MPI; link jacnet::mpi).
//
//   int main(int argc, char** argv) {
//     jacnet::dist::Environment env(argc, argv);   // MPI_Init_thread(FUNNELED)
//     jacnet::dist::Communicator comm;             // MPI_COMM_WORLD
//     ...
//   }                                              // MPI_Finalize
//
// FUNNELED: only the thread that created the Environment calls MPI; OpenMP threads inside
// jacnet's kernels never do. If MPI is already initialized (by the caller or another library),
// the Environment neither initializes nor finalizes it.
//
// Faults: the Environment installs a std::terminate handler that prints the rank and the
// exception's message to stderr and calls MPI_Abort(MPI_COMM_WORLD, 1), so an exception that
// escapes main on one rank ends every rank instead of leaving the others blocked in a collective.
// If the Environment is destroyed while an exception propagates (a caught-and-rethrown error
// unwinding through main's scope), it aborts the same way instead of calling MPI_Finalize, which
// would wait for ranks that are blocked in a collective.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <type_traits>

#include "jacnet/dist/communicator.hpp"  // <mpi.h>, or a clear #error without MPI
#include "jacnet/dist/error.hpp"

namespace jacnet::dist {

namespace detail {

/// Prints "jacnet: rank r of P: <what>: <message>" on stderr (one write, flushed).
inline void report_failure(const char* what, const std::string& message) {
  int init = 0, fin = 0, rank = -1, size = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  if (init && !fin) {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
  }
  const std::string line = "jacnet: rank " + std::to_string(rank) + " of " + std::to_string(size) +
                           ": " + what + ": " + message + "\n";
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

/// The message of the exception in flight (inside a catch block or a terminate handler).
inline std::string current_exception_message() {
  const std::exception_ptr e = std::current_exception();
  if (!e) return "std::terminate called without an active exception";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (...) {
    return "unknown exception (not derived from std::exception)";
  }
}

/// Ends all ranks: MPI_Abort if MPI is running, else _Exit.
[[noreturn]] inline void abort_all(int code) {
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  if (init && !fin) MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

[[noreturn]] inline void terminate_handler() {
  report_failure("uncaught exception, aborting all ranks", current_exception_message());
  abort_all(1);
}

}  // namespace detail

class Environment {
 public:
  Environment(int& argc, char**& argv) { init(&argc, &argv); }
  /// Without command-line arguments (MPI_Init_thread(nullptr, nullptr, ...)).
  Environment() { init(nullptr, nullptr); }

  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

  ~Environment() {
    if (!owned_) return;
    int fin = 0;
    MPI_Finalized(&fin);
    if (fin) return;
    if (std::uncaught_exceptions() > 0) {
      detail::report_failure("exception unwinding through dist::Environment",
                             detail::current_exception_message());
      detail::abort_all(1);
    }
    MPI_Finalize();
  }

  /// The thread support MPI provides (MPI_THREAD_FUNNELED or more when it initialized here).
  int thread_support() const { return provided_; }
  /// Whether this object initialized MPI (and will finalize it).
  bool owns_mpi() const { return owned_; }

 private:
  void init(int* argc, char*** argv) {
    int init = 0;
    MPI_Initialized(&init);
    if (init) {
      MPI_Query_thread(&provided_);
    } else {
      const int rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided_);
      check_mpi(rc, "MPI_Init_thread", -1, -1);
      owned_ = true;
    }
    int rank = -1, size = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    check_mpi(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler",
              rank, size);
    if (provided_ < MPI_THREAD_FUNNELED)
      throw DistError("jacnet: MPI_Init_thread on rank " + std::to_string(rank) +
                      ": MPI provides thread level " + std::to_string(provided_) +
                      ", jacnet needs MPI_THREAD_FUNNELED");
    std::set_terminate(&detail::terminate_handler);
  }

  bool owned_ = false;
  int provided_ = 0;
};

/// Runs f() and returns its exit code (0 when it returns void). An exception on any rank prints
/// "jacnet: rank r of P: failed: <message>" and ends every rank with MPI_Abort(code 1): the job
/// stops with that rank's message instead of hanging in the next collective.
///   int main(int argc, char** argv) {
///     jacnet::dist::Environment env(argc, argv);
///     return jacnet::dist::run_or_abort([&] { ... });
///   }
template <class F>
int run_or_abort(F&& f) {
  try {
    if constexpr (std::is_void_v<decltype(f())>) {
      f();
      return 0;
    } else {
      return static_cast<int>(f());
    }
  } catch (...) {
    detail::report_failure("failed, aborting all ranks", detail::current_exception_message());
    detail::abort_all(1);
  }
}

}  // namespace jacnet::dist
