#pragma once
// jacnet/dist/communicator.hpp — a thin C++ view of an MPI communicator (needs MPI: link
// jacnet::mpi, which also defines JACNET_HAS_MPI=1).
//
//   jacnet::dist::Environment env(argc, argv);      // environment.hpp: MPI_Init_thread/Finalize
//   jacnet::dist::Communicator comm;                 // MPI_COMM_WORLD, not owned
//   comm.broadcast(std::span(params.data(), n));     // from rank 0
//   comm.allreduce_sum(std::span(grad.data(), n));   // in place, one MPI_Allreduce
//   auto all = comm.allgather<double>(mine);         // rank order, equal counts
//   auto var = comm.allgatherv<double>(mine);        // rank order, any counts
//
// Errors: the communicator's error handler is set to MPI_ERRORS_RETURN, and every call that does
// not return MPI_SUCCESS throws dist::DistError naming the MPI call, this rank, the size and
// MPI's error string. Collectives must be called by every rank in the same order (MPI's rule);
// the size checks below run before the call on each rank, with the same outcome on every rank
// when the ranks agree on the sizes (allgather checks the counts collectively).
//
// Element types: arithmetic types with an MPI datatype (char, signed/unsigned 8..64-bit
// integers, float, double, long double, bool, std::byte). Counts above INT_MAX are sent in
// several calls (MPI's count is an int); below that each function is one MPI call (allgather and
// allgatherv add one small call for the counts).
#if !__has_include(<mpi.h>)
#error "jacnet/dist/communicator.hpp needs MPI (apt-get install libopenmpi-dev; link jacnet::mpi)"
#endif
// jacnet uses MPI's C API only: skip the deprecated C++ bindings (and their warnings).
#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1
#endif
#ifndef MPICH_SKIP_MPICXX
#define MPICH_SKIP_MPICXX 1
#endif
#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "jacnet/dist/error.hpp"

namespace jacnet::dist {

namespace detail {

/// The MPI datatype of T.
template <class T>
MPI_Datatype mpi_type() {
  using U = std::remove_cv_t<T>;
  if constexpr (std::is_same_v<U, float>)
    return MPI_FLOAT;
  else if constexpr (std::is_same_v<U, double>)
    return MPI_DOUBLE;
  else if constexpr (std::is_same_v<U, long double>)
    return MPI_LONG_DOUBLE;
  else if constexpr (std::is_same_v<U, bool>)
    return MPI_CXX_BOOL;
  else if constexpr (std::is_same_v<U, char>)
    return MPI_CHAR;
  else if constexpr (std::is_same_v<U, std::byte>)
    return MPI_BYTE;
  else if constexpr (std::is_integral_v<U> && std::is_signed_v<U> && sizeof(U) == 1)
    return MPI_INT8_T;
  else if constexpr (std::is_integral_v<U> && std::is_signed_v<U> && sizeof(U) == 2)
    return MPI_INT16_T;
  else if constexpr (std::is_integral_v<U> && std::is_signed_v<U> && sizeof(U) == 4)
    return MPI_INT32_T;
  else if constexpr (std::is_integral_v<U> && std::is_signed_v<U> && sizeof(U) == 8)
    return MPI_INT64_T;
  else if constexpr (std::is_integral_v<U> && std::is_unsigned_v<U> && sizeof(U) == 1)
    return MPI_UINT8_T;
  else if constexpr (std::is_integral_v<U> && std::is_unsigned_v<U> && sizeof(U) == 2)
    return MPI_UINT16_T;
  else if constexpr (std::is_integral_v<U> && std::is_unsigned_v<U> && sizeof(U) == 4)
    return MPI_UINT32_T;
  else if constexpr (std::is_integral_v<U> && std::is_unsigned_v<U> && sizeof(U) == 8)
    return MPI_UINT64_T;
  else
    static_assert(sizeof(U) == 0, "jacnet::dist: no MPI datatype for this element type");
}

/// MPI's text for an error code ("MPI_ERR_COMM: invalid communicator").
inline std::string mpi_error_string(int code) {
  char buf[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(code, buf, &len) != MPI_SUCCESS) return "MPI error " + std::to_string(code);
  return std::string(buf, static_cast<std::size_t>(len));
}

/// Rank in MPI_COMM_WORLD (-1 if MPI is not running); for messages only.
inline int world_rank() {
  int init = 0, fin = 0, r = -1;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  if (init && !fin) MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

}  // namespace detail

/// Throws DistError "jacnet: <call> on rank r of P: <MPI's error string>" unless code is
/// MPI_SUCCESS. rank/size -1 mean unknown (e.g. before MPI_Init).
inline void check_mpi(int code, const char* call, int rank, int size) {
  if (code == MPI_SUCCESS) return;
  std::ostringstream os;
  os << "jacnet: " << call << " failed on rank " << rank;
  if (size > 0) os << " of " << size;
  os << ": " << detail::mpi_error_string(code);
  throw DistError(os.str());
}

class Communicator {
 public:
  /// MPI_COMM_WORLD (not owned). MPI must be initialized (dist::Environment).
  Communicator() : Communicator(MPI_COMM_WORLD, false) {}

  /// A view of `comm`; with owned = true it is freed (MPI_Comm_free) by the destructor.
  Communicator(MPI_Comm comm, bool owned) : comm_(comm), owned_(owned) {
    int init = 0;
    MPI_Initialized(&init);
    if (!init)
      throw DistError(
          "jacnet: dist::Communicator: MPI is not initialized (create a "
          "jacnet::dist::Environment first)");
    int fin = 0;
    MPI_Finalized(&fin);
    if (fin) throw DistError("jacnet: dist::Communicator: MPI is already finalized");
    check_mpi(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank", detail::world_rank(), -1);
    check_mpi(MPI_Comm_size(comm_, &size_), "MPI_Comm_size", rank_, -1);
    check_mpi(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler", rank_,
              size_);
  }

  /// An owned duplicate of `other` (MPI_Comm_dup: same ranks, separate message space).
  static Communicator duplicate(const Communicator& other) {
    MPI_Comm c;
    other.check(MPI_Comm_dup(other.comm_, &c), "MPI_Comm_dup");
    return Communicator(c, true);
  }

  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;
  Communicator(Communicator&& o) noexcept
      : comm_(o.comm_), owned_(o.owned_), rank_(o.rank_), size_(o.size_) {
    o.owned_ = false;
  }
  Communicator& operator=(Communicator&& o) noexcept {
    if (this != &o) {
      release();
      comm_ = o.comm_;
      owned_ = o.owned_;
      rank_ = o.rank_;
      size_ = o.size_;
      o.owned_ = false;
    }
    return *this;
  }
  ~Communicator() { release(); }

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool is_root() const { return rank_ == 0; }
  MPI_Comm native() const { return comm_; }

  void barrier() const { check(MPI_Barrier(comm_), "MPI_Barrier"); }

  /// buf ← root's buf on every rank (all ranks pass the same size).
  template <class T>
  void broadcast(std::span<T> buf, int root = 0) const {
    static_assert(!std::is_const_v<T>, "jacnet::dist::broadcast writes into the buffer");
    check_root(root, "MPI_Bcast");
    for_chunks(buf.size(), [&](std::size_t off, int n) {
      check(MPI_Bcast(buf.data() + off, n, detail::mpi_type<T>(), root, comm_), "MPI_Bcast");
    });
  }

  /// buf ← Σ_ranks buf, in place (MPI_IN_PLACE), the same bits on every rank.
  template <class T>
  void allreduce_sum(std::span<T> buf) const {
    allreduce(buf, MPI_SUM, "MPI_Allreduce(MPI_SUM)");
  }
  /// buf ← elementwise max over ranks, in place.
  template <class T>
  void allreduce_max(std::span<T> buf) const {
    allreduce(buf, MPI_MAX, "MPI_Allreduce(MPI_MAX)");
  }
  /// buf ← elementwise min over ranks, in place.
  template <class T>
  void allreduce_min(std::span<T> buf) const {
    allreduce(buf, MPI_MIN, "MPI_Allreduce(MPI_MIN)");
  }

  /// Every rank's `mine` concatenated in rank order. All ranks must pass the same count
  /// (checked: a DistError names the ranks whose counts differ, on every rank).
  template <class T>
  std::vector<T> allgather(std::span<const T> mine) const {
    const std::vector<long long> counts = gather_counts(mine.size(), "MPI_Allgather");
    for (int r = 1; r < size_; ++r)
      if (counts[static_cast<std::size_t>(r)] != counts[0]) {
        std::ostringstream os;
        os << "jacnet: dist::Communicator::allgather on rank " << rank_ << " of " << size_
           << ": counts differ (rank 0 has " << counts[0] << ", rank " << r << " has "
           << counts[static_cast<std::size_t>(r)] << "); use allgatherv";
        throw DistError(os.str());
      }
    std::vector<T> all(mine.size() * static_cast<std::size_t>(size_));
    if (mine.size() <= static_cast<std::size_t>(INT_MAX)) {
      check(MPI_Allgather(mine.data(), static_cast<int>(mine.size()), detail::mpi_type<T>(),
                          all.data(), static_cast<int>(mine.size()), detail::mpi_type<T>(), comm_),
            "MPI_Allgather");
    } else {
      gatherv_chunked(mine, counts, all);
    }
    return all;
  }

  /// Every rank's `mine` concatenated in rank order; counts may differ between ranks.
  template <class T>
  std::vector<T> allgatherv(std::span<const T> mine) const {
    const std::vector<long long> counts = gather_counts(mine.size(), "MPI_Allgatherv");
    long long total = 0;
    for (long long c : counts) total += c;
    std::vector<T> all(static_cast<std::size_t>(total));
    if (total <= INT_MAX) {
      std::vector<int> cnt(static_cast<std::size_t>(size_)), disp(static_cast<std::size_t>(size_));
      int off = 0;
      for (int r = 0; r < size_; ++r) {
        cnt[static_cast<std::size_t>(r)] = static_cast<int>(counts[static_cast<std::size_t>(r)]);
        disp[static_cast<std::size_t>(r)] = off;
        off += cnt[static_cast<std::size_t>(r)];
      }
      check(MPI_Allgatherv(mine.data(), static_cast<int>(mine.size()), detail::mpi_type<T>(),
                           all.data(), cnt.data(), disp.data(), detail::mpi_type<T>(), comm_),
            "MPI_Allgatherv");
    } else {
      gatherv_chunked(mine, counts, all);
    }
    return all;
  }

  /// Ends every process of the communicator (MPI_Abort) with exit code `code`.
  [[noreturn]] void abort(int code) const {
    MPI_Abort(comm_, code);
    std::_Exit(code);  // MPI_Abort does not return; this is for the compiler
  }

  /// Throws DistError naming `call` and this rank unless code == MPI_SUCCESS.
  void check(int code, const char* call) const { check_mpi(code, call, rank_, size_); }

 private:
  void release() noexcept {
    if (owned_) {
      int fin = 0;
      MPI_Finalized(&fin);
      if (!fin) MPI_Comm_free(&comm_);
      owned_ = false;
    }
  }

  void check_root(int root, const char* call) const {
    if (root < 0 || root >= size_) {
      std::ostringstream os;
      os << "jacnet: " << call << " on rank " << rank_ << " of " << size_ << ": root " << root
         << " is not a rank of the communicator";
      throw DistError(os.str());
    }
  }

  /// f(offset, count) over [0, n) in pieces of at most INT_MAX elements (one piece if n fits).
  template <class F>
  static void for_chunks(std::size_t n, F&& f) {
    constexpr std::size_t max = static_cast<std::size_t>(INT_MAX);
    if (n == 0) return;
    for (std::size_t off = 0; off < n; off += max) f(off, static_cast<int>(std::min(max, n - off)));
  }

  template <class T>
  void allreduce(std::span<T> buf, MPI_Op op, const char* call) const {
    static_assert(!std::is_const_v<T>, "jacnet::dist::allreduce writes into the buffer");
    for_chunks(buf.size(), [&](std::size_t off, int n) {
      check(MPI_Allreduce(MPI_IN_PLACE, buf.data() + off, n, detail::mpi_type<T>(), op, comm_),
            call);
    });
  }

  std::vector<long long> gather_counts(std::size_t mine, const char* call) const {
    std::vector<long long> counts(static_cast<std::size_t>(size_));
    const long long c = static_cast<long long>(mine);
    check(MPI_Allgather(&c, 1, MPI_LONG_LONG, counts.data(), 1, MPI_LONG_LONG, comm_), call);
    return counts;
  }

  /// Allgatherv of more than INT_MAX elements in total: one broadcast per rank and chunk.
  template <class T>
  void gatherv_chunked(std::span<const T> mine, const std::vector<long long>& counts,
                       std::vector<T>& all) const {
    std::size_t off = 0;
    for (int r = 0; r < size_; ++r) {
      const auto n = static_cast<std::size_t>(counts[static_cast<std::size_t>(r)]);
      if (r == rank_)
        std::copy(mine.begin(), mine.end(), all.begin() + static_cast<std::ptrdiff_t>(off));
      broadcast(std::span<T>(all.data() + off, n), r);
      off += n;
    }
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  bool owned_ = false;
  int rank_ = -1;
  int size_ = 0;
};

}  // namespace jacnet::dist
