// ad_custom_rule — a dense linear solve y = A⁻¹b as one AD operation with its own rules:
// JVP A⁻¹u (a solve), VJP A⁻ᵀw (the adjoint solve). The loss ½‖A⁻¹b − c‖² is then
// differentiated in reverse mode (the VJP), forward mode (the JVP) and to second order; the
// analytic gradient is A⁻ᵀ(A⁻¹b − c) and the Hessian A⁻ᵀA⁻¹.
#include <Eigen/LU>
#include <iostream>

#include <jacnet/ad.hpp>

int main() {
  Eigen::MatrixXd A(3, 3);
  A << 4, 1, 0, 1, 3, 1, 0, 1, 2;
  const Eigen::PartialPivLU<Eigen::MatrixXd> lu(A);
  const Eigen::MatrixXd Ainv = lu.inverse();
  const auto solve = jacnet::ad::custom_rule(
      [&](const Eigen::VectorXd& b) { return Eigen::VectorXd(lu.solve(b)); },
      [&](const auto& /*b*/, const auto& /*y*/, const auto& u) {
        using U = typename std::decay_t<decltype(u)>::Scalar;
        if constexpr (std::is_same_v<U, double>)
          return Eigen::VectorXd(lu.solve(u));
        else  // second order: u holds AD scalars, apply the same linear map
          return jacnet::Vector<U>(Ainv * u);
      },
      [&](const Eigen::VectorXd&, const Eigen::VectorXd&, const Eigen::VectorXd& w) {
        return Eigen::VectorXd(lu.transpose().solve(w));
      });
  const Eigen::VectorXd c{{1.0, 0.0, -1.0}};
  const auto loss = [&](const auto& b) {
    using S = typename std::decay_t<decltype(b)>::Scalar;
    const jacnet::Vector<S> y = solve(b);
    return S(0.5 * (y - c).squaredNorm());
  };
  const Eigen::VectorXd b{{0.5, 2.0, -1.0}};
  const Eigen::VectorXd analytic = Ainv.transpose() * (Ainv * b - c);
  std::cout << "gradient (reverse, VJP) = " << jacnet::gradient(loss, b).gradient.transpose()
            << "\ngradient (forward, JVP) = " << Eigen::VectorXd(jacnet::jacfwd(loss, b)).transpose()
            << "\ngradient (analytic)     = " << analytic.transpose()
            << "\nHessian:\n" << jacnet::hessian(loss, b).hessian
            << "\nanalytic A^-T A^-1:\n" << Ainv.transpose() * Ainv << "\n";
}
