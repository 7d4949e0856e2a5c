// apps/fashion/equivalence.cpp — Proposition 1 of Srinivas & Fleuret (2018) on real data: with
// ξ = σz, z ~ N(0, I),
//   E_ξ Σ_i (T_i(x+ξ) − S_i(x+ξ))²  =  Σ_i (T_i(x) − S_i(x))²  +  σ² Σ_i ‖∇_x T_i(x) − ∇_x S_i(x)‖²  +  O(σ⁴)
//   (noisy output matching)           (output matching, OM)     (σ² · Jacobian term, JT)
// exactly (no O(σ⁴)) for piecewise-linear nets as long as x + ξ crosses no kink, up to O(σ⁴) for
// smooth nets. Two trained pairs, the same test images and noise draws for both:
//   task 0 "ReLU": CNN teacher (ReLU) and a ReLU MLP 784-128-10 student;
//   task 1 "tanh": tanh MLP teacher 784-256-256-10 and a tanh MLP 784-64-64-10 student.
// Each student is trained with Act+CE (CE + output matching; its Jacobians are left free) on
// cfg.equiv_n samples per class (subset seed 401, init seed 400, batch seed 40).
// The left side is estimated by Monte Carlo with antithetic pairs: for image b and pair j,
//   v_bj = ½ (‖(T − S)(x_b + ξ_bj)‖² + ‖(T − S)(x_b − ξ_bj)‖²),
// an unbiased estimate of the same expectation (ξ is symmetric) whose odd terms cancel (the
// cross term 2(T−S)ᵀΔJ ξ, which would otherwise dominate the variance at small σ). The estimate
// is the mean of v over images and pairs; its standard error is sqrt(Σ_b s_b² / P) / B with s_b²
// the sample variance of v_bj over the P pairs of image b. σ is in raw pixel units (pixels in
// [0, 1]); the inputs are standardized, so the noise added to them is σ/std (also in the CSV), and
// the Jacobian term is in standardized units: prediction = OM + (σ/std)² · JT.
// Reported per σ: OM, JT, the noisy loss ± SE, the prediction, ratio = (noisy − OM) / ((σ/std)² JT)
// ± SE (1 where the two agree). Draws: seed 5000 + σ index (the same ξ for both pairs).
#include <cmath>
#include <cstdio>
#include <random>
#include <sstream>

#include "jacnet/losses/cross_entropy.hpp"
#include "jacnet/losses/output_match.hpp"
#include "jacnet/losses/seeds.hpp"
#include "jacnet/nn/modes.hpp"
#include "jacnet/train/adam.hpp"
#include "jacnet/train/evaluate.hpp"
#include "protocols.hpp"

namespace jacnet::fashion {

namespace {

const char* const kPairNames[] = {"ReLU", "tanh"};
const char* const kPairDescriptions[] = {
    "ReLU: CNN teacher, ReLU MLP 784-128-10 student",
    "tanh: tanh MLP 784-256-256-10 teacher, tanh MLP 784-64-64-10 student"};

/// Row-wise squared norms of A − B.
Vector<double> row_sq_diff(const Matrix<T>& A, const Matrix<T>& B) {
  Vector<double> r(A.rows());
  for (Index i = 0; i < A.rows(); ++i) r[i] = (A.row(i) - B.row(i)).cast<double>().squaredNorm();
  return r;
}

/// [accuracy, OM, JT, (noisy, se) per σ] for a trained pair on the images X.
template <class Teacher, class Student>
std::vector<double> measure(const Config& c, const Teacher& teacher, const Student& student,
                            const Matrix<T>& X, double pixel_std) {
  const Index B = X.rows(), D = X.cols(), P = c.equiv_pairs;
  const Matrix<T> Tx = teacher.forward(X), Sx = student.forward(X);
  const Vector<double> om = row_sq_diff(Tx, Sx);
  const Matrix<T> JT = nn::jacobian(teacher, X), JS = nn::jacobian(student, X);
  const Index K = Tx.cols();
  double om_mean = 0, jt_mean = 0;
  for (Index b = 0; b < B; ++b) {
    om_mean += om[b];
    jt_mean += (JT.middleRows(b * K, K) - JS.middleRows(b * K, K)).cast<double>().squaredNorm();
  }
  om_mean /= double(B);
  jt_mean /= double(B);
  std::vector<double> out{om_mean, jt_mean};
  const Index chunk = std::max<Index>(1, 4096 / P);  // images per forward batch
  for (std::size_t si = 0; si < c.equiv_sigmas.size(); ++si) {
    const T sg = static_cast<T>(c.equiv_sigmas[si] / pixel_std);
    std::mt19937_64 rng(5000 + si);
    double sum = 0, var_sum = 0;
    Matrix<T> Xp, Xm;
    for (Index b0 = 0; b0 < B; b0 += chunk) {
      const Index nb = std::min(chunk, B - b0);
      Xp.resize(nb * P, D);
      Xm.resize(nb * P, D);
      for (Index b = 0; b < nb; ++b)
        for (Index j = 0; j < P; ++j)
          for (Index d = 0; d < D; ++d) {
            const T xi = sg * static_cast<T>(losses::detail::normal(rng));
            Xp(b * P + j, d) = X(b0 + b, d) + xi;
            Xm(b * P + j, d) = X(b0 + b, d) - xi;
          }
      const Vector<double> lp = row_sq_diff(teacher.forward(Xp), student.forward(Xp));
      const Vector<double> lm = row_sq_diff(teacher.forward(Xm), student.forward(Xm));
      for (Index b = 0; b < nb; ++b) {
        double m = 0, q = 0;
        for (Index j = 0; j < P; ++j) m += 0.5 * (lp[b * P + j] + lm[b * P + j]);
        m /= double(P);
        for (Index j = 0; j < P; ++j) {
          const double v = 0.5 * (lp[b * P + j] + lm[b * P + j]) - m;
          q += v * v;
        }
        sum += m;
        var_sum += P > 1 ? q / double(P - 1) : 0.0;
      }
    }
    out.push_back(sum / double(B));
    out.push_back(std::sqrt(var_sum / double(P)) / double(B));
  }
  return out;
}

template <class Student, class Teacher>
std::vector<double> run_pair(Context& ctx, const Teacher& teacher, Student s, const Data& d,
                             const Matrix<T>& X) {
  const Config& c = ctx.cfg;
  const auto data = losses::TeacherData<T>::record(teacher, d.X, false);
  train::Adam<T> opt({.lr = kStudentLr});
  const auto o = student_fit(c, d.X.rows(), 40);
  train::fit(s, losses::CrossEntropy{} + losses::OutputMatch{}, opt,
             student_schedule(c, o, d.X.rows()), d.X, d.y, data, o);
  std::vector<double> r{train::evaluate(s, ctx.test.X, ctx.test.y).accuracy};
  const auto m = measure(c, teacher, s, X, ctx.fm.normalization.std);
  r.insert(r.end(), m.begin(), m.end());
  return r;
}

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

}  // namespace

void run_equivalence(Context& ctx, const TeacherNet& cnn_teacher, const TanhMlp& tanh_teacher) {
  const Config& c = ctx.cfg;
  const io::FashionMnist& fm = ctx.fm;
  JACNET_CHECK(c.equiv_pairs >= 2, ValueError, "fashion::run_equivalence",
               "equivalence_pairs must be at least 2 for a standard error (got ", c.equiv_pairs, ")");
  const std::size_t K = c.equiv_sigmas.size(), width = 3 + 2 * K;
  Data images = ctx.test;
  truncate(images, c.equiv_images);
  const auto grid = run_grid(ctx.comm, ctx.checkpoint, "equivalence", 2, width, [&](std::size_t i) {
    const Data d = take(fm.train.images, fm.train.labels,
                        train::subset_per_class(fm.train.labels, c.equiv_n, 401, 10));
    std::vector<double> r = i == 0 ? run_pair(ctx, cnn_teacher, make_mlp(400), d, images.X)
                                   : run_pair(ctx, tanh_teacher, make_tanh_student(400), d, images.X);
    if (ctx.verbose()) {
      char line[160];
      std::snprintf(line, sizeof line, "[equivalence] %s pair: student acc %.4f, OM %.4g, JT %.4g",
                    kPairNames[i], r[0], r[1], r[2]);
      progress_line(line);
    }
    return r;
  });
  if (!ctx.comm.is_root()) return;

  const double std_px = fm.normalization.std;
  const Index B = images.X.rows();
  std::vector<std::string> csv;
  std::ostringstream con, md;
  con << "\nNoise equivalence (Proposition 1) on " << B << " test images, " << c.equiv_pairs
      << " antithetic pairs of draws (" << 2 * c.equiv_pairs
      << " noisy copies) per image and σ; ratio = (noisy − OM) / (σ²·JT), 1 = agreement\n";
  md << "| pair | σ | OM | σ²·JT | noisy OM (MC ± SE) | OM + σ²·JT | ratio ± SE |\n"
     << "|---|---|---|---|---|---|---|\n";
  plot::Figure f;
  f.title = "Proposition 1 on Fashion-MNIST: noisy matching vs OM + σ²·Jacobian term";
  f.xlabel = "input noise σ (pixel units)";
  f.ylabel = "(noisy OM − OM) / (σ²·Σ‖∇T − ∇S‖²)";
  f.logx = true;
  f.hline = 1.0;
  f.note = std::to_string(B) + " test images × " + std::to_string(2 * c.equiv_pairs) +
           " antithetic draws per σ; bars = ± 2 standard errors of the Monte Carlo estimate";
  nlohmann::json jres = nlohmann::json::object();
  for (std::size_t p = 0; p < 2; ++p) {
    const auto& v = grid.values[p];
    const double acc = v[0], om = v[1], jt = v[2];
    con << kPairDescriptions[p] << " (student test accuracy " << fmt("%.2f", 100 * acc)
        << " %): OM = " << fmt("%.4g", om) << ", JT = " << fmt("%.4g", jt) << "\n";
    plot::Series s;
    s.label = std::string(kPairNames[p]) + " pair";
    nlohmann::json rows = nlohmann::json::array();
    for (std::size_t si = 0; si < K; ++si) {
      const double sigma = c.equiv_sigmas[si], ss = sigma / std_px;
      const double noisy = v[3 + 2 * si], se = v[4 + 2 * si];
      const double jac = ss * ss * jt, pred = om + jac;
      const double ratio = (noisy - om) / jac, ratio_se = se / jac;
      con << "  σ=" << fmt("%-5g", sigma) << " noisy " << fmt("%10.5g", noisy) << " ± "
          << fmt("%-9.3g", se) << " OM+σ²JT " << fmt("%10.5g", pred) << "  ratio "
          << fmt("%.4f", ratio) << " ± " << fmt("%.4f", ratio_se) << "\n";
      md << "| " << kPairNames[p] << " | " << fmt("%g", sigma) << " | " << fmt("%.4g", om) << " | "
         << fmt("%.4g", jac) << " | " << fmt("%.5g", noisy) << " ± " << fmt("%.2g", se) << " | "
         << fmt("%.5g", pred) << " | " << fmt("%.3f", ratio) << " ± " << fmt("%.3f", ratio_se)
         << " |\n";
      std::ostringstream line;
      line.precision(17);
      line << kPairNames[p] << ',' << sigma << ',' << ss << ',' << om << ',' << jt << ',' << noisy
           << ',' << se << ',' << pred << ',' << ratio << ',' << ratio_se << ',' << B << ','
           << 2 * c.equiv_pairs;
      csv.push_back(line.str());
      s.x.push_back(sigma);
      s.y.push_back(ratio);
      s.err.push_back(2 * ratio_se);
      rows.push_back(nlohmann::json{{"sigma", sigma}, {"noisy", noisy}, {"noisy_se", se}, {"prediction", pred},
                      {"ratio", ratio}, {"ratio_se", ratio_se}});
    }
    f.series.push_back(std::move(s));
    jres["pairs"][kPairNames[p]] = {{"description", kPairDescriptions[p]},
                                    {"student_test_accuracy", acc},
                                    {"output_match", om},
                                    {"jacobian_term", jt},
                                    {"by_sigma", rows}};
  }
  std::fputs(con.str().c_str(), stdout);
  write_csv(c.out / "equivalence.csv",
            "pair,sigma,sigma_standardized,output_match,jacobian_term,noisy_mc,noisy_se,"
            "prediction,ratio,ratio_se,images,draws_per_image",
            csv);
  jres["images"] = B;
  jres["draws_per_image"] = 2 * c.equiv_pairs;
  ctx.report.results["equivalence"] = jres;
  ctx.report.run["equivalence"] = grid.log();
  std::ostringstream text;
  text << "Noisy output matching E_ξ Σᵢ(Tᵢ − Sᵢ)²(x + ξ), ξ = σz, estimated by Monte Carlo on "
       << B << " test images with " << c.equiv_pairs << " antithetic pairs (±ξ) of draws per image"
       << " and σ (± its standard error), against OM + σ²·JT, OM = Σᵢ(Tᵢ − Sᵢ)²(x) and JT = "
          "Σᵢ‖∇ₓTᵢ − ∇ₓSᵢ‖² (means over the images; σ in pixel units, σ²·JT in standardized "
          "units, i.e. (σ/"
       << fmt("%.4f", std_px)
       << ")²·JT). Students trained with Act+CE on " << c.equiv_n
       << " samples per class. Per-σ values: `equivalence.csv`.";
  ctx.report.section("Noise equivalence (Proposition 1)", text.str() + "\n\n" + md.str(), {});
  ctx.report.figure(c.out, "equivalence", f,
                    "ratio of the noisy loss's excess over OM to σ²·JT (1 = Proposition 1 holds), "
                    "bars = ± 2 SE");
}

}  // namespace jacnet::fashion
