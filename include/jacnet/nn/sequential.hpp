#pragma once
// jacnet/nn/sequential.hpp — a net as a compile-time composition of layers, y = f_{L-1}∘…∘f_0(x).
//
// `Sequential<L0, L1, ...>` owns one flat parameter vector θ (Eigen Vector<T>); layer l reads its
// block θ[offset_l, offset_l + n_l). Shapes are propagated and checked once, at construction:
// shape(0) = input shape, shape(l+1) = layer l's output shape; a mismatch throws ShapeError naming
// the layer index, the layer and both shapes. Boundary l (0..L) is the activation between layers
// l-1 and l: a forward pass fills a `Trace` with acts[0] = X, acts[l+1] = f_l(acts[l]).
//
// Parameter names follow torch.nn.Sequential ("0.weight", "0.bias", "2.weight", ...; a Dense
// weight is [out, in] like torch.nn.Linear), so weight files interoperate.
// init(seed): one std::mt19937_64(seed) stream walks the layers in order. Weighted layers (those
// with init(p, rng, InitScheme)) get He-normal weights when the next activation after them (before
// the next weighted layer) is ReLU-family (ReLU, LeakyReLU, ELU, GELU), Glorot-uniform otherwise;
// other layers use their own default (BatchNorm: γ = 1, β = 0, running stats 0/1).
#include <array>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "jacnet/core/error.hpp"
#include "jacnet/core/huge_pages.hpp"
#include "jacnet/core/tensor.hpp"
#include "jacnet/nn/execution.hpp"
#include "jacnet/nn/layer.hpp"

namespace jacnet::nn {

/// The activations of one forward pass: acts[0] = X, acts[l+1] = output of layer l (B rows each).
/// Reuse one Trace across calls: its matrices keep their memory, so repeated passes do not
/// allocate.
template <class T>
struct Trace {
  std::vector<Matrix<T>> acts;
  const Matrix<T>& input() const { return acts.front(); }
  const Matrix<T>& output() const { return acts.back(); }
  Index batch() const { return acts.empty() ? 0 : acts.front().rows(); }
};

/// One named parameter tensor of a net: PyTorch-style name, shape, trainable flag, offset into
/// the flat vector and a view of its values.
template <class T>
struct NamedParam {
  std::string name;
  Shape shape;
  bool trainable;
  Index offset;
  std::span<T> data;
};

template <Layer... Ls>
requires(sizeof...(Ls) >= 1) class Sequential {
 public:
  using Scalar = typename std::tuple_element_t<0, std::tuple<Ls...>>::Scalar;
  using T_ = Scalar;
  static_assert((std::is_same_v<typename Ls::Scalar, Scalar> && ...),
                "jacnet::nn::Sequential: all layers must have the same scalar type");
  static constexpr std::size_t num_layers = sizeof...(Ls);
  using Layers = std::tuple<Ls...>;
  template <std::size_t I>
  using layer_type = std::tuple_element_t<I, Layers>;

  /// Builds the net for per-sample inputs of shape `input`, checking every layer's input shape.
  explicit Sequential(Shape input, Ls... layers) : layers_(std::move(layers)...) {
    shapes_[0] = std::move(input);
    JACNET_CHECK(shapes_[0].rank() > 0, ShapeError, "nn::Sequential",
                 "input shape must have at least one dimension");
    Index off = 0;
    [&]<std::size_t... I>(std::index_sequence<I...>) { ((setup_layer<I>(off)), ...); }
    (std::make_index_sequence<num_layers>{});
    params_.setZero(off);
    compute_schemes();
  }

  // ---- shapes ---------------------------------------------------------------------------------
  const Shape& input_shape() const { return shapes_.front(); }
  const Shape& output_shape() const { return shapes_.back(); }
  /// Shape at boundary l (0 = input, L = output).
  const Shape& shape(std::size_t l) const { return shapes_.at(l); }
  Index input_size() const { return input_shape().size(); }
  Index output_size() const { return output_shape().size(); }

  // ---- layers ---------------------------------------------------------------------------------
  template <std::size_t I>
  const layer_type<I>& layer() const {
    return std::get<I>(layers_);
  }
  const std::string& layer_name(std::size_t l) const { return names_.at(l); }
  /// Calls f(std::integral_constant<std::size_t, I>{}, layer_I) for I = 0..L-1 in order.
  template <class F>
  void for_each_layer(F&& f) const {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (f(std::integral_constant<std::size_t, I>{}, std::get<I>(layers_)), ...);
    }
    (std::make_index_sequence<num_layers>{});
  }
  /// Calls f(std::integral_constant<std::size_t, I>{}, layer_I) for I = L-1..0 (reverse order).
  template <class F>
  void for_each_layer_reverse(F&& f) const {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (f(std::integral_constant<std::size_t, num_layers - 1 - I>{},
         std::get<num_layers - 1 - I>(layers_)),
       ...);
    }
    (std::make_index_sequence<num_layers>{});
  }

  // ---- parameters -----------------------------------------------------------------------------
  Index num_params() const { return params_.size(); }
  VectorMap<T_> params() { return {params_.data(), params_.size()}; }
  ConstVectorMap<T_> params() const { return {params_.data(), params_.size()}; }
  const Vector<T_>& param_vector() const { return params_; }
  /// Replaces all parameters (size must be num_params()).
  void set_params(const Vector<T_>& p) {
    JACNET_CHECK(p.size() == params_.size(), ShapeError, "nn::Sequential::set_params", "got ",
                 p.size(), " values, the net has ", params_.size(), " parameters");
    params_ = p;
  }
  /// Offset and size of layer l's block in the flat vector.
  Index param_offset(std::size_t l) const { return offsets_.at(l); }
  Index param_count(std::size_t l) const { return offsets_.at(l + 1) - offsets_.at(l); }
  template <std::size_t I>
  VectorMap<T_> layer_params() {
    return {params_.data() + offsets_[I], offsets_[I + 1] - offsets_[I]};
  }
  template <std::size_t I>
  ConstVectorMap<T_> layer_params() const {
    return {params_.data() + offsets_[I], offsets_[I + 1] - offsets_[I]};
  }
  /// PyTorch nn.Sequential names ("0.weight", "0.bias", ...), in flat-vector order.
  std::vector<NamedParam<T_>> named_parameters() { return named_impl<T_>(params_.data()); }
  std::vector<NamedParam<const T_>> named_parameters() const {
    return named_impl<const T_>(params_.data());
  }
  /// Same layout over a gradient (or any) vector of num_params() values.
  template <class U>
  std::vector<NamedParam<U>> named_view(U* data) const {
    return named_impl<U>(data);
  }
  /// Mask of trainable entries (1) of the flat vector; BatchNorm running statistics are 0.
  std::vector<bool> trainable_mask() const {
    std::vector<bool> m(static_cast<std::size_t>(num_params()), true);
    for (const auto& np : named_impl<const T_>(params_.data()))
      if (!np.trainable)
        for (Index i = 0; i < Index(np.data.size()); ++i)
          m[static_cast<std::size_t>(np.offset + i)] = false;
    return m;
  }

  /// Seeded initialization (He before ReLU-family activations, Glorot otherwise; see header).
  void init(std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    [&]<std::size_t... I>(std::index_sequence<I...>) { ((init_layer<I>(rng)), ...); }
    (std::make_index_sequence<num_layers>{});
  }
  /// The scheme init(seed) uses for layer l's weights (meaningful for weighted layers).
  InitScheme init_scheme(std::size_t l) const { return schemes_.at(l); }

  // ---- forward --------------------------------------------------------------------------------
  /// True when every layer's rules take row views (nn::ViewRules): the passes then split the
  /// batch into shards (nn/execution.hpp); otherwise each pass runs as one shard.
  static constexpr bool row_views = (ViewRules<Ls> && ...);

  /// The shards a pass over B samples uses (make_shards(B), or one shard without row views).
  Shards shards(Index B) const { return row_views ? make_shards(B) : Shards{B, 1}; }

  /// trace.acts[0] = X (no copy when X is trace.acts[0] itself), acts[l+1] = f_l(acts[l]).
  /// One pass over the shards of the batch (nn/execution.hpp).
  void forward(const Matrix<T_>& X, Trace<T_>& trace) const {
    check_input(X, "nn::Sequential::forward");
    prepare_trace(X, trace);
    const Shards sh = shards(X.rows());
    run_shards(
        sh.count, [&](Index s) { forward_rows(X, trace, sh.begin(s), sh.end(s)); },
        pass_work(X.rows(), 1));
  }
  /// Convenience: the outputs (allocates a trace).
  Matrix<T_> forward(const Matrix<T_>& X) const {
    Trace<T_> t;
    forward(X, t);
    return std::move(t.acts.back());
  }

  /// Sizes trace.acts for the batch of X (acts[l]: B x size(l); no allocation when B repeats).
  void prepare_trace(const Matrix<T_>& X, Trace<T_>& trace) const {
    trace.acts.resize(num_layers + 1);
    for (std::size_t l = 0; l <= num_layers; ++l)
      if (l > 0 || &X != &trace.acts[0]) resize_buffer(trace.acts[l], X.rows(), shapes_[l].size());
  }
  /// Forward of samples [b0, b1) into a trace sized by prepare_trace: rows of acts[0] from X
  /// (unless X is acts[0]), then every layer on those rows (row views, or the whole matrices
  /// when the net has no row views; then [b0, b1) must be the whole batch).
  void forward_rows(const Matrix<T_>& X, Trace<T_>& trace, Index b0, Index b1) const {
    if (&X != &trace.acts[0]) rows(trace.acts[0], b0, b1) = rows(X, b0, b1);
    for_each_layer([&](auto I, const auto& layer) {
      layer.forward(block(I), rows(std::as_const(trace.acts[I]), b0, b1),
                    rows(trace.acts[I + 1], b0, b1));
    });
  }

  /// Rows [r0, r1) of a batch matrix as the layers of this net take them: a row view, or the
  /// matrix itself for nets without row views (one shard: the whole matrix).
  template <class M>
  static decltype(auto) rows(M& m, Index r0, Index r1) {
    if constexpr (row_views)
      return row_block(m, r0, r1);
    else
      return (m);
  }
  /// Runs shard(s) for s < n (and then reduce(c) for c < nreduce) as one pass: nn::run_pass for
  /// nets with row views; on the calling thread, without a SerialScope, otherwise (one shard,
  /// the layers' own loops may use threads as before).
  /// `work`: the pass's multiply-adds (pass_work), deciding whether threads are worth waking.
  template <class ShardBody, class ReduceBody>
  static void run_shards(Index n, ShardBody&& shard, Index nreduce, ReduceBody&& reduce,
                         double work) {
    if constexpr (row_views) {
      run_pass(n, shard, nreduce, reduce, work);
    } else {
      for (Index s = 0; s < n; ++s) shard(s);
      for (Index c = 0; c < nreduce; ++c) reduce(c);
    }
  }
  template <class ShardBody>
  static void run_shards(Index n, ShardBody&& shard, double work) {
    run_shards(n, shard, 0, [](Index) {}, work);
  }

  /// Multiply-adds of one sample through the net once (Σ over layers of their `macs(in)` hook,
  /// else the layer's parameter count plus its output size): with pass_work, what decides
  /// whether a pass is worth more than one thread.
  double macs_per_sample() const { return macs_; }
  /// Estimated multiply-adds of a pass over B samples carrying `rows` rows per sample through
  /// the net (forward = 1, a seeded backward with M seeds = M, ...).
  double pass_work(Index B, double rows) const { return double(B) * rows * macs_; }

  /// Pointer to layer I's parameter block (const).
  const T_* block(std::size_t I) const { return params_.data() + offsets_[I]; }

  /// Throws ShapeError naming `where` unless X is B x input_size() with B ≥ 1.
  void check_input(const Matrix<T_>& X, const char* where) const {
    JACNET_CHECK(X.cols() == input_size(), ShapeError, where, "input has ", X.cols(),
                 " columns, the net's input shape ", input_shape(), " has ", input_size());
    JACNET_CHECK(X.rows() > 0, ValueError, where, "empty batch (0 rows)");
  }

  /// One line per layer: index, name, output shape, parameter count.
  std::string summary() const {
    std::string s = "input " + input_shape().str() + "\n";
    for (std::size_t l = 0; l < num_layers; ++l)
      s += std::to_string(l) + ": " + names_[l] + " -> " + shapes_[l + 1].str() + "  (" +
           std::to_string(param_count(l)) + " params)\n";
    return s;
  }

 private:
  template <std::size_t I>
  void setup_layer(Index& off) {
    auto& layer = std::get<I>(layers_);
    names_[I] = layer.name();
    const Shape& in = shapes_[I];
    try {
      shapes_[I + 1] = layer.output_shape(in);
    } catch (const ShapeError& e) {
      ::jacnet::detail::raise<ShapeError>(
          "nn::Sequential", "layer ", I, " ", names_[I], " cannot take input shape ", in,
          I == 0 ? std::string(" (the net's input)")
                 : " (output of layer " + std::to_string(I - 1) + " " + names_[I - 1] + ")",
          ": ", e.what());
    }
    if constexpr (BindsInputShape<layer_type<I>>) layer.bind(in);
    offsets_[I] = off;
    const Index n = layer.num_params();
    Index sum = 0;
    for (const auto& pi : layer.param_info()) sum += pi.shape.size();
    JACNET_CHECK(sum == n, ValueError, "nn::Sequential", "layer ", I, " ", names_[I],
                 ": param_info sizes add to ", sum, " but num_params() is ", n);
    off += n;
    offsets_[I + 1] = off;
    if constexpr (requires { layer.macs(in); })
      macs_ += double(layer.macs(in));
    else
      macs_ += double(n) + double(shapes_[I + 1].size());
  }

  void compute_schemes() {
    std::array<bool, num_layers> weighted{}, act{}, relu{};
    for_each_layer([&](auto I, const auto& layer) {
      using LT = std::remove_cvref_t<decltype(layer)>;
      weighted[I] = SchemeInit<LT>;
      if constexpr (ActivationLayer<LT>) {
        act[I] = true;
        relu[I] = LT::relu_family;
      }
    });
    for (std::size_t l = 0; l < num_layers; ++l) {
      schemes_[l] = InitScheme::Glorot;
      if (!weighted[l]) continue;
      for (std::size_t m = l + 1; m < num_layers && !weighted[m]; ++m)
        if (act[m]) {
          if (relu[m]) schemes_[l] = InitScheme::He;
          break;
        }
    }
  }

  template <std::size_t I>
  void init_layer(std::mt19937_64& rng) {
    T_* p = params_.data() + offsets_[I];
    const auto& layer = std::get<I>(layers_);
    if constexpr (SchemeInit<layer_type<I>>)
      layer.init(p, rng, schemes_[I]);
    else
      layer.init(p, rng);
  }

  template <class U>
  std::vector<NamedParam<U>> named_impl(U* data) const {
    std::vector<NamedParam<U>> out;
    for_each_layer([&](auto I, const auto& layer) {
      Index off = offsets_[I];
      for (const auto& pi : layer.param_info()) {
        const Index n = pi.shape.size();
        out.push_back({std::to_string(I) + "." + pi.name, pi.shape, pi.trainable, off,
                       std::span<U>(data + off, static_cast<std::size_t>(n))});
        off += n;
      }
    });
    return out;
  }

  Layers layers_;
  std::array<Shape, num_layers + 1> shapes_;
  std::array<std::string, num_layers> names_;
  std::array<Index, num_layers + 1> offsets_{};
  std::array<InitScheme, num_layers> schemes_{};
  Vector<T_> params_;
  double macs_ = 0;
};

}  // namespace jacnet::nn
