// tests/dist/test_faults.cpp — faults and bad configurations on real processes.
//
// Without arguments (ctest "dist: faults npN"): ranks given different nets, losses, options or
// data are detected by train::fit at the start, with a DistError naming the ranks, on every rank.
// With a mode, it is the job that tests/dist/run_expect_failure.cmake and kill_rank.sh run and
// watch from outside:
//   throw     rank 1 throws inside dist::run_or_abort while the others wait in a collective:
//             the job must end non-zero with rank 1's message, not hang;
//   uncaught  the same with an exception escaping main (the Environment's terminate handler);
//   kill9 D   every rank writes its pid to D/rank<r>.pid and loops in allreduce until the script
//             kills rank 1 with SIGKILL: the job must end within seconds.
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "jacnet/losses/composition.hpp"
#include "jacnet/losses/cross_entropy.hpp"
#include "jacnet/losses/output_match.hpp"
#include "jacnet/nn/activation.hpp"
#include "jacnet/nn/dense.hpp"
#include "jacnet/nn/sequential.hpp"
#include "jacnet/train/fit.hpp"
#include "jacnet/train/random.hpp"
#include "jacnet/train/sgd.hpp"
#include "mpi_test.hpp"

using namespace jacnet;
using jacnet::test::dist_case;

namespace {

using MLP = nn::Sequential<nn::Dense<double>, nn::Tanh<double>, nn::Dense<double>>;

MLP mlp(Index H) {
  MLP net(Shape{4}, nn::Dense<double>(4, H), nn::Tanh<double>(), nn::Dense<double>(H, 3));
  net.init(1);
  return net;
}

struct Data {
  Matrix<double> X;
  std::vector<int> y;
};
Data data(std::uint64_t seed) {
  Data d;
  d.X.resize(30, 4);
  train::Random rng(seed);
  for (Index i = 0; i < d.X.rows(); ++i) {
    d.y.push_back(static_cast<int>(i % 3));
    for (Index j = 0; j < 4; ++j) d.X(i, j) = rng.normal();
  }
  return d;
}

template <class L>
void fit_expecting(const dist::Communicator& comm, MLP net, const L& loss, const Data& d,
                   train::FitOptions o, const std::string& what, const std::string& ranks) {
  train::SGD<double> opt({.lr = 0.1});
  o.progress.quiet = true;
  DIST_CHECK_THROWS_WITH(
      train::fit(net, loss, opt, train::Schedule::constant(0.1), d.X, d.y, o, comm),
      dist::DistError, "the ranks disagree on the " + what);
  DIST_CHECK_THROWS_WITH(
      train::fit(net, loss, opt, train::Schedule::constant(0.1), d.X, d.y, o, comm),
      dist::DistError, ranks);
}

int checks(const dist::Communicator& comm) {
  const int r = comm.rank(), P = comm.size();
  const std::string last = "rank " + std::to_string(P - 1) + " has";
  const train::FitOptions o{.epochs = 1, .batch_size = 10, .seed = 1};

  dist_case(comm, "a net of another width on the last rank is named", [&] {
    fit_expecting(comm, mlp(r == P - 1 ? 9 : 8), losses::CrossEntropy{}, data(1), o, "net", last);
  });
  dist_case(comm, "a loss with another weight on rank 0 is named", [&] {
    const double w = r == 0 ? 0.5 : 1.0;
    fit_expecting(comm, mlp(8), losses::CrossEntropy{} + w * losses::CrossEntropy{}, data(1), o,
                  "loss", "rank 0 has");
  });
  dist_case(comm, "another batch size on the last rank is named", [&] {
    train::FitOptions b = o;
    if (r == P - 1) b.batch_size = 12;
    fit_expecting(comm, mlp(8), losses::CrossEntropy{}, data(1), b,
                  "optimizer, schedule and fit options", last);
  });
  dist_case(comm, "other training data on rank 1 is named", [&] {
    fit_expecting(comm, mlp(8), losses::CrossEntropy{}, data(r == 1 ? 2 : 1), o, "training data",
                  "rank 1 has");
  });
  dist_case(comm, "equal configurations train (different initial parameters are overwritten)", [&] {
    MLP net = mlp(8);
    if (r > 0) net.params().setZero();
    train::SGD<double> opt({.lr = 0.1});
    train::FitOptions q = o;
    q.progress.quiet = true;
    const auto d = data(1);
    train::fit(net, losses::CrossEntropy{}, opt, train::Schedule::constant(0.1), d.X, d.y, q, comm);
    const auto all = comm.allgather<double>(std::vector<double>(
        net.param_vector().data(), net.param_vector().data() + net.num_params()));
    for (std::size_t i = 0; i < all.size(); ++i)
      DIST_CHECK(all[i] == all[i % std::size_t(net.num_params())], i);
  });
  return 0;
}

/// Rank 1 fails; the other ranks wait in a collective that rank 1 never joins.
void fail_on_rank_1(const dist::Communicator& comm) {
  std::vector<double> x(8, 1.0);
  comm.allreduce_sum(std::span<double>(x));  // everyone is up
  if (comm.rank() == 1) throw ValueError("jacnet: test: rank 1 fails on purpose");
  comm.barrier();  // would hang forever without the abort
}

}  // namespace

int main(int argc, char** argv) {
  dist::Environment env(argc, argv);
  dist::Communicator comm;
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode.empty()) return checks(comm);
  if (mode == "throw") return dist::run_or_abort([&] { fail_on_rank_1(comm); });
  if (mode == "uncaught") {
    fail_on_rank_1(comm);  // escapes main on rank 1: std::terminate → handler → MPI_Abort
    return 0;
  }
  if (mode == "kill9" && argc > 2) {
    const std::string path = std::string(argv[2]) + "/rank" + std::to_string(comm.rank()) + ".pid";
    {
      std::ofstream f(path + ".tmp");
      f << ::getpid() << "\n";
    }
    std::rename((path + ".tmp").c_str(), path.c_str());
    std::vector<double> x(1024, 1.0);
    for (;;) {  // until a rank is killed; the survivors must be ended by mpiexec
      comm.allreduce_sum(std::span<double>(x));
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  std::fprintf(stderr, "usage: %s [throw | uncaught | kill9 DIR]\n", argv[0]);
  return 2;
}
