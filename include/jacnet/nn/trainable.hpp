#pragma once
// jacnet/nn/trainable.hpp — the trainable entries of a net's flat vectors, without buffer slots.
//
// A net keeps every parameter tensor in one flat vector θ, buffers included (BatchNorm's
// running_mean and running_var: ParamInfo::trainable = false). Gradients share that layout, so
// their buffer slots are always 0. PyTorch's model.parameters() / .grad leave buffers out; to
// compare with them (or to hand an optimizer of your own only what it trains):
//   trainable_view(net, grad.data())   named blocks ("1.weight", ...) of the trainable tensors
//                                      only, viewing the given flat vector (no copy); the order
//                                      of torch's named_parameters() for the same layer list
//   gather_trainable(net, v)           the trainable entries of v packed in that order (the
//                                      layout of torch.cat([p.grad.flatten() for p in
//                                      model.parameters()]))
//   scatter_trainable(net, packed, v)  the inverse: writes packed entries back into v, leaving
//                                      the buffer slots as they are
// (train::ParamMask::from_flags(net.trainable_mask()) is the same selection as optimizer ranges.)
#include <span>
#include <vector>

#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"

namespace jacnet::nn {

/// Named views of the trainable tensors of `net` over a flat vector laid out like its
/// parameters (U = T or const T).
template <class Net, class U>
auto trainable_view(const Net& net, U* data) {
  auto all = net.named_view(data);
  decltype(all) out;
  for (auto& np : all)
    if (np.trainable) out.push_back(np);
  return out;
}

/// Number of trainable entries of the net.
template <class Net>
Index num_trainable(const Net& net) {
  Index n = 0;
  for (const auto& np : net.named_parameters())
    if (np.trainable) n += np.shape.size();
  return n;
}

/// The trainable entries of the flat vector v (num_params() entries), packed in order.
template <class Net, class T>
Vector<T> gather_trainable(const Net& net, const Vector<T>& v) {
  JACNET_CHECK(v.size() == net.num_params(), ShapeError, "nn::gather_trainable", "vector has ",
               v.size(), " entries, the net has ", net.num_params(), " parameters");
  Vector<T> out(num_trainable(net));
  Index k = 0;
  for (const auto& np : trainable_view(net, v.data())) {
    for (Index i = 0; i < Index(np.data.size()); ++i) out(k + i) = np.data[std::size_t(i)];
    k += Index(np.data.size());
  }
  return out;
}

/// Writes the packed trainable entries back into v (num_params() entries); buffer slots keep
/// their values.
template <class Net, class T>
void scatter_trainable(const Net& net, const Vector<T>& packed, Vector<T>& v) {
  JACNET_CHECK(v.size() == net.num_params(), ShapeError, "nn::scatter_trainable", "vector has ",
               v.size(), " entries, the net has ", net.num_params(), " parameters");
  JACNET_CHECK(packed.size() == num_trainable(net), ShapeError, "nn::scatter_trainable",
               "packed vector has ", packed.size(), " entries, the net has ", num_trainable(net),
               " trainable ones");
  Index k = 0;
  for (auto& np : trainable_view(net, v.data())) {
    for (Index i = 0; i < Index(np.data.size()); ++i) np.data[std::size_t(i)] = packed(k + i);
    k += Index(np.data.size());
  }
}

}  // namespace jacnet::nn
