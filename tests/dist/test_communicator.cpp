// tests/dist/test_communicator.cpp — dist::Communicator on real processes (mpiexec -n 2, -n 3):
// rank/size, broadcast, allreduce, allgather(v), errors as DistError naming call and rank,
// check_same naming the ranks that differ.
#include <cstdint>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include "mpi_test.hpp"

using namespace jacnet;
using jacnet::test::dist_case;

int main(int argc, char** argv) {
  dist::Environment env(argc, argv);
  dist::Communicator comm;
  const int r = comm.rank(), P = comm.size();

  dist_case(comm, "rank and size agree with MPI", [&] {
    int mr = -1, ms = -1;
    MPI_Comm_rank(MPI_COMM_WORLD, &mr);
    MPI_Comm_size(MPI_COMM_WORLD, &ms);
    DIST_CHECK(r == mr && P == ms, r, " ", P);
    DIST_CHECK(P >= 2, "run me with mpiexec -n 2 or more");
    DIST_CHECK(comm.is_root() == (r == 0));
    DIST_CHECK(env.thread_support() >= MPI_THREAD_FUNNELED);
  });

  dist_case(comm, "broadcast from rank 0 and from the last rank", [&] {
    std::vector<double> v(1000, double(r));
    comm.broadcast(std::span<double>(v));
    for (double x : v) DIST_CHECK(x == 0.0, x);
    std::vector<std::int64_t> w(7, r * 10);
    comm.broadcast(std::span<std::int64_t>(w), P - 1);
    for (auto x : w) DIST_CHECK(x == (P - 1) * 10, x);
  });

  dist_case(comm, "allreduce_sum/max/min in place", [&] {
    // Values exact in float: the sum is exact and the same on every rank.
    std::vector<float> f(4097);
    for (std::size_t i = 0; i < f.size(); ++i) f[i] = float(r + 1) * float(i % 13);
    comm.allreduce_sum(std::span<float>(f));
    const float s = float(P * (P + 1) / 2);
    for (std::size_t i = 0; i < f.size(); ++i) DIST_CHECK(f[i] == s * float(i % 13), i, " ", f[i]);
    std::vector<std::int64_t> m{r, -r};
    comm.allreduce_max(std::span<std::int64_t>(m));
    DIST_CHECK(m[0] == P - 1 && m[1] == 0);
    comm.allreduce_min(std::span<std::int64_t>(m));  // already equal on all ranks
    DIST_CHECK(m[0] == P - 1 && m[1] == 0);
    // The same bits on every rank for non-exact sums (rounding differs per element otherwise).
    std::vector<double> d(513);
    for (std::size_t i = 0; i < d.size(); ++i) d[i] = 1.0 / double(3 + r + i);
    comm.allreduce_sum(std::span<double>(d));
    const auto all = comm.allgather<double>(d);
    for (int q = 1; q < P; ++q)
      for (std::size_t i = 0; i < d.size(); ++i)
        DIST_CHECK(all[q * d.size() + i] == all[i], "rank ", q, " entry ", i);
  });

  dist_case(comm, "allgather in rank order; allgatherv with different counts", [&] {
    const std::vector<int> mine{r, r * r};
    const auto all = comm.allgather<int>(mine);
    DIST_CHECK(all.size() == std::size_t(2 * P));
    for (int q = 0; q < P; ++q) DIST_CHECK(all[2 * q] == q && all[2 * q + 1] == q * q, q);
    std::vector<int> var(std::size_t(r), r);  // rank r sends r copies of r (rank 0: none)
    const auto v = comm.allgatherv<int>(var);
    std::vector<int> expect;
    for (int q = 0; q < P; ++q) expect.insert(expect.end(), std::size_t(q), q);
    DIST_CHECK(v == expect);
    DIST_CHECK_THROWS_WITH(comm.allgather<int>(var), dist::DistError, "counts differ");
  });

  dist_case(comm, "MPI errors become DistError naming the call and the rank", [&] {
    std::vector<int> v(3);
    DIST_CHECK_THROWS_WITH(comm.broadcast(std::span<int>(v), P), dist::DistError,
                           "MPI_Bcast on rank " + std::to_string(r) + " of " + std::to_string(P));
    // A real MPI error code: a communicator view of MPI_COMM_NULL (errors on it go to
    // MPI_COMM_WORLD's handler, which the Environment set to MPI_ERRORS_RETURN).
    DIST_CHECK_THROWS_WITH(dist::Communicator(MPI_COMM_NULL, false), dist::DistError,
                           "MPI_Comm_rank failed on rank " + std::to_string(r));
    try {
      dist::check_mpi(MPI_ERR_TRUNCATE, "MPI_Recv", r, P);
      DIST_CHECK(false, "check_mpi did not throw");
    } catch (const dist::DistError& e) {
      const std::string w = e.what();
      DIST_CHECK(w.find("MPI_Recv failed on rank " + std::to_string(r)) != std::string::npos &&
                     w.find("truncat") != std::string::npos,
                 w);
    }
  });

  dist_case(comm, "duplicate gives an owned communicator with the same ranks", [&] {
    dist::Communicator d = dist::Communicator::duplicate(comm);
    DIST_CHECK(d.rank() == r && d.size() == P);
    std::vector<int> x{1};
    d.allreduce_sum(std::span<int>(x));
    DIST_CHECK(x[0] == P);
  });

  dist_case(comm, "check_same passes equal hashes and names the ranks that differ", [&] {
    dist::check_same(comm, "net", 42);
    // Rank 1 differs from all others.
    const std::uint64_t h = r == 1 ? 7 : 42;
    const std::string expect = P == 2 ? "rank 0 has 2a" : "ranks 0,2 have 2a";
    DIST_CHECK_THROWS_WITH(dist::check_same(comm, "net", h), dist::DistError, expect);
    DIST_CHECK_THROWS_WITH(dist::check_same(comm, "net", h), dist::DistError, "rank 1 has 7");
    DIST_CHECK_THROWS_WITH(dist::check_same(comm, "net", h), dist::DistError,
                           "disagree on the net");
  });

  dist_case(comm, "SerialCommunicator: rank 0 of 1, identity operations", [&] {
    dist::SerialCommunicator s;
    std::vector<double> v{1.5, 2.5};
    s.allreduce_sum(std::span<double>(v));
    s.broadcast(std::span<double>(v));
    DIST_CHECK(v[0] == 1.5 && v[1] == 2.5 && s.rank() == 0 && s.size() == 1 && s.is_root());
    DIST_CHECK(s.allgather<double>(v) == v && s.allgatherv<double>(v) == v);
    static_assert(dist::CommunicatorLike<dist::SerialCommunicator>);
    static_assert(dist::CommunicatorLike<dist::Communicator>);
  });
  return 0;
}
