#pragma once
// jacnet/ad/tape.hpp — the thread-local tape of reverse-mode AD (Adept's statement/operand design).
//
// A program y = f(x) is recorded statement by statement. A statement w_s = g(w_a, w_b, ...) with
// any number of operands is stored ONCE, as its operand list {(a, ∂g/∂w_a), (b, ∂g/∂w_b), ...}
// (indices and partials in two flat growable arrays) and the end offset of that list; statement s
// is also the index of its result w_s (every statement creates a fresh index, so indices are never
// reused while recorded). The reverse sweep runs the statements backwards and scatters
//     w̄_a += ∂g/∂w_a · w̄_s        for every operand (a, ∂g/∂w_a) of statement s,
// so after seeding ȳ the inputs hold x̄ = (∂y/∂x)ᵀ ȳ. No heap node per operation: the arrays grow
// geometrically and keep their memory when the tape is rewound.
//
// One tape per thread and scalar type: `Tape<T>::active()`. Statement 0 is a sink owned by
// constants (Var's default value): they push their partials into it and it has no operands.
//
// Validity (checked in release and debug builds alike, a few integer compares per operand): every
// tape has an id and a generation counter that a rewind past recorded statements increments; a
// Var carries the tag (id, generation) current when it was recorded. A Var is usable iff it comes
// from this thread's tape and no rewind since its generation went at or below its index
// (suffix minima of rewind positions over generations, kept as a small monotone stack). Misuse
// throws jacnet::TapeError naming the index, the generation and the rewind position.
//
// Storage: the growable arrays of statements and operands are in jacnet/ad/tape_buffers.hpp.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <type_traits>
#include <vector>

#include "jacnet/ad/tape_buffers.hpp"
#include "jacnet/core/error.hpp"

namespace jacnet {

template <class T, int N>
struct Dual;

/// Index of a statement (and of the value it defines) on a tape.
using TapeIndex = std::uint32_t;

namespace detail {

/// Process-wide source of tape ids (24 bits, never 0). Only ids are drawn here; no tape state is
/// shared between threads.
inline std::uint32_t next_tape_id() {
  static std::atomic<std::uint32_t> counter{0};
  std::uint32_t id;
  do {
    id = (counter.fetch_add(1, std::memory_order_relaxed) + 1) & 0xFFFFFFu;
  } while (id == 0);
  return id;
}

/// Scalars a tape can hold as values, partials and adjoints: float, double, and Dual<float or
/// double, N> (reverse over forward: Var<Dual<double, K>> records partials that carry K
/// directional derivatives, so one sweep gives the gradient and K Hessian-vector products).
template <class T>
struct is_tape_scalar : std::is_floating_point<T> {};
template <class T, int N>
struct is_tape_scalar<Dual<T, N>> : std::is_floating_point<T> {};
template <class T>
inline constexpr bool is_tape_scalar_v = is_tape_scalar<T>::value;

/// An adjoint that is exactly zero (value and every tangent): its statement adds nothing.
template <class T>
[[gnu::always_inline]] inline bool adjoint_is_zero(const T& a) {
  if constexpr (std::is_floating_point_v<T>)
    return a == T(0);
  else
    return a.is_zero();
}

}  // namespace detail

/// The thread-local reverse-mode tape for scalar type T (float, double or Dual<float/double, N>).
/// See the file comment.
template <class T>
class Tape {
  static_assert(detail::is_tape_scalar_v<T>,
                "jacnet::Tape<T>: T must be float, double or Dual<float or double, N> (see the "
                "note at jacnet::Var for what nests)");

 public:
  using Index = TapeIndex;
  static constexpr int kGenBits = 40;
  static constexpr std::uint64_t kGenMask = (std::uint64_t{1} << kGenBits) - 1;
  static constexpr std::size_t kMaxIndex = std::numeric_limits<Index>::max();

  /// A position on the tape: statements and operands recorded so far, and the generation tag.
  struct Mark {
    Index statements = 0;
    Index operands = 0;
    std::uint64_t tag = 0;
  };

  /// This thread's tape for T (created on first use, destroyed when the thread ends). The fast
  /// path reads one constant-initialized thread_local pointer (no initialization guard).
  static Tape& active() {
    if (Tape* t = current_) [[likely]]
      return *t;
    return create();
  }

  Tape(const Tape&) = delete;
  Tape& operator=(const Tape&) = delete;
  ~Tape() {
    if (current_ == this) current_ = nullptr;
  }

  // ---------------------------------------------------------------- positions
  /// Number of statements (= indices) on the tape, including the constant sink at index 0.
  Index size() const { return static_cast<Index>(ends_.size()); }
  /// Number of (index, partial) operand entries recorded.
  Index num_operands() const { return static_cast<Index>(ops_.size()); }
  /// The current position, to come back to with rewind().
  Mark mark() const { return Mark{size(), num_operands(), tag_}; }

  /// Drop every statement recorded after `m` (memory is kept for reuse). Vars recorded after the
  /// mark become invalid; using them throws TapeError. Throws if `m` is from another tape or was
  /// itself rewound away.
  void rewind(const Mark& m) {
    check_mark(m, "Tape::rewind");
    JACNET_CHECK(m.statements <= size() && ends_[m.statements - 1] == m.operands, TapeError,
                 "Tape::rewind", "the mark (statement ", m.statements, ", operand ", m.operands,
                 ") does not match the tape (", size(), " statements)");
    if (m.statements == size()) return;  // nothing recorded since: every Var stays valid
    cut(m.statements);
    ends_.resize_unchecked(m.statements);
    ops_.resize_unchecked(m.operands);
    if (adj_.size() > m.statements) adj_.resize(m.statements);
    keep_slots();
  }
  /// Rewind to the empty tape (only the constant sink stays); memory is kept.
  void clear() { rewind(Mark{1, 0, first_tag()}); }

  /// Pre-allocate room for `statements` statements and `operands` operand entries.
  void reserve(std::size_t statements, std::size_t operands) {
    ends_.reserve(statements, kMaxIndex, "statements");
    ops_.reserve(operands, kMaxIndex);
    keep_slots();
  }
  /// Statement and operand entries the tape can hold without allocating (capacity, not size).
  std::size_t statement_capacity() const { return ends_.capacity(); }
  std::size_t operand_capacity() const { return ops_.capacity(); }
  /// Bytes held by the tape's arrays (capacity, not size).
  std::size_t memory_bytes() const {
    return ends_.capacity() * sizeof(Index) + ops_.capacity() * (sizeof(Index) + sizeof(T)) +
           adj_.capacity() * sizeof(T) + cuts_.capacity() * sizeof(Cut);
  }

  // ---------------------------------------------------------------- adjoints
  /// Set every adjoint to zero (call before seeding a new sweep).
  void clear_adjoints() { adj_.assign(size(), T(0)); }
  /// Set the adjoints of the statements recorded after `from` to zero (cheaper than
  /// clear_adjoints() when only a recent part of the tape is swept again).
  void clear_adjoints(const Mark& from) {
    check_mark(from, "Tape::clear_adjoints");
    const std::size_t old = std::min<std::size_t>(adj_.size(), size());
    if (adj_.size() < size()) adj_.resize(size(), T(0));  // new entries are zero already
    if (old > from.statements) std::fill(adj_.begin() + from.statements, adj_.begin() + old, T(0));
  }
  /// Adjoint of index i (0 when no sweep touched it).
  T adjoint(Index i) const {
    JACNET_CHECK(i < size(), TapeError, "Tape::adjoint", "index ", i, " is not on the tape (",
                 size(), " statements)");
    return (i == 0 || i >= adj_.size()) ? T(0) : adj_[i];
  }
  void set_adjoint(Index i, T a) {
    JACNET_CHECK(i < size(), TapeError, "Tape::set_adjoint", "index ", i, " is not on the tape (",
                 size(), " statements)");
    if (adj_.size() < size()) adj_.resize(size(), T(0));
    adj_[i] = a;
  }
  void add_adjoint(Index i, T a) {
    JACNET_CHECK(i < size(), TapeError, "Tape::add_adjoint", "index ", i, " is not on the tape (",
                 size(), " statements)");
    if (adj_.size() < size()) adj_.resize(size(), T(0));
    adj_[i] += a;
  }
  /// Reverse sweep over every statement: w̄_a += ∂w_s/∂w_a · w̄_s, last statement first.
  void reverse() { reverse_range(1); }
  /// Reverse sweep over the statements recorded after `stop` only (inputs recorded before the
  /// mark receive their adjoints; statements before it are not swept).
  void reverse(const Mark& stop) {
    check_mark(stop, "Tape::reverse");
    reverse_range(std::max<Index>(stop.statements, 1));
  }
  /// Vector reverse sweep over the statements recorded after `stop`, with `lanes` adjoints per
  /// index in the caller's buffer `adj`: adj[(i − stop.statements)·lanes + l] is lane l of index
  /// i ≥ stop.statements (the buffer holds (size() − stop.statements)·lanes scalars, seeded by the
  /// caller). One sweep carries `lanes` output seeds; contributions to indices recorded before
  /// `stop` are dropped (they are not part of this buffer). Used by jacrev.
  void reverse_lanes(T* adj, std::size_t lanes, const Mark& stop) const {
    check_mark(stop, "Tape::reverse_lanes");
    const Index base = stop.statements;
    const Index* ends = ends_.data();
    const Index* idx = ops_.index();
    const T* par = ops_.partial();
    for (Index s = size(); s-- > std::max<Index>(base, 1);) {
      const T* as = adj + std::size_t(s - base) * lanes;
      bool any = false;
      for (std::size_t l = 0; l < lanes; ++l) any |= !detail::adjoint_is_zero(as[l]);
      if (!any) continue;
      for (Index k = ends[s - 1], e = ends[s]; k < e; ++k) {
        const Index i = idx[k];
        if (i < base) continue;
        const T p = par[k];
        T* ai = adj + std::size_t(i - base) * lanes;
        for (std::size_t l = 0; l < lanes; ++l) ai[l] += p * as[l];
      }
    }
  }

  // ---------------------------------------------------------------- low level (used by Var)
  /// Tag (tape id, generation) carried by Vars recorded now.
  std::uint64_t tag() const { return tag_; }
  std::uint32_t id() const { return id_; }
  std::uint64_t generation() const { return tag_ & kGenMask; }

  /// Throws TapeError unless a Var with `tag` and index `i` is valid on this tape now.
  void check(std::uint64_t tag, Index i, const char* where = "Var") const {
    if (tag == tag_) [[likely]]
      return;
    if ((tag >> kGenBits) == id_ && i < floor_) return;
    check_slow(tag, i, where);
  }

  /// Writes the operands of one statement. Obtained from begin_statement(n), it must receive
  /// exactly n push() calls before end_statement(n).
  struct Recorder {
    const Tape* tape;
    Index* index;
    T* partial;
    void push(std::uint64_t tag, Index i, T d) {
      tape->check(tag, i);
      *index++ = i;
      *partial++ = d;
    }
  };
  /// Room for one statement with n operands. One capacity check: the tape keeps at least as
  /// many free statement slots as free operand slots (after every statement, new variable,
  /// rewind and reserve), so n ≥ 1 free operands imply a free slot.
  Recorder begin_statement(std::size_t n) {
    if (n == 0 || ops_.size() + n > ops_.capacity()) [[unlikely]]
      grow_for(n);
    return Recorder{this, ops_.index() + ops_.size(), ops_.partial() + ops_.size()};
  }
  /// Commits a statement with n operands and returns its index.
  Index end_statement(std::size_t n) {
    const std::size_t ops = ops_.size() + n;
    ops_.resize_unchecked(ops);
    const Index s = size();
    ends_.push_unchecked(static_cast<Index>(ops));
    return s;
  }
  /// A new independent variable (a statement without operands); returns its index.
  Index new_variable() {
    if (ends_.size() + 1 + (ops_.capacity() - ops_.size()) > ends_.capacity()) [[unlikely]]
      grow_for(0);
    const Index s = size();
    ends_.push_unchecked(num_operands());
    return s;
  }
  /// n new independent variables (consecutive indices); returns the first index.
  Index new_variables(std::size_t n) {
    if (ends_.size() + n + (ops_.capacity() - ops_.size()) > ends_.capacity()) [[unlikely]]
      grow_statements(n);
    const Index s = size();
    const Index ops = num_operands();
    for (std::size_t i = 0; i < n; ++i) ends_.push_unchecked(ops);
    return s;
  }
  /// Read-only view of statement s's operands (for tests and debugging).
  std::pair<Index, Index> operand_range(Index s) const {
    JACNET_CHECK(s < size(), TapeError, "Tape::operand_range", "statement ", s,
                 " is not on the tape (", size(), " statements)");
    return {s == 0 ? 0 : ends_[s - 1], ends_[s]};
  }
  Index operand_index(Index k) const { return ops_.index()[k]; }
  T operand_partial(Index k) const { return ops_.partial()[k]; }

 private:
  struct Cut {
    std::uint64_t gen_lo;  // first generation this entry covers
    Index min_pos;         // min position of the rewinds after any generation it covers
  };

  Tape() : id_(detail::next_tape_id()) {
    tag_ = first_tag();
    ends_.ensure(1, kMaxIndex, "statements");
    ends_.push_unchecked(0);  // statement 0: the constant sink, no operands
  }
  std::uint64_t first_tag() const { return std::uint64_t{id_} << kGenBits; }
  // Invariant: free statement slots >= free operand slots (see begin_statement). A statement with
  // n >= 1 operands keeps it (one slot and n operands less); new variables and rewinds re-establish
  // it here, with one slot to spare.
  void keep_slots() {
    const std::size_t free_ops = ops_.capacity() - ops_.size();
    if (ends_.capacity() - ends_.size() <= free_ops)
      ends_.reserve(ends_.size() + free_ops + 1, kMaxIndex + 1, "statements");
  }
  [[gnu::noinline]] void grow_for(std::size_t n) {
    ops_.ensure(n, kMaxIndex);
    ends_.ensure(1, kMaxIndex + 1, "statements");
    keep_slots();
  }
  // Room for n new variables (statements without operands) and, after them, still as many free
  // statement slots as free operand slots. (Growing to size + n first and checking the invariant
  // before the n pushes left it broken after them whenever free operand slots were left over from
  // an earlier recording, e.g. after clear(): the next statement then wrote past the end.)
  [[gnu::noinline]] void grow_statements(std::size_t n) {
    const std::size_t free_ops = ops_.capacity() - ops_.size();
    ends_.reserve(ends_.size() + n + free_ops + 1, kMaxIndex + 1, "statements");
  }
  [[gnu::noinline]] static Tape& create() {
    thread_local std::unique_ptr<Tape> owner;  // destroys this thread's tape at thread exit
    owner.reset(new Tape());
    current_ = owner.get();
    return *current_;
  }
  static inline thread_local Tape* current_ = nullptr;
  void check_mark(const Mark& m, const char* where) const {
    JACNET_CHECK(m.statements >= 1 && (m.tag >> kGenBits) == id_, TapeError, where,
                 "the mark is from another tape (marks and Vars must not cross threads)");
    check(m.tag, m.statements - 1, where);
  }

  void reverse_range(Index stop) {
    if (adj_.size() < size()) adj_.resize(size(), T(0));
    T* adj = adj_.data();
    const Index* ends = ends_.data();
    const Index* idx = ops_.index();
    const T* par = ops_.partial();
    // One pass backwards over the operand entries; each statement's start is the previous one's
    // end (one load of ends per statement).
    Index e = ends[size() - 1];
    for (Index s = size(); s-- > stop;) {
      const Index b = ends[s - 1];
      const T a = adj[s];
      if (!detail::adjoint_is_zero(a))
        for (Index k = b; k < e; ++k) adj[idx[k]] += par[k] * a;
      e = b;
    }
  }

  // Rewind to position p (< size): every generation up to the current one now has suffix minimum
  // min(S, p); a new generation starts.
  void cut(Index p) {
    const std::uint64_t gen = tag_ & kGenMask;
    JACNET_CHECK(gen < kGenMask, TapeError, "Tape::rewind", "generation counter exhausted after ",
                 gen, " rewinds");
    std::uint64_t lo = gen;
    while (!cuts_.empty() && cuts_.back().min_pos >= p) {
      lo = cuts_.back().gen_lo;
      cuts_.pop_back();
    }
    cuts_.push_back(Cut{lo, p});
    floor_ = std::min(floor_, p);
    tag_ += 1;
  }

  [[gnu::noinline, gnu::cold]] void check_slow(std::uint64_t tag, Index i,
                                               const char* where) const {
    if (tag == 0) {
      JACNET_CHECK(i == 0, TapeError, where, "corrupt constant Var (index ", i, ")");
      return;  // a constant: valid everywhere
    }
    const std::uint32_t id = static_cast<std::uint32_t>(tag >> kGenBits);
    const std::uint64_t gen = tag & kGenMask;
    JACNET_CHECK(id == id_ && gen <= (tag_ & kGenMask), TapeError, where, "the Var (index ", i,
                 ") was recorded on another tape (tape id ", id, ", this thread's tape is ", id_,
                 "): tapes are thread-local, a Var must not cross threads or outlive its thread");
    if (gen == (tag_ & kGenMask)) return;
    // cuts_ covers generations [0, current): find the entry covering gen.
    auto it = std::upper_bound(cuts_.begin(), cuts_.end(), gen,
                               [](std::uint64_t g, const Cut& c) { return g < c.gen_lo; });
    const Index min_pos = std::prev(it)->min_pos;
    JACNET_CHECK(i < min_pos, TapeError, where, "the Var (index ", i, ", generation ", gen,
                 ") was rewound away: the tape was later rewound to position ", min_pos,
                 " (now at generation ", (tag_ & kGenMask), ", ", size(), " statements)");
  }

  std::uint32_t id_;
  std::uint64_t tag_ = 0;
  Index floor_ = std::numeric_limits<Index>::max();  // lowest rewind position ever
  detail::FlatBuffer<Index> ends_;                   // ends_[s]: end of statement s's operands
  detail::OperandBuffer<T, Index> ops_;
  std::vector<T> adj_;
  std::vector<Cut> cuts_;
};

/// Rewinds the active tape to the position it had at construction when it goes out of scope.
template <class T>
class TapeScope {
 public:
  TapeScope() : tape_(Tape<T>::active()), mark_(tape_.mark()) {}
  TapeScope(const TapeScope&) = delete;
  TapeScope& operator=(const TapeScope&) = delete;
  ~TapeScope() {
    try {
      tape_.rewind(mark_);
    } catch (const TapeError&) {
      // The mark was rewound away by the code inside the scope; the tape is already below it.
    }
  }
  Tape<T>& tape() const { return tape_; }
  const typename Tape<T>::Mark& mark() const { return mark_; }

 private:
  Tape<T>& tape_;
  typename Tape<T>::Mark mark_;
};

}  // namespace jacnet
