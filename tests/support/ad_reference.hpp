#pragma once
// Test helper: an independent reference for loss gradients by the scalar AD core,
// forward-over-reverse. The small nets of net_fixture.hpp are written again generically (same flat
// parameter layout: Dense weight [out x in] row-major then bias; Conv2d weight [Cout,Cin,3,3]
// then bias, padding 1): the parameters are Var<double> (reverse mode, recorded on the tape), and
// each input sample enters as Dual<Var<double>, D> with tangent e_j on x_j, so the outputs'
// tangents are the input Jacobian J (C x D) as taped Vars. A loss formula written on those Vars
// is then differentiated w.r.t. all parameters by jacnet::gradient.
#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "jacnet/ad/drivers.hpp"
#include "jacnet/ad/dual.hpp"
#include "jacnet/ad/var.hpp"
#include "jacnet/core/tensor.hpp"

namespace jacnet::losses::testing {

using V = Var<double>;

/// Per-sample quantities on the tape: outputs y (C) and the input Jacobian J[i][j] = ∂y_i/∂x_j.
struct SampleAD {
  std::vector<V> y;
  std::vector<std::vector<V>> J;
};

/// Generic MLP: sizes {D, h1, ..., C}, `act` after every Dense but the last.
template <class X, class P, class Act>
std::vector<X> mlp_generic(const std::vector<Index>& sizes, const P& theta, std::vector<X> a,
                           Act&& act) {
  Index off = 0;
  for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
    const Index in = sizes[l], out = sizes[l + 1];
    std::vector<X> z(static_cast<std::size_t>(out));
    for (Index o = 0; o < out; ++o) {
      X s = X(theta(off + out * in + o));
      for (Index i = 0; i < in; ++i) s = s + X(theta(off + o * in + i)) * a[std::size_t(i)];
      z[std::size_t(o)] = (l + 2 < sizes.size()) ? act(s) : s;
    }
    off += out * in + out;
    a = std::move(z);
  }
  return a;
}

/// y and J of one sample x (double) through the generic MLP, parameters th (Vars).
template <int D, class Act>
SampleAD mlp_sample(const std::vector<Index>& sizes, const Vector<V>& th, const double* x,
                    Act&& act) {
  using DV = Dual<V, D>;
  std::vector<DV> a(static_cast<std::size_t>(D));
  for (int j = 0; j < D; ++j) a[std::size_t(j)] = DV::variable(V::constant(x[j]), j);
  struct Lifted {
    const Vector<V>& th;
    DV operator()(Index i) const { return DV(th(i)); }
  } P{th};
  const std::vector<DV> y = mlp_generic(sizes, P, std::move(a), act);
  SampleAD s;
  for (const DV& yi : y) {
    s.y.push_back(yi.value());
    std::vector<V> row;
    for (int j = 0; j < D; ++j) row.push_back(yi.d(j));
    s.J.push_back(row);
  }
  return s;
}

/// Generic activations for the reference nets.
struct TanhAct {
  template <class X>
  X operator()(const X& z) const {
    using std::tanh;
    return tanh(z);
  }
};
struct ReluAct {
  template <class X>
  X operator()(const X& z) const {
    return relu(z);
  }
};

/// Gradient w.r.t. θ of (1/B) Σ_b per_sample(b, SampleAD_b) for the generic MLP on the rows of X.
template <int D, class Act, class PerSample>
Vector<double> ad_mlp_gradient(const std::vector<Index>& sizes, const Vector<double>& theta,
                               const Matrix<double>& X, Act act, PerSample per_sample,
                               double* value = nullptr) {
  auto f = [&](const auto& th) {
    V total = V::constant(0.0);
    for (Index b = 0; b < X.rows(); ++b) {
      const SampleAD s = mlp_sample<D>(sizes, th, X.row(b).data(), act);
      total = total + per_sample(b, s);
    }
    return V(total / double(X.rows()));
  };
  const auto r = jacnet::gradient(f, theta);
  if (value) *value = r.value;
  return r.gradient;
}

/// log Σ_i exp(y_i / temp) on taped Vars (max-shifted).
inline V logsumexp(const std::vector<V>& y, double temp = 1.0) {
  double m = -1e300;
  for (const V& v : y) m = std::max(m, v.value() / temp);
  V z = V::constant(0.0);
  for (const V& v : y) z = z + exp(v / temp - m);
  return V(log(z) + m);
}
/// softmax(t / temp) of plain values.
inline std::vector<double> softmax_plain(const std::vector<double>& t, double temp = 1.0) {
  double m = -1e300, z = 0;
  for (double v : t) m = std::max(m, v / temp);
  std::vector<double> p(t.size());
  for (std::size_t i = 0; i < t.size(); ++i) z += (p[i] = std::exp(t[i] / temp - m));
  for (double& v : p) v /= z;
  return p;
}
inline std::vector<double> row_of(const Matrix<double>& M, Index r) {
  return std::vector<double>(M.row(r).data(), M.row(r).data() + M.cols());
}

// ---- Generic small CNN (net_fixture.hpp's SmallCNN layout) --------------------------------------

/// 3x3 convolution, stride 1, zero padding 1, weight [Co, C, 3, 3] then bias [Co] at `off`.
template <class X, class P>
std::vector<X> conv3x3_generic(const std::vector<X>& in, Index C, Index H, Index W, Index Co,
                               const P& th, Index off) {
  std::vector<X> out(static_cast<std::size_t>(Co * H * W));
  for (Index o = 0; o < Co; ++o)
    for (Index y = 0; y < H; ++y)
      for (Index x = 0; x < W; ++x) {
        X s = X(th(off + Co * C * 9 + o));
        for (Index c = 0; c < C; ++c)
          for (Index i = 0; i < 3; ++i)
            for (Index j = 0; j < 3; ++j) {
              const Index yy = y + i - 1, xx = x + j - 1;
              if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
              s = s + X(th(off + ((o * C + c) * 3 + i) * 3 + j)) *
                          in[static_cast<std::size_t>((c * H + yy) * W + xx)];
            }
        out[static_cast<std::size_t>((o * H + y) * W + x)] = s;
      }
  return out;
}

/// Per-sample quantities of the generic CNN: outputs, Jacobian, activations at boundaries 2 and 4
/// (after each conv's tanh), as taped Vars.
struct CnnSampleAD {
  std::vector<V> y;
  std::vector<std::vector<V>> J;
  std::vector<V> act2, act4;
};

template <int D>
CnnSampleAD cnn_sample(Index Cin, Index H, Index W, Index c1, Index c2, Index C,
                       const Vector<V>& th, const double* x) {
  using DV = Dual<V, D>;
  struct P {
    const Vector<V>& th;
    DV operator()(Index i) const { return DV(th(i)); }
  } p{th};
  std::vector<DV> a(static_cast<std::size_t>(D));
  for (int j = 0; j < D; ++j) a[std::size_t(j)] = DV::variable(V::constant(x[j]), j);
  auto t1 = conv3x3_generic(a, Cin, H, W, c1, p, 0);
  for (auto& v : t1) v = tanh(v);
  const Index off2 = c1 * Cin * 9 + c1;
  auto t2 = conv3x3_generic(t1, c1, H, W, c2, p, off2);
  for (auto& v : t2) v = tanh(v);
  const Index off3 = off2 + c2 * c1 * 9 + c2;
  const Index F = c2 * H * W;
  CnnSampleAD s;
  for (Index o = 0; o < C; ++o) {
    DV z = p(off3 + C * F + o);
    for (Index i = 0; i < F; ++i) z = z + p(off3 + o * F + i) * t2[std::size_t(i)];
    s.y.push_back(z.value());
    std::vector<V> row;
    for (int j = 0; j < D; ++j) row.push_back(z.d(j));
    s.J.push_back(row);
  }
  for (auto& v : t1) s.act2.push_back(v.value());
  for (auto& v : t2) s.act4.push_back(v.value());
  return s;
}

/// Gradient w.r.t. θ of (1/B) Σ_b per_sample(b, CnnSampleAD_b) for the generic CNN.
template <int D, class PerSample>
Vector<double> ad_cnn_gradient(Index Cin, Index H, Index W, Index c1, Index c2, Index C,
                               const Vector<double>& theta, const Matrix<double>& X,
                               PerSample per_sample, double* value = nullptr) {
  auto f = [&](const auto& th) {
    V total = V::constant(0.0);
    for (Index b = 0; b < X.rows(); ++b)
      total = total + per_sample(b, cnn_sample<D>(Cin, H, W, c1, c2, C, th, X.row(b).data()));
    return V(total / double(X.rows()));
  };
  const auto r = jacnet::gradient(f, theta);
  if (value) *value = r.value;
  return r.gradient;
}

}  // namespace jacnet::losses::testing
