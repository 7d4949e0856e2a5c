#pragma once
// jacnet/check/loss.hpp — checks a loss's gradients (losses/*.hpp: value_and_grad) with respect
// to the student's parameters and inputs against central differences of its value, in double.
//
//   dL/dθ_i   vs (L(θ + h e_i) − L(θ − h e_i)) / 2h for every trainable θ_i (fast mode: along
//             random unit directions); non-trainable entries must be exactly 0
//   dL/dX     (Workspace::input_gradient) vs differences in every input entry, with the teacher's
//             quantities held fixed — as value_and_grad defines it: a teacher net is recorded at
//             X once (losses::TeacherData) and the differences use the recording. A loss that
//             evaluates its teacher at other inputs (NoisyMatch: Needs::teacher_net) has no such
//             fixed teacher: asking for its input gradient with a teacher is a ValueError.
// Every evaluation starts from the same random state (Workspace::reseed(seed)), so losses with
// random projections or noise are differentiated at fixed draws.
//
//   check::Report r = check::check_loss(CrossEntropy{} + JacobianMatch<>{}, student, X, labels,
//                                       &teacher);
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "jacnet/check/finite_difference.hpp"
#include "jacnet/check/net.hpp"
#include "jacnet/check/report.hpp"
#include "jacnet/core/error.hpp"
#include "jacnet/losses/loss.hpp"

namespace jacnet::check {

struct LossOptions : Options {
  bool inputs = true;          ///< also check dL/dX
  std::uint64_t loss_seed = 11;  ///< Workspace seed of every evaluation
};

/// Checks loss.value_and_grad(net, batch) against differences of loss.value. `teacher` is a net
/// of the same scalar type, a losses::TeacherData<double>, or nullptr (a NoTeacher pointer) for
/// losses without a teacher. The net is copied.
template <class L, class Net, class Teacher = losses::NoTeacher>
Report check_loss(const L& loss, Net net, const Matrix<double>& X, std::span<const int> labels,
                  const Teacher* teacher = nullptr, const LossOptions& o = {}) {
  using losses::Batch;
  using losses::NoTeacher;
  using losses::TeacherData;
  constexpr bool no_teacher = std::is_same_v<Teacher, NoTeacher>;
  auto batch = [&](const Matrix<double>& x) {
    if constexpr (no_teacher)
      return Batch<double>(x, labels);
    else
      return Batch<double, Teacher>(x, labels, *teacher);
  };
  Report r("check_loss " + loss.name());
  losses::Workspace<double> ws(o.loss_seed);
  ws.input_gradient = o.inputs;
  const auto& res = loss.value_and_grad(net, batch(X), ws);
  const Vector<double> grad = res.grad;
  const Matrix<double> xgrad = res.input_grad;
  const ParamNames names = detail::net_param_names(net);
  const Vector<double> theta = net.param_vector();
  std::mt19937_64 rng(o.seed);

  auto obj = [&](const Vector<double>& th) {
    net.set_params(th);
    ws.reseed(o.loss_seed);
    const double v = loss.value(net, batch(X), ws);
    net.set_params(theta);
    return v;
  };
  detail::compare_param_gradient(r, "dL/dθ", names, theta, grad, obj, o, rng);
  detail::require_untouched(r, "dL/dθ is 0 for non-trainable entries", names,
                            Vector<double>::Zero(grad.size()), grad);
  if (!o.inputs) return r;

  if constexpr (L::needs.teacher_net && !no_teacher) {
    JACNET_CHECK(false, ValueError, "check::check_loss", loss.name(),
                 " evaluates its teacher at other inputs: its input gradient has no fixed "
                 "teacher to check against (pass LossOptions::inputs = false)");
  } else {
    std::unique_ptr<TeacherData<double>> recorded;
    if constexpr (!no_teacher) {
      if constexpr (std::is_same_v<Teacher, TeacherData<double>>) {
        recorded = std::make_unique<TeacherData<double>>(*teacher);
      } else {
        std::vector<Index> all;
        for (Index l = 0; l <= Index(Teacher::num_layers); ++l) all.push_back(l);
        recorded = std::make_unique<TeacherData<double>>(
            TeacherData<double>::record(*teacher, X, L::needs.teacher_jacobian, all));
      }
    }
    Matrix<double> xv = X;
    auto xvalue = [&]() -> double {
      ws.reseed(o.loss_seed);
      if constexpr (no_teacher)
        return loss.value(net, Batch<double>(xv, labels), ws);
      else
        return loss.value(net, Batch<double, TeacherData<double>>(xv, labels, *recorded), ws);
    };
    const Index D = X.cols();
    auto in_name = [&](Index e) {
      return "X[" + std::to_string(e / D) + "," + std::to_string(e % D) + "]";
    };
    if (!o.fast) {
      const Vector<double> fd = central_gradient(xv.data(), xv.size(), o.eps, xvalue);
      r.compare("dL/dX", xgrad.size(), fd.data(), xgrad.data(), in_name, o.atol, o.rtol,
                o.scale_atol);
    } else {
      Vector<double> fd(o.projections), got(o.projections);
      for (int p = 0; p < o.projections; ++p) {
        const Vector<double> wv = random_unit(X.size(), rng);
        const Matrix<double> W = Eigen::Map<const Matrix<double>>(wv.data(), X.rows(), D);
        double s = 0;
        fd(p) = central_difference(s, o.eps, [&] {
          xv = X + s * W;
          return xvalue();
        });
        got(p) = detail::dot(xgrad, W);
      }
      xv = X;
      r.compare("dL/dX (projected)", o.projections, fd.data(), got.data(),
                [](Index p) { return "projection " + std::to_string(p); }, o.atol, o.rtol,
                o.scale_atol);
    }
  }
  return r;
}

}  // namespace jacnet::check
