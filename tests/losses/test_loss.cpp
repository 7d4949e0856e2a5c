#include <catch2/catch.hpp>

#include "support/ad_reference.hpp"
#include "jacnet/losses/cross_entropy.hpp"
#include "jacnet/losses/jacobian_match.hpp"
#include "jacnet/losses/jacobian_norm.hpp"
#include "jacnet/losses/output_match.hpp"
#include "support/net_fixture.hpp"
#include "support/thread_independence.hpp"

using namespace jacnet;
using namespace jacnet::losses;
using namespace jacnet::losses::testing;

TEST_CASE("driver: CE + Jacobian matching gradient matches central differences", "[losses]") {
  auto student = tanh_mlp(4, 5, 5, 3, 1);
  auto teacher = tanh_mlp(4, 7, 6, 3, 2);
  Matrix<double> X = random_inputs(6, 4, 3);
  const auto labels = random_labels(6, 3, 4);
  const auto loss = CrossEntropy{} + OutputMatch{} + JacobianMatch<Full>{};
  check_gradients(loss, student, X, labels, &teacher);
}

TEST_CASE("driver: gradient equals the forward-over-reverse AD reference", "[losses]") {
  auto student = tanh_mlp(4, 5, 5, 3, 1);
  auto teacher = tanh_mlp(4, 7, 6, 3, 2);
  Matrix<double> X = random_inputs(5, 4, 3);
  const auto labels = random_labels(5, 3, 4);
  const auto loss = CrossEntropy{} + 0.5 * OutputMatch{} + 2.0 * JacobianMatch<Full>{};
  Workspace<double> ws;
  const auto& r = loss.value_and_grad(student, Batch(X, labels, teacher), ws);
  const Matrix<double> YT = teacher.forward(X);
  const Matrix<double> JT = nn::jacrev(teacher, X);
  double ad_value = 0;
  const Vector<double> g = ad_mlp_gradient<4>(
      {4, 5, 5, 3}, student.param_vector(), X, TanhAct{},
      [&](Index b, const SampleAD& s) {
        V m = s.y[0];
        for (int i = 1; i < 3; ++i) m = max(m, s.y[i]);
        V z = V::constant(0.0);
        for (int i = 0; i < 3; ++i) z = z + exp(s.y[i] - m);
        V ce = log(z) + m - s.y[labels[b]];
        V om = V::constant(0.0), jm = V::constant(0.0);
        for (int i = 0; i < 3; ++i) {
          om = om + (s.y[i] - YT(b, i)) * (s.y[i] - YT(b, i));
          for (int j = 0; j < 4; ++j)
            jm = jm + (s.J[i][j] - JT(b * 3 + i, j)) * (s.J[i][j] - JT(b * 3 + i, j));
        }
        return V(ce + 0.5 * om + 2.0 * jm);
      },
      &ad_value);
  CHECK(r.value == Approx(ad_value).epsilon(1e-12));
  CHECK((r.grad - g).cwiseAbs().maxCoeff() <= 1e-10 * g.cwiseAbs().maxCoeff());
}

TEST_CASE("driver: term values, names and weights", "[losses]") {
  auto student = tanh_mlp(4, 5, 5, 3, 1);
  auto teacher = tanh_mlp(4, 7, 6, 3, 2);
  Matrix<double> X = random_inputs(5, 4, 3);
  const auto labels = random_labels(5, 3, 4);
  const auto loss = CrossEntropy{} + 0.5 * (OutputMatch{} + 4.0 * JacobianMatch<LabelClass>{});
  Workspace<double> ws;
  const auto& r = loss.value_and_grad(student, Batch(X, labels, teacher), ws);
  REQUIRE(r.terms.size() == 3);
  CHECK(r.terms[1].weight == 0.5);
  CHECK(r.terms[2].weight == 2.0);
  CHECK(r.value == Approx(r.terms[0].value + 0.5 * r.terms[1].value + 2.0 * r.terms[2].value));
  Workspace<double> w1;
  CHECK(r.terms[2].value ==
        Approx(JacobianMatch<LabelClass>{}.value(student, Batch(X, labels, teacher), w1)));
  CHECK(term_names(loss) == std::vector<std::string>{"CrossEntropy", "OutputMatch",
                                                     "JacobianMatch<LabelClass, NoNorm>"});
}

TEST_CASE("driver: the workspace is reused without reallocation, results repeat", "[losses]") {
  auto student = tanh_mlp(4, 5, 5, 3, 1);
  auto teacher = tanh_mlp(4, 7, 6, 3, 2);
  Matrix<double> X = random_inputs(8, 4, 3);
  const auto labels = random_labels(8, 3, 4);
  const auto loss = CrossEntropy{} + JacobianMatch<TeacherTop<2>, L2>{} +
                    0.1 * JacobianNorm<RandomProjection<1>>{};
  Workspace<double> ws(5);
  ws.input_gradient = true;
  const auto& r = loss.value_and_grad(student, Batch(X, labels, teacher), ws);
  const Vector<double> g1 = r.grad;
  const double* gp = r.grad.data();
  const double* jp = ws.pass.J().data();
  const double* sp = ws.seeds.data();
  const double* xp = r.input_grad.data();
  ws.reseed(5);
  const auto& r2 = loss.value_and_grad(student, Batch(X, labels, teacher), ws);
  CHECK(r2.grad == g1);
  CHECK(r2.grad.data() == gp);
  CHECK(ws.pass.J().data() == jp);
  CHECK(ws.seeds.data() == sp);
  CHECK(r2.input_grad.data() == xp);
  // Without reseeding the random projection changes, and so does the gradient.
  const auto& r3 = loss.value_and_grad(student, Batch(X, labels, teacher), ws);
  CHECK(r3.grad != g1);
  // A loss without Jacobian terms on the same workspace, then one with them again.
  const auto& r4 = CrossEntropy{}.value_and_grad(student, Batch(X, labels), ws);
  CHECK(ws.plan.M == 0);
  CHECK(r4.grad.size() == student.num_params());
  ws.reseed(5);
  CHECK(loss.value_and_grad(student, Batch(X, labels, teacher), ws).grad == g1);
}

TEST_CASE("driver: precomputed TeacherData gives the same step as the teacher net", "[losses]") {
  auto student = tanh_mlp(4, 5, 5, 3, 1);
  auto teacher = tanh_mlp(4, 7, 6, 3, 2);
  Matrix<double> X = random_inputs(6, 4, 3);
  const auto labels = random_labels(6, 3, 4);
  const auto loss = CrossEntropy{} + OutputMatch{} + JacobianMatch<TeacherTop<2>, L2>{} +
                    JacobianMatch<RandomProjection<2>>{};
  Workspace<double> wa(3), wb(3);
  const auto& ra = loss.value_and_grad(student, Batch(X, labels, teacher), wa);
  const auto data = TeacherData<double>::record(teacher, X, true);
  const auto& rb = loss.value_and_grad(student, Batch(X, labels, data), wb);
  CHECK(rb.value == Approx(ra.value).epsilon(1e-13));
  CHECK((rb.grad - ra.grad).cwiseAbs().maxCoeff() < 1e-13 * ra.grad.cwiseAbs().maxCoeff());
  // Outputs only: Jacobian terms need the recorded Jacobian.
  const auto outputs_only = TeacherData<double>::record(teacher, X, false);
  CHECK_THROWS_WITH(
      loss.value_and_grad(student, Batch(X, labels, outputs_only), wb),
      Catch::Contains("TeacherData::jacobian is 0x0") && Catch::Contains("with_jacobian = true"));
}

TEST_CASE("driver: bad batches throw naming the sizes", "[losses]") {
  auto student = tanh_mlp(4, 5, 5, 3, 1);
  auto teacher = tanh_mlp(4, 7, 6, 3, 2);
  Matrix<double> X = random_inputs(6, 4, 3);
  Workspace<double> ws;
  const std::vector<int> short_labels{0, 1, 2};
  CHECK_THROWS_WITH(CrossEntropy{}.value_and_grad(student, Batch(X, short_labels), ws),
                    Catch::Contains("one label per sample: 6 samples, 3 labels"));
  Matrix<double> wrong = random_inputs(6, 5, 3);
  CHECK_THROWS_AS(CrossEntropy{}.value_and_grad(student, Batch(wrong, short_labels), ws),
                  ShapeError);
  auto wide = tanh_mlp(4, 5, 5, 5, 3);
  CHECK_THROWS_WITH(JacobianMatch<Full>{}.value_and_grad(student, Batch(X, wide), ws),
                    Catch::Contains("teacher has 5 outputs but student has 3"));
  const auto data = TeacherData<double>::record(teacher, Matrix<double>(X.topRows(2)), true);
  CHECK_THROWS_WITH(OutputMatch{}.value_and_grad(student, Batch(X, data), ws),
                    Catch::Contains("TeacherData has outputs for 2 samples, the batch has 6"));
}

TEST_CASE("driver: float steps agree with double", "[losses]") {
  using FNet = nn::Sequential<nn::Dense<float>, nn::Tanh<float>, nn::Dense<float>, nn::Tanh<float>,
                              nn::Dense<float>>;
  auto student = tanh_mlp(6, 16, 16, 4, 1);
  auto teacher = tanh_mlp(6, 20, 12, 4, 2);
  auto to_float = [](const TanhMLP& n, Index D, Index h1, Index h2, Index C) {
    FNet f(Shape{D}, nn::Dense<float>(D, h1), nn::Tanh<float>(), nn::Dense<float>(h1, h2),
           nn::Tanh<float>(), nn::Dense<float>(h2, C));
    f.params() = n.params().cast<float>();
    return f;
  };
  const FNet fs = to_float(student, 6, 16, 16, 4), ft = to_float(teacher, 6, 20, 12, 4);
  Matrix<double> X = random_inputs(32, 6, 3);
  const Matrix<float> Xf = X.cast<float>();
  const auto labels = random_labels(32, 4, 4);
  const auto loss =
      CrossEntropy{} + OutputMatch{} + JacobianMatch<Full>{} + 0.1 * JacobianNorm<Exact>{};
  Workspace<double> wd;
  Workspace<float> wf;
  const auto& rd = loss.value_and_grad(student, Batch(X, labels, teacher), wd);
  const auto& rf = loss.value_and_grad(fs, Batch(Xf, labels, ft), wf);
  CHECK(double(rf.value) == Approx(rd.value).epsilon(1e-5));
  CHECK((rf.grad.cast<double>() - rd.grad).cwiseAbs().maxCoeff() <
        1e-4 * rd.grad.cwiseAbs().maxCoeff());
}

TEST_CASE("driver: results are bitwise the same for 1 and 2 threads", "[losses]") {
  auto student = tanh_mlp(32, 64, 64, 10, 1);
  auto teacher = tanh_mlp(32, 80, 40, 10, 2);
  Matrix<double> X = random_inputs(128, 32, 3);
  const auto labels = random_labels(128, 10, 4);
  const auto loss = CrossEntropy{} + JacobianMatch<Full>{} + JacobianNorm<RandomProjection<1>>{};
  jacnet::testing::check_same_for_any_thread_count([&] {
    Workspace<double> ws(1);
    return Vector<double>(loss.value_and_grad(student, Batch(X, labels, teacher), ws).grad);
  });
}
