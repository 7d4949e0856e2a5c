#pragma once
// jacnet/ad/gradient_sweep.hpp — the recorded program of jacnet::ad::Recorded scheduled for its
// gradient: ad::detail::GradientSweep<T>, built once per recording, run by Recorded::gradient().
//
// A replay that interprets one instruction at a time pays a hard-to-predict indirect branch per
// instruction (the operation changes from one to the next), and that dispatch, not the
// arithmetic, was most of the replay's cost. So the instructions are reordered once, when the
// recording is made, into RUNS of one kernel each — a kernel is an operation specialised by
// operand kind (AddVV, MulVC, SubCV, x·x, ..., one kernel per other operation: exp, tanh, ...) —
// and each run is a plain loop: one dispatch per run instead of one per instruction.
//
// Schedule (jacnet/ad/gradient_schedule.hpp): a greedy list schedule groups the instructions into
// runs of one kernel; Rosenbrock's running sum s_k = s_{k−1} + q_k becomes one run of N
// additions. Such a chain of at least 8 additions, each taking the previous one's result, runs as
// kernel AddChain: the running value (forward) and the adjoint handed down the chain (reverse)
// stay in a register instead of going through a store and a load per addition, the latency that
// bounds a reduction. Slots are renumbered in the new order: a run writes its values (and reads
// its adjoints) contiguously; only operands are gathered.
//
// Contiguous segments (find_segments): stretches of ≥ 8 positions of a run whose operands are
// consecutive slots recorded before the stretch run as plain loops over contiguous arrays (the
// compiler vectorizes them) instead of gathers and scatters; the reverse loops keep "a zero
// adjoint adds nothing" with a select.
//
// Folding (fold_scaled): a product by a constant used once, by an addition, subtraction or
// product, is computed where it is used (t = c·x; y = a ± t → y = a ± c·x, y = a·t → a·(c·x);
// kernels AddVsV, SubVsV, MulVsV).
//
// Storage per instruction: two operand slots (uint32); constants of …VC/…CV kernels and the
// two local partials of the other operations in compact per-kernel arrays. The partials of
// + − × ÷, negation and x·x are not stored: the reverse sweep recomputes them from the values
// (bitwise what the forward rules give: the same expressions). Comparisons keep their operands
// and are re-checked during the forward loop, in their scheduled place (an error still names the
// comparison by its recorded number).
//
// Numbers: every value and every local partial is the same expression as in the per-instruction
// replay (Dual<T, 2> rules for the other operations); only the order in which an operand's
// adjoint contributions are summed follows the schedule (a rounding-level difference).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "jacnet/ad/derivatives.hpp"
#include "jacnet/ad/dual.hpp"
#include "jacnet/ad/gradient_schedule.hpp"
#include "jacnet/ad/recorded_ops.hpp"
#include "jacnet/ad/traced.hpp"

namespace jacnet::ad::detail {

template <class T>
class GradientSweep {
 public:
  using Kernel = SweepKernel;
  struct Run {
    Kernel kernel;
    std::uint32_t begin, end;  // positions [begin, end) in the schedule
    std::uint32_t aux;  // first constant (…VC, …CV) or first extra record (Other, Compare)
    // segs_[seg_first, seg_last): the run's contiguous segments, in order (see find_segments).
    std::uint32_t seg_first = 0, seg_last = 0;
  };
  struct Segment {
    std::uint32_t begin, end;  // positions [begin, end) of one run
  };

  GradientSweep() = default;
  /// Schedules `prog` (see the file comment); `out` is the slot of the output in the recording.
  GradientSweep(const Program<T>& recorded, std::uint32_t out) : n0_(recorded.n_inputs) {
    const FoldedProgram<T> folded = fold_scaled(recorded, out);
    const Program<T>& prog = folded.prog;
    const std::size_t K = prog.code.size();
    std::vector<Kernel> kern(K);
    std::vector<std::uint8_t> key(K);
    for (std::size_t k = 0; k < K; ++k) {
      kern[k] = sweep_kernel(prog.code[k], folded.scaled[k] != 0);
      key[k] = schedule_key(kern[k], prog.code[k].op);
    }
    const std::vector<std::uint32_t> order = greedy_schedule(prog, key);
    // New slot of every old slot (inputs keep theirs).
    std::vector<std::uint32_t> slot(n0_ + K);
    for (std::uint32_t i = 0; i < n0_; ++i) slot[i] = i;
    for (std::size_t p = 0; p < K; ++p) slot[n0_ + order[p]] = n0_ + static_cast<std::uint32_t>(p);
    const auto remap = [&](std::uint32_t s) { return s == kConst ? kConst : slot[s]; };
    ia_.resize(K);
    ib_.resize(K);
    for (std::size_t p = 0; p < K;) {
      const std::uint32_t k0 = order[p];
      Run run{kern[k0], static_cast<std::uint32_t>(p), 0, 0};
      run.aux = static_cast<std::uint32_t>(is_extra(run.kernel) ? extra_.size() : cst_.size());
      for (; p < K && key[order[p]] == key[k0]; ++p) {
        const Instr<T>& I = prog.code[order[p]];
        const std::uint32_t self = n0_ + static_cast<std::uint32_t>(p);
        const std::uint32_t a = remap(I.a), b = remap(I.b);
        switch (run.kernel) {
          case Kernel::AddVC:
          case Kernel::MulVC:  // commutative (exactly): the variable to ia, the constant aside
            ia_[p] = a == kConst ? b : a;
            cst_.push_back(a == kConst ? I.ca : I.cb);
            break;
          case Kernel::SubVC:
          case Kernel::DivVC:
            ia_[p] = a;
            cst_.push_back(I.cb);
            break;
          case Kernel::SubCV:
          case Kernel::DivCV:
            ia_[p] = b;
            cst_.push_back(I.ca);
            break;
          case Kernel::AddVsV:
          case Kernel::SubVsV:
          case Kernel::MulVsV:
            ia_[p] = a;
            ib_[p] = b;
            cst_.push_back(I.cb);
            break;
          case Kernel::Other:
          case Kernel::Compare: {
            // Adjoint targets of Other: a constant, absent or repeated operand sends its partial
            // (0) to the instruction's own slot, which the sweep has read before.
            ia_[p] = a == kConst ? self : a;
            ib_[p] = (b == kConst || b == a) ? self : b;
            Instr<T> R = I;
            R.a = a;
            R.b = b;
            extra_.push_back(Extra{R, folded.recorded[order[p]]});
            break;
          }
          default:
            ia_[p] = a;
            ib_[p] = b;
            break;
        }
      }
      run.end = static_cast<std::uint32_t>(p);
      if (run.kernel == Kernel::AddVV)
        split_chains(run);
      else
        runs_.push_back(run);
    }
    out_ = remap(folded.out);
    for (Run& r : runs_) find_segments(r);
  }

  std::size_t size() const { return ia_.size(); }
  /// Number of runs (one dispatch each per sweep).
  std::size_t runs() const { return runs_.size(); }
  /// The output's slot in the schedule (kConst for a constant output).
  std::uint32_t output() const { return out_; }
  /// Scratch a sweep needs: values and adjoints (n0 + K each), partials of Other (2 each).
  std::size_t slots() const { return n0_ + size(); }
  std::size_t partials() const { return 2 * extra_.size(); }

  /// Forward loop: w[0, n0) holds the inputs; fills w[n0, n0 + K) and the partials pd of the
  /// other operations; re-checks every comparison (`on_compare(recorded index k, I, x, y)`).
  template <class OnCompare>
  void forward(T* w, T* pd, OnCompare&& on_compare) const {
    T* const out = w + n0_;
    const std::uint32_t* ia = ia_.data();
    const std::uint32_t* ib = ib_.data();
    for (const Run& r : runs_) {
      // c[p − r.begin]: the constant of position p (index arithmetic only: the run may have none)
      const T* c = cst_.data() + (r.aux < cst_.size() ? r.aux : 0);
      // In a contiguous segment starting at position g: operands wa[q], wb[q], constants cv[q]
      // of position g + q.
      const T *wa = w, *wb = w, *cv = c;
      // Positions in order, `s(p)`; each segment as one loop over contiguous operands (`v(q)`).
      const auto each = [&](auto&& s, auto&& v) {
        auto p = r.begin;
        for (std::uint32_t k = r.seg_first; k < r.seg_last; ++k) {
          const Segment g = segs_[k];
          for (; p < g.begin; ++p) out[p] = s(p);
          wa = w + ia[g.begin];
          wb = uses_b(r.kernel) ? w + ib[g.begin] : w;
          cv = c + (g.begin - r.begin);
          forward_segment(out + g.begin, g.end - g.begin, v);
          p = g.end;
        }
        for (; p < r.end; ++p) out[p] = s(p);
      };
      switch (r.kernel) {
        case Kernel::AddVV:
          each([&](auto p) { return w[ia[p]] + w[ib[p]]; },
               [&](auto q) { return wa[q] + wb[q]; });
          break;
        case Kernel::AddVC:
          each([&](auto p) { return w[ia[p]] + c[p - r.begin]; },
               [&](auto q) { return wa[q] + cv[q]; });
          break;
        case Kernel::AddChain: {  // the running value stays in a register
          T acc = w[ia[r.begin]] + w[ib[r.begin]];
          out[r.begin] = acc;
          for (auto p = r.begin + 1; p < r.end; ++p) out[p] = acc = acc + w[ib[p]];
          break;
        }
        case Kernel::SubVV:
          each([&](auto p) { return w[ia[p]] - w[ib[p]]; },
               [&](auto q) { return wa[q] - wb[q]; });
          break;
        case Kernel::AddVsV:  // the folded product as MulVC computes it: b · c
          each([&](auto p) { return w[ia[p]] + w[ib[p]] * c[p - r.begin]; },
               [&](auto q) { return wa[q] + wb[q] * cv[q]; });
          break;
        case Kernel::SubVsV:
          each([&](auto p) { return w[ia[p]] - w[ib[p]] * c[p - r.begin]; },
               [&](auto q) { return wa[q] - wb[q] * cv[q]; });
          break;
        case Kernel::MulVsV:
          each([&](auto p) { return w[ia[p]] * (w[ib[p]] * c[p - r.begin]); },
               [&](auto q) { return wa[q] * (wb[q] * cv[q]); });
          break;
        case Kernel::SubVC:
          each([&](auto p) { return w[ia[p]] - c[p - r.begin]; },
               [&](auto q) { return wa[q] - cv[q]; });
          break;
        case Kernel::SubCV:
          each([&](auto p) { return c[p - r.begin] - w[ia[p]]; },
               [&](auto q) { return cv[q] - wa[q]; });
          break;
        case Kernel::MulVV:
          each([&](auto p) { return w[ia[p]] * w[ib[p]]; },
               [&](auto q) { return wa[q] * wb[q]; });
          break;
        case Kernel::MulVC:
          each([&](auto p) { return w[ia[p]] * c[p - r.begin]; },
               [&](auto q) { return wa[q] * cv[q]; });
          break;
        case Kernel::Sqr:
          each([&](auto p) { return w[ia[p]] * w[ia[p]]; },
               [&](auto q) { return wa[q] * wa[q]; });
          break;
        case Kernel::Neg:
          each([&](auto p) { return -w[ia[p]]; }, [&](auto q) { return -wa[q]; });
          break;
        // Division as the Dual rule: q = x · (1/y).
        case Kernel::DivVV:
          each([&](auto p) { return w[ia[p]] * deriv::div_d1_num(w[ib[p]]); },
               [&](auto q) { return wa[q] * deriv::div_d1_num(wb[q]); });
          break;
        case Kernel::DivVC:
          each([&](auto p) { return w[ia[p]] * deriv::div_d1_num(c[p - r.begin]); },
               [&](auto q) { return wa[q] * deriv::div_d1_num(cv[q]); });
          break;
        case Kernel::DivCV:
          each([&](auto p) { return c[p - r.begin] * deriv::div_d1_num(w[ia[p]]); },
               [&](auto q) { return cv[q] * deriv::div_d1_num(wa[q]); });
          break;
        case Kernel::Other:
          for (auto p = r.begin; p < r.end; ++p) {
            const std::size_t q = r.aux + (p - r.begin);
            const Instr<T>& I = extra_[q].instr;
            const Dual<T, 2> d = instr_value<Dual<T, 2>>(I, PartialView{w, I.a, I.b});
            out[p] = d.val;
            // x∘x: both tangents carry the whole derivative, which goes to ia.
            pd[2 * q] = d.d(0);
            pd[2 * q + 1] = I.a == I.b ? T(0) : d.d(1);
          }
          break;
        case Kernel::Compare:
          for (auto p = r.begin; p < r.end; ++p) {
            const Extra& x = extra_[r.aux + (p - r.begin)];
            out[p] = T(0);
            on_compare(x.recorded, x.instr, operand_value(x.instr.a, x.instr.ca, w),
                       operand_value(x.instr.b, x.instr.cb, w));
          }
          break;
      }
    }
  }

  /// Reverse sweep: adj[0, n0 + K) seeded (zero but the output's); leaves ∂y/∂x in adj[0, n0).
  /// An instruction whose adjoint is exactly zero adds nothing (as on the tape).
  void reverse(const T* w, const T* pd, T* adj) const {
    const T* const out = w + n0_;
    const T* const aout = adj + n0_;
    const std::uint32_t* ia = ia_.data();
    const std::uint32_t* ib = ib_.data();
    for (std::size_t ri = runs_.size(); ri-- > 0;) {
      const Run& r = runs_[ri];
      const T* c = cst_.data() + (r.aux < cst_.size() ? r.aux : 0);
      // In a contiguous segment of n positions starting at g (as in forward): adjoint targets
      // da[q], db[q], operands wa[q], wb[q], own values ov[q] and adjoints av[q], constants cv[q]
      // of position g + q.
      std::uint32_t n = 0;
      const T *wa = w, *wb = w, *ov = out, *av = aout, *cv = c;
      T *da = adj, *db = adj;
      // Positions last to first, skipping zero adjoints, `body(p, a)`; each segment as one loop
      // per adjoint target (`v...`, made by `to`), segments last to first too.
      const auto scalar = [&](std::uint32_t lo, std::uint32_t hi, auto&& body) {
        for (auto p = hi; p-- > lo;) {
          const T a = aout[p];
          if (a != T(0)) body(p, a);
        }
      };
      const auto each = [&](auto&& body, auto&&... v) {
        auto p = r.end;
        for (std::uint32_t k = r.seg_last; k-- > r.seg_first;) {
          const Segment g = segs_[k];
          scalar(g.end, p, body);
          n = g.end - g.begin;
          wa = w + ia[g.begin];
          da = adj + ia[g.begin];
          if (uses_b(r.kernel)) {
            wb = w + ib[g.begin];
            db = adj + ib[g.begin];
          }
          ov = out + g.begin;
          av = aout + g.begin;
          cv = c + (g.begin - r.begin);
          (v(), ...);
          p = g.begin;
        }
        scalar(r.begin, p, body);
      };
      // The segment loop sending contribution(q, a) to target da (which = 0) or db (1).
      const auto to = [&](int which, auto&& contribution) {
        return [&, which] { reverse_segment(which == 0 ? da : db, av, n, contribution); };
      };
      switch (r.kernel) {
        case Kernel::AddVV:
          each(
              [&](auto p, T a) {
                adj[ia[p]] += a;
                adj[ib[p]] += a;
              },
              to(0, [](auto, T a) { return a; }), to(1, [](auto, T a) { return a; }));
          break;
        case Kernel::AddVC:
          each([&](auto p, T a) { adj[ia[p]] += a; }, to(0, [](auto, T a) { return a; }));
          break;
        case Kernel::AddChain: {
          // The adjoint handed down the chain stays in a register: the same sums as storing it
          // into the previous addition's slot and reading it back there (nothing else reads it).
          T carry = T(0);
          for (auto p = r.end; --p > r.begin;) {
            const T a = aout[p] + carry;
            carry = T(0);
            if (a != T(0)) {
              adj[ib[p]] += a;
              carry = a;
            }
          }
          const T a = aout[r.begin] + carry;
          if (a != T(0)) {
            adj[ia[r.begin]] += a;
            adj[ib[r.begin]] += a;
          }
          break;
        }
        case Kernel::SubVV:
          each(
              [&](auto p, T a) {
                adj[ia[p]] += a;
                adj[ib[p]] += T(-1) * a;
              },
              to(0, [](auto, T a) { return a; }), to(1, [](auto, T a) { return T(-1) * a; }));
          break;
        case Kernel::AddVsV:  // the product's adjoint is a (its only use), then MulVC's rule
          each(
              [&](auto p, T a) {
                adj[ia[p]] += a;
                adj[ib[p]] += c[p - r.begin] * a;
              },
              to(0, [](auto, T a) { return a; }), to(1, [&](auto q, T a) { return cv[q] * a; }));
          break;
        case Kernel::SubVsV:
          each(
              [&](auto p, T a) {
                adj[ia[p]] += a;
                adj[ib[p]] += c[p - r.begin] * (T(-1) * a);
              },
              to(0, [](auto, T a) { return a; }),
              to(1, [&](auto q, T a) { return cv[q] * (T(-1) * a); }));
          break;
        case Kernel::MulVsV:  // MulVV's rule, then MulVC's on the product's adjoint x·ā
          each(
              [&](auto p, T a) {
                const T x = w[ia[p]], t = w[ib[p]] * c[p - r.begin];
                adj[ia[p]] += t * a;
                const T at = x * a;
                if (at != T(0)) adj[ib[p]] += c[p - r.begin] * at;
              },
              to(0, [&](auto q, T a) { return (wb[q] * cv[q]) * a; }),
              to(1, [&](auto q, T a) {
                const T at = wa[q] * a;
                return at != T(0) ? cv[q] * at : T(0);
              }));
          break;
        case Kernel::SubVC:
          each([&](auto p, T a) { adj[ia[p]] += a; }, to(0, [](auto, T a) { return a; }));
          break;
        case Kernel::SubCV:
          each([&](auto p, T a) { adj[ia[p]] += T(-1) * a; },
               to(0, [](auto, T a) { return T(-1) * a; }));
          break;
        case Kernel::MulVV:
          each(
              [&](auto p, T a) {
                const T x = w[ia[p]], y = w[ib[p]];
                adj[ia[p]] += y * a;
                adj[ib[p]] += x * a;
              },
              to(0, [&](auto q, T a) { return wb[q] * a; }),
              to(1, [&](auto q, T a) { return wa[q] * a; }));
          break;
        case Kernel::MulVC:
          each([&](auto p, T a) { adj[ia[p]] += c[p - r.begin] * a; },
               to(0, [&](auto q, T a) { return cv[q] * a; }));
          break;
        case Kernel::Sqr:
          each(
              [&](auto p, T a) {
                const T x = w[ia[p]];
                adj[ia[p]] += (x + x) * a;
              },
              to(0, [&](auto q, T a) { return (wa[q] + wa[q]) * a; }));
          break;
        case Kernel::Neg:
          each([&](auto p, T a) { adj[ia[p]] += T(-1) * a; },
               to(0, [](auto, T a) { return T(-1) * a; }));
          break;
        case Kernel::DivVV:  // ∂q/∂x = 1/y, ∂q/∂y = −q·(1/y)
          each(
              [&](auto p, T a) {
                const T inv = deriv::div_d1_num(w[ib[p]]);
                adj[ia[p]] += inv * a;
                adj[ib[p]] += (-out[p] * inv) * a;
              },
              to(0, [&](auto q, T a) { return deriv::div_d1_num(wb[q]) * a; }),
              to(1, [&](auto q, T a) { return (-ov[q] * deriv::div_d1_num(wb[q])) * a; }));
          break;
        case Kernel::DivVC:
          each([&](auto p, T a) { adj[ia[p]] += deriv::div_d1_num(c[p - r.begin]) * a; },
               to(0, [&](auto q, T a) { return deriv::div_d1_num(cv[q]) * a; }));
          break;
        case Kernel::DivCV:
          each(
              [&](auto p, T a) {
                const T inv = deriv::div_d1_num(w[ia[p]]);
                adj[ia[p]] += (-out[p] * inv) * a;
              },
              to(0, [&](auto q, T a) { return (-ov[q] * deriv::div_d1_num(wa[q])) * a; }));
          break;
        case Kernel::Other:  // never has segments
          scalar(r.begin, r.end, [&](auto p, T a) {
            const std::size_t q = r.aux + (p - r.begin);
            adj[ia[p]] += pd[2 * q] * a;
            adj[ib[p]] += pd[2 * q + 1] * a;
          });
          break;
        case Kernel::Compare:
          break;
      }
    }
  }

 private:
  struct Extra {
    Instr<T> instr;          // operand slots renumbered
    std::uint32_t recorded;  // its index in the recording
  };
  static bool is_extra(Kernel k) { return k == Kernel::Other || k == Kernel::Compare; }
  /// Kernels that read (and send adjoints to) a second variable operand, ib.
  static bool uses_b(Kernel k) {
    switch (k) {
      case Kernel::AddVV:
      case Kernel::SubVV:
      case Kernel::AddVsV:
      case Kernel::SubVsV:
      case Kernel::MulVsV:
      case Kernel::MulVV:
      case Kernel::DivVV:
        return true;
      default:
        return false;
    }
  }

  /// Contiguous segments of run r: maximal stretches [g, e) of at least kSegment positions whose
  /// variable operands are consecutive slots (ia[p] = ia[g] + p − g, ib likewise), all recorded
  /// before the stretch (slot < n0 + g: no position of it reads, or sends an adjoint to, another
  /// position of it). Such a stretch runs as plain loops over contiguous arrays, which the
  /// compiler vectorizes, instead of gathers and scatters: e.g. Rosenbrock's x_i², x_{i+1} − x_i²,
  /// 1 − x_i. Element-wise runs over a vector of cells mostly qualify (a boundary cell that reads
  /// another slot only splits one off; a run holding two interleaved series has two segments).
  /// AddChain (serial), Other (partials from a table, targets may be its own slot) and Compare
  /// have none.
  void find_segments(Run& r) {
    r.seg_first = r.seg_last = static_cast<std::uint32_t>(segs_.size());
    if (r.kernel == Kernel::AddChain || is_extra(r.kernel)) return;
    constexpr std::uint32_t kSegment = 8;
    const bool b = uses_b(r.kernel);
    for (std::uint32_t g = r.begin; g < r.end;) {
      std::uint32_t e = g;  // [g, e): a stretch starting at g
      const std::uint32_t limit = n0_ + g;
      while (e < r.end && ia_[e] < limit && (!b || ib_[e] < limit) &&
             (e == g || (ia_[e] == ia_[e - 1] + 1 && (!b || ib_[e] == ib_[e - 1] + 1))))
        ++e;
      if (e - g >= kSegment) segs_.push_back(Segment{g, e});
      g = e > g ? e : g + 1;
    }
    r.seg_last = static_cast<std::uint32_t>(segs_.size());
  }

  /// out[q] = v(q) for q < n; out does not overlap what v reads (see find_segments).
  template <class V>
  static void forward_segment(T* __restrict out, std::uint32_t n, V&& v) {
    for (std::uint32_t q = 0; q < n; ++q) out[q] = v(q);
  }
  /// d[q] += contribution(q, av[q]) where av[q] ≠ 0, for q < n: the scalar sweep's sums (a zero
  /// adjoint adds nothing: the adjoints are never −0, so adding +0 there leaves them as
  /// skipping does). d overlaps neither av nor anything the contribution reads (find_segments).
  template <class C>
  static void reverse_segment(T* __restrict d, const T* __restrict av, std::uint32_t n,
                              C&& contribution) {
    for (std::uint32_t q = 0; q < n; ++q) {
      const T a = av[q];
      const T x = contribution(q, a);
      d[q] += a != T(0) ? x : T(0);
    }
  }

  /// Appends the AddVV run r, its chains of at least kChain additions (each taking the previous
  /// one's result as an operand, moved to ia) as AddChain runs.
  void split_chains(const Run& r) {
    constexpr std::uint32_t kChain = 8;
    std::uint32_t p = r.begin;
    while (p < r.end) {
      std::uint32_t q = p + 1;  // [p, q): a chain (every position after p uses its predecessor)
      while (q < r.end && (ia_[q] == n0_ + q - 1 || ib_[q] == n0_ + q - 1)) ++q;
      if (q - p >= kChain) {
        for (std::uint32_t j = p + 1; j < q; ++j)
          if (ia_[j] != n0_ + j - 1) std::swap(ia_[j], ib_[j]);  // x + y = y + x exactly
        runs_.push_back(Run{Kernel::AddChain, p, q, 0});
      } else if (!runs_.empty() && runs_.back().kernel == Kernel::AddVV && runs_.back().end == p) {
        runs_.back().end = q;  // too short: stays with the plain additions before it
      } else {
        runs_.push_back(Run{Kernel::AddVV, p, q, 0});
      }
      p = q;
    }
  }

  /// Operand view for the Dual<T, 2> local partials: slot a as tangent e0, slot b as e1.
  struct PartialView {
    const T* w;
    std::uint32_t a, b;
    Dual<T, 2> operator[](std::uint32_t i) const {
      Dual<T, 2> d(w[i]);
      if (i == a) d.set_d(0, T(1));
      if (i == b) d.set_d(1, T(1));
      return d;
    }
  };

  std::uint32_t n0_ = 0;
  std::vector<Run> runs_;
  std::vector<Segment> segs_;           // contiguous segments of the runs (find_segments)
  std::vector<std::uint32_t> ia_, ib_;  // operand slots per scheduled position
  std::vector<T> cst_;                  // constants of the …VC / …CV runs, in run order
  std::vector<Extra> extra_;            // instructions of the Other and Compare runs
  std::uint32_t out_ = kConst;          // the output's slot
};

}  // namespace jacnet::ad::detail
