// apps/fashion/saliency.cpp — saliency.png: label-row input Jacobians ∇_x f_y of the teacher and
// of the CE and Jac+CE students (seed 0, the last N of the distillation grid; trained here with
// N = that N, or 100 if it is "all", when the distillation protocol did not run), on 8 test images
// spread over the test set; signed colors (red +, blue −), 99th-percentile scale. Rank 0 only.
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

}  // namespace

void run_saliency(Context& ctx, const TeacherNet& teacher) {
  if (!ctx.comm.is_root()) return;
  const Config& c = ctx.cfg;
  const auto names = distill_method_names();
  std::vector<MlpNet> nets;
  std::vector<std::string> labels;
  const std::size_t rows[] = {0, 2};  // CE, Jac+CE
  if (c.has("distill")) {
    for (std::size_t row : rows) {
      MlpNet s = make_mlp(100);
      io::load_weights(s, student_path(c, names[row]));
      nets.push_back(s);
      labels.push_back(names[row] + " student (N=" + n_name(c.distill_n.back()) + ")");
    }
  } else {
    const Index n = c.distill_n.back();
    const Data d = take(ctx.fm.train.images, ctx.fm.train.labels,
                        train::subset_per_class(ctx.fm.train.labels, n == 0 ? 100 : n, 1, 10));
    const auto data = losses::TeacherData<T>::record(teacher, d.X, true);
    for (std::size_t row : rows) {
      MlpNet s = make_mlp(100);
      train_distill_student(c, row, s, d, &data, teacher, 10);
      nets.push_back(s);
      labels.push_back(names[row] + " student");
    }
  }

  const Data& test = ctx.test;
  const Index K = std::min<Index>(8, test.X.rows());
  std::vector<Index> idx;
  for (Index i = 0; i < K; ++i) idx.push_back(i * (test.X.rows() / K));
  const Data d = take(test.X, test.y, idx);
  std::vector<io::Image> tiles;
  const Shape sh{1, 28, 28};
  const float lo = d.X.minCoeff(), hi = d.X.maxCoeff();
  for (Index b = 0; b < K; ++b)
    tiles.push_back(
        io::upscale(io::to_rgb(io::image_from_sample(d.X.row(b).data(), sh, lo, hi)), 3));
  std::vector<std::string> row_names{"input"};
  auto add = [&](const Matrix<T>& G, const std::string& name) {
    row_names.push_back(name);
    for (Index b = 0; b < K; ++b)
      tiles.push_back(io::upscale(
          io::saliency_image(G.row(b).data(), sh,
                             {.mode = io::SaliencyMode::signed_, .percentile = 99}),
          3));
  };
  add(label_rows(teacher, d), "teacher");
  for (std::size_t i = 0; i < nets.size(); ++i) add(label_rows(nets[i], d), labels[i]);
  io::write_png(c.out / "saliency.png", io::tile_images(tiles, int(K)));
  ctx.report.results["saliency"]["rows"] = row_names;
  std::printf("\nsaliency.png: %lld test images (columns); rows:", static_cast<long long>(K));
  for (const auto& r : row_names) std::printf(" [%s]", r.c_str());
  std::printf(" — label-row input Jacobian, signed (red +, blue −), 99th-percentile scale\n");
}

}  // namespace jacnet::fashion
