// apps/fashion/report.cpp — tables, CSV, plot and the run's JSON files (report.hpp).
#include "report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <sstream>

#include "jacnet/io/atomic_file.hpp"
#include "jacnet/io/png.hpp"

namespace jacnet::fashion {

using nlohmann::json;

std::pair<double, double> mean_std(const std::vector<double>& v) {
  double m = 0, s = 0;
  for (double x : v) m += x;
  m /= double(v.size());
  for (double x : v) s += (x - m) * (x - m);
  return {m, v.size() > 1 ? std::sqrt(s / double(v.size() - 1)) : 0.0};
}

std::string n_name(Index n) { return n == 0 ? "all" : std::to_string(n); }

namespace {

/// Display width of UTF-8 text (code points; the tables use only narrow characters).
std::size_t width(const std::string& s) {
  std::size_t w = 0;
  for (unsigned char ch : s) w += (ch & 0xC0) != 0x80;
  return w;
}
std::string pad_left(const std::string& s, std::size_t w) {
  return std::string(w > width(s) ? w - width(s) : 0, ' ') + s;
}
std::string pad_right(const std::string& s, std::size_t w) {
  return s + std::string(w > width(s) ? w - width(s) : 0, ' ');
}

std::string pm(const std::vector<double>& v) {
  const auto [m, s] = mean_std(v);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%6.2f ± %5.2f", 100 * m, 100 * s);
  return buf;
}

}  // namespace

Table::Table(std::string title_, std::string corner_, std::vector<std::string> rows_,
             std::vector<std::string> columns_)
    : title(std::move(title_)),
      corner(std::move(corner_)),
      rows(std::move(rows_)),
      columns(std::move(columns_)),
      values(rows.size(), std::vector<std::vector<double>>(columns.size())) {}

void Table::print(std::FILE* f) const {
  std::size_t name_w = width(corner), cell_w = 15;
  for (const auto& r : rows) name_w = std::max(name_w, width(r));
  for (const auto& c : columns) cell_w = std::max(cell_w, width(c));
  std::ostringstream os;
  os << title << "\n" << pad_right(corner, name_w);
  for (const auto& c : columns) os << " | " << pad_left(c, cell_w);
  os << "\n";
  for (std::size_t r = 0; r < rows.size(); ++r) {
    os << pad_right(rows[r], name_w);
    for (std::size_t c = 0; c < columns.size(); ++c) os << " | " << pad_left(pm(values[r][c]), cell_w);
    os << "\n";
  }
  std::fputs(os.str().c_str(), f);
}

json Table::to_json() const {
  json t = json::object();
  for (std::size_t r = 0; r < rows.size(); ++r)
    for (std::size_t c = 0; c < columns.size(); ++c) {
      const auto [m, s] = mean_std(values[r][c]);
      t[rows[r]][columns[c]] = {{"mean", m}, {"std", s}};
    }
  return t;
}

std::vector<std::vector<double>> Table::means() const {
  std::vector<std::vector<double>> m(rows.size());
  for (std::size_t r = 0; r < rows.size(); ++r)
    for (const auto& cell : values[r]) m[r].push_back(mean_std(cell).first);
  return m;
}

void write_csv(const std::filesystem::path& path, const std::string& header,
               const std::vector<std::string>& rows) {
  std::string s = header + "\n";
  for (const auto& r : rows) s += r + "\n";
  io::write_file_atomic(path, s);
}

// ---- the raster line plot ------------------------------------------------------------------------
namespace {

struct Rgb {
  std::uint8_t r, g, b;
};
const Rgb kColors[] = {{0, 0, 0},     {230, 25, 75},  {60, 180, 75},
                       {0, 130, 200}, {245, 130, 48}, {145, 30, 180}};
const char* kColorNames[] = {"black", "red", "green", "blue", "orange", "purple"};

void put(io::Image& im, int x, int y, Rgb c, int thick = 1) {
  for (int dy = -thick / 2; dy <= thick / 2; ++dy)
    for (int dx = -thick / 2; dx <= thick / 2; ++dx) {
      const int px = x + dx, py = y + dy;
      if (px < 0 || py < 0 || px >= im.width || py >= im.height) continue;
      im.at(px, py, 0) = c.r;
      im.at(px, py, 1) = c.g;
      im.at(px, py, 2) = c.b;
    }
}
void line(io::Image& im, int x0, int y0, int x1, int y1, Rgb c, int thick = 1) {
  const int n = std::max(std::abs(x1 - x0), std::abs(y1 - y0));
  for (int i = 0; i <= n; ++i) {
    const double t = n ? double(i) / n : 0.0;
    put(im, int(std::lround(x0 + t * (x1 - x0))), int(std::lround(y0 + t * (y1 - y0))), c, thick);
  }
}

}  // namespace

const char* plot_color(std::size_t row) { return kColorNames[row % 6]; }

// Accuracy (y, 0..100 %, grid lines every 10 %) against the column index (x, equally spaced);
// one line per row; legend: colored squares top-left in row order.
void write_line_plot(const std::filesystem::path& path, const std::vector<std::vector<double>>& acc) {
  const std::size_t n = acc.empty() ? 0 : acc[0].size();
  const int W = 640, H = 420, L = 50, R = 20, Tp = 40, Bt = 40;
  io::Image im(W, H, 3, 255);
  auto xpos = [&](std::size_t i) {
    return n == 1 ? L + (W - L - R) / 2 : L + int((W - L - R) * double(i) / double(n - 1));
  };
  auto ypos = [&](double a) { return H - Bt - int((H - Tp - Bt) * std::clamp(a, 0.0, 1.0)); };
  for (int k = 0; k <= 10; ++k)
    line(im, L, ypos(k / 10.0), W - R, ypos(k / 10.0), k == 0 ? Rgb{0, 0, 0} : Rgb{220, 220, 220});
  line(im, L, ypos(0), L, ypos(1), {0, 0, 0});
  for (std::size_t i = 0; i < n; ++i) line(im, xpos(i), ypos(0), xpos(i), ypos(0) + 6, {0, 0, 0});
  for (std::size_t m = 0; m < acc.size(); ++m) {
    const Rgb c = kColors[m % 6];
    for (std::size_t i = 0; i < acc[m].size(); ++i) {
      if (i > 0) line(im, xpos(i - 1), ypos(acc[m][i - 1]), xpos(i), ypos(acc[m][i]), c, 2);
      for (int d = -3; d <= 3; ++d)
        line(im, xpos(i) - 3, ypos(acc[m][i]) + d, xpos(i) + 3, ypos(acc[m][i]) + d, c);
    }
    for (int d = 0; d < 12; ++d) line(im, 10 + 20 * int(m), 10 + d, 22 + 20 * int(m), 10 + d, c);
  }
  io::write_png(path, im);
}

void Report::write(const std::filesystem::path& out) const {
  io::write_file_atomic(out / "results.json", results.dump(2) + "\n");
  io::write_file_atomic(out / "run.json", run.dump(2) + "\n");
}

}  // namespace jacnet::fashion
