#pragma once
// jacnet/nn/autodiff_layer.hpp — custom layers from a per-sample forward only: every rule is
// derived by the scalar AD core (forward-mode Dual; nested Dual<Dual> for second order).
//
// The user writes a functor F with
//   Index in_size() const; Index out_size() const; Index num_params() const;
//   template <class S> void operator()(const S* params, const S* x, S* y) const;   // one sample
// (S is T, Dual<T, N> or Dual<Dual<T, 1>, N>; write it with `using std::exp; exp(x)`-style calls
// and the functions of jacnet/ad/elementary.hpp so AD scalars are found by ADL). Optional members:
//   std::string name() const;  std::vector<ParamInfo> param_info() const;
//   Shape output_shape(const Shape& in) const;   template <class S> void init(S*, rng) const;
// and any of the layer rules with the Layer signatures (jvp, vjp, param_grad, second_order over
// Matrix<T> batches): those override the derived ones (fast rules; the derived ones stay correct).
//
// Derived rules (per sample b; N = kDirs directions per Dual evaluation):
//   jvp           x seeded with N tangent rows at a time: Uout_{bk} = ẏ   (⌈K/N⌉ evaluations)
//   vjp           A_b = ∂y/∂x by seeding x (⌈in/N⌉ evaluations); Vin_{bk} = Vout_{bk} A_b
//   param_grad    ∂y/∂θ by seeding θ (⌈P/N⌉ evaluations); g += Σ_k Vout_{bk} ∂y/∂θ
//   second_order  Dual<Dual<T,1>,N>: inner tangent Ein_{bk} on x, outer seeds on N coordinates
//                 z_t of (θ, x): y.d(t).d(0) = ∂(A_b Ein_{bk})/∂z_t, so
//                 ∂Q/∂z_t = Σ_k <Dout_{bk}, y.d(t).d(0)>   (K·⌈(P+in)/N⌉ evaluations)
// Samples run in parallel; per-sample parameter-gradient contributions are summed in sample order,
// so results do not depend on the thread count. Slow next to hand-written rules, but exact.
#include <algorithm>
#include <concepts>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "jacnet/ad/dual.hpp"
#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"
#include "jacnet/nn/init.hpp"
#include "jacnet/nn/layer.hpp"

namespace jacnet::nn {

/// What a per-sample forward functor must provide (see the header comment).
template <class F, class T>
concept PerSampleForward = requires(const F& f, const T* p, const T* x, T* y) {
  { f.in_size() } -> std::convertible_to<Index>;
  { f.out_size() } -> std::convertible_to<Index>;
  { f.num_params() } -> std::convertible_to<Index>;
  f(p, x, y);
};

template <class T, class F>
requires PerSampleForward<F, T>
class AutodiffLayer {
 public:
  using Scalar = T;
  using Function = F;
  /// Directions carried per Dual evaluation.
  static constexpr int kDirs = 8;

  AutodiffLayer() = default;
  explicit AutodiffLayer(F f) : f_(std::move(f)) {}

  const F& function() const { return f_; }

  std::string name() const {
    if constexpr (requires { f_.name(); })
      return f_.name();
    else
      return "Autodiff(" + std::to_string(f_.in_size()) + "->" + std::to_string(f_.out_size()) +
             ")";
  }

  Shape output_shape(const Shape& in) const {
    JACNET_CHECK(in.size() == f_.in_size(), ShapeError, "nn::AutodiffLayer", name(),
                 ": input shape ", in, " has ", in.size(), " values, expected [", f_.in_size(),
                 "]");
    if constexpr (requires { f_.output_shape(in); })
      return f_.output_shape(in);
    else
      return Shape{f_.out_size()};
  }

  Index num_params() const { return f_.num_params(); }

  std::vector<ParamInfo> param_info() const {
    if constexpr (requires { f_.param_info(); }) {
      return f_.param_info();
    } else {
      if (f_.num_params() == 0) return {};
      return {{"weight", Shape{f_.num_params()}, true}};
    }
  }

  /// F's init if it has one, else Glorot-uniform with fan_in = in, fan_out = out.
  void init(T* p, std::mt19937_64& rng) const {
    if constexpr (requires { f_.init(p, rng); })
      f_.init(p, rng);
    else if (num_params() > 0)
      glorot_uniform(p, num_params(), f_.in_size(), f_.out_size(), rng);
  }

  void forward(const T* p, const Matrix<T>& X, Matrix<T>& Y) const {
    check_cols(X, f_.in_size(), "nn::AutodiffLayer::forward", name(), "input X");
    const Index B = X.rows(), out = f_.out_size();
    Y.resize(B, out);
    parallel_for(B, kParallelWork, [&](Index b) { f_(p, X.row(b).data(), Y.row(b).data()); });
  }

  void jvp(const T* p, const Matrix<T>& X, const Matrix<T>& Y, const Matrix<T>& Uin,
           Matrix<T>& Uout) const {
    if constexpr (requires { f_.jvp(p, X, Y, Uin, Uout); }) {
      f_.jvp(p, X, Y, Uin, Uout);
    } else {
      const char* where = "nn::AutodiffLayer::jvp";
      check_cols(Uin, f_.in_size(), where, name(), "tangents");
      const Index B = X.rows(), K = directions(Uin.rows(), B, where, name());
      const Index in = f_.in_size(), out = f_.out_size(), P = f_.num_params();
      Uout.resize(Uin.rows(), out);
      using D = Dual<T, kDirs>;
      parallel_for(B, kParallelWork, [&](Index b) {
        std::vector<D> pd(p, p + P), xd(static_cast<std::size_t>(in)),
            yd(static_cast<std::size_t>(out));
        for (Index k0 = 0; k0 < K; k0 += kDirs) {
          const int nk = int(std::min<Index>(kDirs, K - k0));
          for (Index i = 0; i < in; ++i) {
            D& v = xd[std::size_t(i)];
            v = D(X(b, i));
            for (int t = 0; t < nk; ++t) v.set_d(t, Uin(b * K + k0 + t, i));
          }
          f_(pd.data(), xd.data(), yd.data());
          for (int t = 0; t < nk; ++t)
            for (Index j = 0; j < out; ++j) Uout(b * K + k0 + t, j) = yd[std::size_t(j)].d(t);
        }
      });
    }
  }

  void vjp(const T* p, const Matrix<T>& X, const Matrix<T>& Y, const Matrix<T>& Vout,
           Matrix<T>& Vin) const {
    if constexpr (requires { f_.vjp(p, X, Y, Vout, Vin); }) {
      f_.vjp(p, X, Y, Vout, Vin);
    } else {
      const char* where = "nn::AutodiffLayer::vjp";
      check_cols(Vout, f_.out_size(), where, name(), "cotangents");
      const Index B = X.rows(), K = directions(Vout.rows(), B, where, name());
      const Index in = f_.in_size(), out = f_.out_size();
      Vin.resize(Vout.rows(), in);
      parallel_for(B, kParallelWork, [&](Index b) {
        Matrix<T> A(out, in);  // ∂y/∂x of sample b
        input_jacobian(p, X.row(b).data(), A);
        for (Index k = 0; k < K; ++k) {
          for (Index i = 0; i < in; ++i) {
            T s = T(0);
            for (Index j = 0; j < out; ++j) s += Vout(b * K + k, j) * A(j, i);
            Vin(b * K + k, i) = s;
          }
        }
      });
    }
  }

  void param_grad(const T* p, const Matrix<T>& X, const Matrix<T>& Y, const Matrix<T>& Vout,
                  T* g) const {
    if constexpr (requires { f_.param_grad(p, X, Y, Vout, g); }) {
      f_.param_grad(p, X, Y, Vout, g);
    } else {
      const char* where = "nn::AutodiffLayer::param_grad";
      check_cols(Vout, f_.out_size(), where, name(), "cotangents");
      const Index B = X.rows(), K = directions(Vout.rows(), B, where, name());
      const Index in = f_.in_size(), out = f_.out_size(), P = f_.num_params();
      if (P == 0) return;
      Matrix<T> G = Matrix<T>::Zero(B, P);  // per-sample contributions, summed in order below
      using D = Dual<T, kDirs>;
      parallel_for(B, kParallelWork, [&](Index b) {
        std::vector<D> pd(p, p + P), xd(X.row(b).data(), X.row(b).data() + in),
            yd(static_cast<std::size_t>(out));
        for (Index c0 = 0; c0 < P; c0 += kDirs) {
          const int nc = int(std::min<Index>(kDirs, P - c0));
          for (int t = 0; t < nc; ++t) pd[std::size_t(c0 + t)].seed(t);
          f_(pd.data(), xd.data(), yd.data());
          for (int t = 0; t < nc; ++t) {
            T s = T(0);
            for (Index k = 0; k < K; ++k)
              for (Index j = 0; j < out; ++j) s += Vout(b * K + k, j) * yd[std::size_t(j)].d(t);
            G(b, c0 + t) = s;
            pd[std::size_t(c0 + t)] = D(p[c0 + t]);
          }
        }
      });
      for (Index b = 0; b < B; ++b)
        for (Index c = 0; c < P; ++c) g[c] += G(b, c);
    }
  }

  void second_order(const T* p, const Matrix<T>& X, const Matrix<T>& Y, const Matrix<T>& Ein,
                    const Matrix<T>& Dout, T* g, Matrix<T>& Xbar) const {
    if constexpr (requires { f_.second_order(p, X, Y, Ein, Dout, g, Xbar); }) {
      f_.second_order(p, X, Y, Ein, Dout, g, Xbar);
    } else {
      const char* where = "nn::AutodiffLayer::second_order";
      const Index in = f_.in_size(), out = f_.out_size(), P = f_.num_params();
      check_cols(Ein, in, where, name(), "Ein");
      check_cols(Dout, out, where, name(), "Dout");
      JACNET_CHECK(Ein.rows() == Dout.rows(), ShapeError, where, name(), ": Ein has ", Ein.rows(),
                   " rows, Dout ", Dout.rows());
      const Index B = X.rows(), K = directions(Ein.rows(), B, where, name());
      prepare_accumulator(Xbar, B, in, where, name());
      using D1 = Dual<T, 1>;
      using D2 = Dual<D1, kDirs>;
      const Index Z = P + in;  // coordinates z = (θ, x)
      Matrix<T> G = Matrix<T>::Zero(B, Z);
      parallel_for(B, kParallelWork, [&](Index b) {
        std::vector<D2> pd(static_cast<std::size_t>(P)), xd(static_cast<std::size_t>(in)),
            yd(static_cast<std::size_t>(out));
        for (Index k = 0; k < K; ++k) {
          for (Index c0 = 0; c0 < Z; c0 += kDirs) {
            const int nc = int(std::min<Index>(kDirs, Z - c0));
            for (Index c = 0; c < P; ++c) pd[std::size_t(c)] = D2(D1(p[c]));
            for (Index i = 0; i < in; ++i) {
              D1 inner(X(b, i));
              inner.set_d(0, Ein(b * K + k, i));
              xd[std::size_t(i)] = D2(inner);
            }
            for (int t = 0; t < nc; ++t) {
              const Index c = c0 + t;
              if (c < P)
                pd[std::size_t(c)].set_d(t, D1(T(1)));
              else
                xd[std::size_t(c - P)].set_d(t, D1(T(1)));
            }
            f_(pd.data(), xd.data(), yd.data());
            for (int t = 0; t < nc; ++t) {
              T s = T(0);
              for (Index j = 0; j < out; ++j)
                s += Dout(b * K + k, j) * yd[std::size_t(j)].d(t).d(0);
              G(b, c0 + t) += s;
            }
          }
        }
      });
      for (Index b = 0; b < B; ++b) {
        for (Index c = 0; c < P; ++c) g[c] += G(b, c);
        for (Index i = 0; i < in; ++i) Xbar(b, i) += G(b, P + i);
      }
    }
  }

  /// ∂y/∂x (out x in) of one sample, by forward-mode AD in blocks of kDirs input coordinates.
  void input_jacobian(const T* p, const T* x, Matrix<T>& A) const {
    using D = Dual<T, kDirs>;
    const Index in = f_.in_size(), out = f_.out_size(), P = f_.num_params();
    A.resize(out, in);
    std::vector<D> pd(p, p + P), xd(x, x + in), yd(static_cast<std::size_t>(out));
    for (Index i0 = 0; i0 < in; i0 += kDirs) {
      const int ni = int(std::min<Index>(kDirs, in - i0));
      for (int t = 0; t < ni; ++t) xd[std::size_t(i0 + t)].seed(t);
      f_(pd.data(), xd.data(), yd.data());
      for (int t = 0; t < ni; ++t) {
        for (Index j = 0; j < out; ++j) A(j, i0 + t) = yd[std::size_t(j)].d(t);
        xd[std::size_t(i0 + t)] = D(x[i0 + t]);
      }
    }
  }

 private:
  F f_{};
};

}  // namespace jacnet::nn
