// apps/fashion/saliency.cpp — saliency(.png/.svg): label-row input Jacobians ∇_x f_y of the
// teachers and of their CE and Jac+CE students (seed 0, the last N of the distillation grid;
// trained here with N = that N, or 100 if it is "all", when the distillation protocol did not
// run), on 8 test images spread over the test set; signed colors (red +, blue −), each map scaled
// to the 99th percentile of its |values|. Rows are captioned with the net, columns with the
// image's class. Rank 0 only.
#include <cstdio>

#include "jacnet/io/png.hpp"
#include "jacnet/io/weights.hpp"
#include "protocols.hpp"

namespace jacnet::fashion {

namespace {

template <class Net>
Matrix<T> label_rows(const Net& net, const Data& d) {
  const auto rec = losses::TeacherData<T>::record(net, d.X, true);
  const Index C = rec.outputs.cols();
  Matrix<T> G(d.X.rows(), d.X.cols());
  for (Index b = 0; b < d.X.rows(); ++b) G.row(b) = rec.jacobian.row(b * C + d.y[std::size_t(b)]);
  return G;
}

/// The CE and Jac+CE students of a distillation pair: loaded from <out>/students when that
/// grid ran in this configuration, else trained here.
template <class Student, class Teacher, class Make>
std::vector<std::pair<Student, std::string>> students(Context& ctx, const Teacher& teacher,
                                                       const std::string& protocol, Make make) {
  const Config& c = ctx.cfg;
  const auto names = distill_method_names();
  const std::size_t rows[] = {0, 2};  // CE, Jac+CE
  std::vector<std::pair<Student, std::string>> out;
  const Index n = c.distill_n.back();
  if (c.has(protocol)) {
    for (std::size_t row : rows) {
      Student s = make(100);
      io::load_weights(s, student_path(c, protocol, names[row]));
      out.emplace_back(s, names[row] + " student\n(N=" + n_name(n) + ")");
    }
  } else {
    const Index m = n == 0 ? 100 : n;
    const Data d = take(ctx.fm.train.images, ctx.fm.train.labels,
                        train::subset_per_class(ctx.fm.train.labels, m, 1, 10));
    const auto data = losses::TeacherData<T>::record(teacher, d.X, true);
    for (std::size_t row : rows) {
      Student s = make(100);
      train_distill_student(c, row, s, d, &data, teacher, 10);
      out.emplace_back(s, names[row] + " student\n(N=" + n_name(m) + ")");
    }
  }
  return out;
}

}  // namespace

void run_saliency(Context& ctx, const TeacherNet& teacher, const TanhMlp* tanh_teacher) {
  if (!ctx.comm.is_root()) return;
  const Config& c = ctx.cfg;
  const Data& test = ctx.test;
  const Index K = std::min<Index>(8, test.X.rows());
  std::vector<Index> idx;
  for (Index i = 0; i < K; ++i) idx.push_back(i * (test.X.rows() / K));
  const Data d = take(test.X, test.y, idx);
  const Shape sh{1, 28, 28};
  const float lo = d.X.minCoeff(), hi = d.X.maxCoeff();

  plot::ImageGrid g;
  g.title = "Saliency: label-row input gradients ∇ₓ f_y of teachers and students";
  g.columns = static_cast<int>(K);
  for (Index b = 0; b < K; ++b) {
    g.tiles.push_back(
        io::upscale(io::to_rgb(io::image_from_sample(d.X.row(b).data(), sh, lo, hi)), 3));
    g.column_captions.push_back(io::kFashionMnistClasses[std::size_t(d.y[std::size_t(b)])]);
  }
  g.row_captions.push_back("input");
  auto add = [&](const Matrix<T>& G, const std::string& name) {
    g.row_captions.push_back(name);
    for (Index b = 0; b < K; ++b)
      g.tiles.push_back(io::upscale(
          io::saliency_image(G.row(b).data(), sh,
                             {.mode = io::SaliencyMode::signed_, .percentile = 99}),
          3));
  };
  add(label_rows(teacher, d), "CNN teacher (ReLU)");
  for (const auto& [s, name] :
       students<MlpNet>(ctx, teacher, "distill", [](std::uint64_t seed) { return make_mlp(seed); }))
    add(label_rows(s, d), "ReLU MLP " + name);
  if (tanh_teacher) {
    add(label_rows(*tanh_teacher, d), "tanh MLP teacher");
    for (const auto& [s, name] : students<TanhMlp>(ctx, *tanh_teacher, "distill_tanh",
                                                   [](std::uint64_t seed) {
                                                     return make_tanh_student(seed);
                                                   }))
      add(label_rows(s, d), "tanh MLP " + name);
  }
  g.notes = {"Each map: the gradient of the logit of the image's true class with respect to the "
             "input pixels,",
             "red = positive, blue = negative, white = 0; each map scaled to the 99th percentile "
             "of its |values|.",
             "Students: distillation seed 0 (CE: labels only; Jac+CE: labels + the teacher's "
             "label-row Jacobian)."};
  std::vector<std::string> row_names;
  for (const auto& r : g.row_captions) {
    std::string one = r;
    for (auto& ch : one)
      if (ch == '\n') ch = ' ';
    row_names.push_back(one);
  }
  ctx.report.results["saliency"]["rows"] = row_names;
  ctx.report.section("Saliency maps", "", {});
  ctx.report.figure(c.out, "saliency", g,
                    std::to_string(K) + " test images (columns); rows: the input, then label-row "
                    "input gradients (signed, red +, blue −)");
}

}  // namespace jacnet::fashion
