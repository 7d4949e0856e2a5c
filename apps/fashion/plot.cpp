// apps/fashion/plot.cpp — figures with cairo (plot.hpp). Each figure is drawn by one function on a
// cairo context, once onto an image surface (PNG, 1.25x scale) and once onto an SVG surface; the
// bytes are collected in memory and written with io::write_file_atomic.
#include "plot.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <numbers>
#include <sstream>

#include "jacnet/core/error.hpp"
#include "jacnet/io/atomic_file.hpp"

#ifdef JACNET_FASHION_WITH_CAIRO
#include <cairo-svg.h>
#include <cairo.h>
#endif

namespace jacnet::fashion::plot {

#ifndef JACNET_FASHION_WITH_CAIRO

bool available() { return false; }
std::string unavailable_reason() {
  return "jacnet_fashion was built without cairo (Debian libcairo2-dev; scripts/install_deps.sh "
         "installs it): no figures are written. Install it and reconfigure CMake.";
}
std::vector<std::string> write(const std::filesystem::path&, const Figure&) { return {}; }
std::vector<std::string> write(const std::filesystem::path&, const ImageGrid&) { return {}; }

#else

bool available() { return true; }
std::string unavailable_reason() { return ""; }

namespace {

struct Rgb {
  double r, g, b;
};
// Distinguishable colors (Tableau 10, black first).
const Rgb kPalette[] = {{0.00, 0.00, 0.00}, {0.84, 0.15, 0.16}, {0.17, 0.63, 0.17},
                        {0.12, 0.47, 0.71}, {1.00, 0.50, 0.05}, {0.58, 0.40, 0.74},
                        {0.55, 0.34, 0.29}, {0.89, 0.47, 0.76}, {0.50, 0.50, 0.50},
                        {0.09, 0.75, 0.81}};
constexpr int kPaletteSize = sizeof(kPalette) / sizeof(kPalette[0]);
constexpr const char* kFont = "DejaVu Sans";

cairo_status_t append_bytes(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

void check_status(cairo_status_t s, const std::filesystem::path& path, const char* what) {
  JACNET_CHECK(s == CAIRO_STATUS_SUCCESS, IoError, "fashion::plot", "'", path.string(), "': cairo ",
               what, " failed: ", cairo_status_to_string(s));
}

/// Draws `draw(cr)` (logical size W x H) into <stem>.png (scaled) and <stem>.svg.
template <class Draw>
std::vector<std::string> render(const std::filesystem::path& stem, double W, double H,
                                double png_scale, Draw&& draw) {
  std::filesystem::path png = stem, svg = stem;
  png += ".png";
  svg += ".svg";
  {
    cairo_surface_t* s = cairo_image_surface_create(
        CAIRO_FORMAT_RGB24, static_cast<int>(std::ceil(W * png_scale)),
        static_cast<int>(std::ceil(H * png_scale)));
    cairo_t* cr = cairo_create(s);
    cairo_scale(cr, png_scale, png_scale);
    draw(cr);
    const cairo_status_t st = cairo_status(cr);
    cairo_destroy(cr);
    std::string bytes;
    const cairo_status_t wr =
        st == CAIRO_STATUS_SUCCESS ? cairo_surface_write_to_png_stream(s, append_bytes, &bytes) : st;
    cairo_surface_destroy(s);
    check_status(wr, png, "drawing / PNG encoding");
    io::write_file_atomic(png, bytes);
  }
  {
    std::string bytes;
    cairo_surface_t* s = cairo_svg_surface_create_for_stream(append_bytes, &bytes, W, H);
    cairo_t* cr = cairo_create(s);
    draw(cr);
    const cairo_status_t st = cairo_status(cr);
    cairo_destroy(cr);
    cairo_surface_finish(s);
    const cairo_status_t fin = st == CAIRO_STATUS_SUCCESS ? cairo_surface_status(s) : st;
    cairo_surface_destroy(s);
    check_status(fin, svg, "drawing / SVG encoding");
    io::write_file_atomic(svg, bytes);
  }
  return {png.filename().string(), svg.filename().string()};
}

void font(cairo_t* cr, double size, bool bold = false) {
  cairo_select_font_face(cr, kFont, CAIRO_FONT_SLANT_NORMAL,
                         bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
}

double text_width(cairo_t* cr, const std::string& s) {
  cairo_text_extents_t e;
  cairo_text_extents(cr, s.c_str(), &e);
  return e.x_advance;
}

/// Text with its anchor at (x, y): ax = 0 left, 0.5 center, 1 right; y is the baseline
/// (ay = 0) or the vertical middle of capitals (ay = 0.5).
void text(cairo_t* cr, const std::string& s, double x, double y, double ax, double ay = 0) {
  cairo_font_extents_t fe;
  cairo_font_extents(cr, &fe);
  cairo_move_to(cr, x - ax * text_width(cr, s), y + ay * 0.72 * fe.ascent);
  cairo_show_text(cr, s.c_str());
}

void color(cairo_t* cr, const Rgb& c) { cairo_set_source_rgb(cr, c.r, c.g, c.b); }

/// Selects the font at `size`, made smaller when `s` would be wider than `max_width`.
void font_fit(cairo_t* cr, const std::string& s, double size, bool bold, double max_width) {
  font(cr, size, bold);
  const double w = text_width(cr, s);
  if (w > max_width && w > 0) font(cr, size * max_width / w, bold);
}

std::string format_tick(double v, double step) {
  int decimals = 0;
  if (step < 1) decimals = std::clamp(static_cast<int>(std::ceil(-std::log10(step) - 1e-9)), 0, 6);
  if (std::abs(v) < step * 1e-9) v = 0;
  char b[32];
  std::snprintf(b, sizeof b, "%.*f", decimals, v);
  return b;
}

/// About `target` round tick values (1, 2, 5 × 10^k steps) inside [lo, hi].
std::vector<std::pair<double, std::string>> linear_ticks(double lo, double hi, int target) {
  const double span = hi > lo ? hi - lo : 1.0;
  const double raw = span / target, mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double r = raw / mag;
  const double step = (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
  std::vector<std::pair<double, std::string>> t;
  for (double k = std::ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k += 1)
    t.emplace_back(k * step, format_tick(k * step, step));
  return t;
}

/// Ticks of a log axis over [lo, hi] (data units, > 0): 1, 2, 5 × 10^k, or decades only when
/// the range spans more than 3 decades.
std::vector<std::pair<double, std::string>> log_ticks(double lo, double hi) {
  std::vector<std::pair<double, std::string>> t;
  const bool dense = std::log10(hi / lo) <= 3;
  for (int e = static_cast<int>(std::floor(std::log10(lo))); e <= static_cast<int>(std::ceil(std::log10(hi))); ++e)
    for (double m : {1.0, 2.0, 5.0}) {
      if (!dense && m != 1.0) continue;
      const double v = m * std::pow(10.0, e);
      if (v < lo * (1 - 1e-9) || v > hi * (1 + 1e-9)) continue;
      char b[32];
      std::snprintf(b, sizeof b, "%g", v);
      t.emplace_back(v, b);
    }
  return t;
}

void check_figure(const Figure& f) {
  JACNET_CHECK(!f.series.empty(), ValueError, "fashion::plot", "figure '", f.title, "' has no series");
  for (const auto& s : f.series) {
    JACNET_CHECK(s.x.size() == s.y.size() && (s.err.empty() || s.err.size() == s.y.size()),
                 ValueError, "fashion::plot", "figure '", f.title, "', series '", s.label, "': ",
                 s.x.size(), " x values, ", s.y.size(), " y values, ", s.err.size(), " error bars");
    if (f.logx)
      for (double x : s.x)
        JACNET_CHECK(x > 0, ValueError, "fashion::plot", "figure '", f.title, "', series '",
                     s.label, "': x = ", x, " on a log axis");
  }
}

void draw_figure(cairo_t* cr, const Figure& f, double W, double H) {
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  // ---- data ranges ----
  double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
  for (const auto& s : f.series)
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.y[i])) continue;
      const double e = s.err.empty() || !std::isfinite(s.err[i]) ? 0 : s.err[i];
      xlo = std::min(xlo, s.x[i]);
      xhi = std::max(xhi, s.x[i]);
      ylo = std::min(ylo, s.y[i] - e);
      yhi = std::max(yhi, s.y[i] + e);
    }
  for (const auto& [v, _] : f.xticks) {
    xlo = std::min(xlo, v);
    xhi = std::max(xhi, v);
  }
  if (f.hline) {
    ylo = std::min(ylo, *f.hline);
    yhi = std::max(yhi, *f.hline);
  }
  if (!std::isfinite(xlo)) xlo = 0, xhi = 1;
  if (!std::isfinite(ylo)) ylo = 0, yhi = 1;
  if (f.ymin) ylo = *f.ymin;
  if (f.ymax) yhi = *f.ymax;
  if (!(yhi > ylo)) ylo -= 0.5, yhi += 0.5;
  if (!f.ymin || !f.ymax) {
    const double pad = 0.06 * (yhi - ylo);
    if (!f.ymin) ylo -= pad;
    if (!f.ymax) yhi += pad;
  }
  auto tx = [&](double x) { return f.logx ? std::log10(x) : x; };
  double ax0 = tx(xlo), ax1 = tx(xhi);
  if (!(ax1 > ax0)) ax0 -= 0.5, ax1 += 0.5;
  const double xpad = 0.05 * (ax1 - ax0);
  ax0 -= xpad;
  ax1 += xpad;

  // ---- layout ----
  font(cr, 11.5);
  double legend_w = 0;
  for (const auto& s : f.series) legend_w = std::max(legend_w, text_width(cr, s.label));
  legend_w += 52;
  const double left = 74, top = 46, right = W - legend_w - 14;
  const double bottom = H - (f.note.empty() ? 58 : 78);
  auto px = [&](double x) { return left + (tx(x) - ax0) / (ax1 - ax0) * (right - left); };
  auto py = [&](double y) { return bottom - (y - ylo) / (yhi - ylo) * (bottom - top); };

  // ---- title ----
  font_fit(cr, f.title, 15, true, W - 24);
  cairo_set_source_rgb(cr, 0, 0, 0);
  text(cr, f.title, W / 2, 26, 0.5);

  // ---- grid, ticks and labels ----
  const auto yt = linear_ticks(ylo, yhi, 7);
  const auto xt = !f.xticks.empty() ? f.xticks
                  : f.logx          ? log_ticks(xlo, xhi)
                                    : linear_ticks(ax0, ax1, 7);
  cairo_set_line_width(cr, 0.8);
  cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
  for (const auto& [v, _] : yt) {
    cairo_move_to(cr, left, py(v));
    cairo_line_to(cr, right, py(v));
  }
  for (const auto& [v, _] : xt) {
    cairo_move_to(cr, px(v), top);
    cairo_line_to(cr, px(v), bottom);
  }
  cairo_stroke(cr);
  if (f.hline) {
    const double dash[] = {6, 4};
    cairo_set_dash(cr, dash, 2, 0);
    cairo_set_source_rgb(cr, 0.45, 0.45, 0.45);
    cairo_set_line_width(cr, 1.2);
    cairo_move_to(cr, left, py(*f.hline));
    cairo_line_to(cr, right, py(*f.hline));
    cairo_stroke(cr);
    cairo_set_dash(cr, nullptr, 0, 0);
  }
  cairo_set_source_rgb(cr, 0, 0, 0);
  cairo_set_line_width(cr, 1.2);
  cairo_rectangle(cr, left, top, right - left, bottom - top);
  cairo_stroke(cr);
  font(cr, 11);
  for (const auto& [v, label] : yt) {
    cairo_move_to(cr, left - 5, py(v));
    cairo_line_to(cr, left, py(v));
    cairo_stroke(cr);
    text(cr, label, left - 8, py(v), 1, 0.5);
  }
  for (const auto& [v, label] : xt) {
    cairo_move_to(cr, px(v), bottom);
    cairo_line_to(cr, px(v), bottom + 5);
    cairo_stroke(cr);
    text(cr, label, px(v), bottom + 19, 0.5);
  }
  font(cr, 12.5);
  text(cr, f.xlabel + (f.logx ? "  (log scale)" : ""), (left + right) / 2, bottom + 40, 0.5);
  cairo_save(cr);
  cairo_translate(cr, 20, (top + bottom) / 2);
  cairo_rotate(cr, -std::numbers::pi / 2);
  text(cr, f.ylabel, 0, 0, 0.5, 0.5);
  cairo_restore(cr);
  if (!f.note.empty()) {
    font_fit(cr, f.note, 10.5, false, W - 28);
    cairo_set_source_rgb(cr, 0.25, 0.25, 0.25);
    text(cr, f.note, 14, H - 12, 0);
  }

  // ---- series (clipped to the plot area) ----
  const std::size_t n = f.series.size();
  cairo_save(cr);
  cairo_rectangle(cr, left, top, right - left, bottom - top);
  cairo_clip(cr);
  for (std::size_t k = 0; k < n; ++k) {
    const Series& s = f.series[k];
    const Rgb c = kPalette[(s.color >= 0 ? s.color : static_cast<int>(k)) % kPaletteSize];
    const double off = f.dodge ? (double(k) - double(n - 1) / 2) * 3.0 : 0.0;
    color(cr, c);
    cairo_set_line_width(cr, 1.8);
    if (s.dashed) {
      const double dash[] = {7, 4};
      cairo_set_dash(cr, dash, 2, 0);
    }
    bool pen = false;
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.y[i])) {
        pen = false;
        continue;
      }
      if (pen) cairo_line_to(cr, px(s.x[i]) + off, py(s.y[i]));
      else cairo_move_to(cr, px(s.x[i]) + off, py(s.y[i]));
      pen = true;
    }
    cairo_stroke(cr);
    cairo_set_dash(cr, nullptr, 0, 0);
    cairo_set_line_width(cr, 1.2);
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.y[i])) continue;
      const double x = px(s.x[i]) + off;
      if (!s.err.empty() && std::isfinite(s.err[i]) && s.err[i] > 0) {
        const double y0 = py(s.y[i] - s.err[i]), y1 = py(s.y[i] + s.err[i]);
        cairo_move_to(cr, x, y0);
        cairo_line_to(cr, x, y1);
        cairo_move_to(cr, x - 3.5, y0);
        cairo_line_to(cr, x + 3.5, y0);
        cairo_move_to(cr, x - 3.5, y1);
        cairo_line_to(cr, x + 3.5, y1);
        cairo_stroke(cr);
      }
      if (s.markers) {
        cairo_arc(cr, x, py(s.y[i]), 3.0, 0, 2 * std::numbers::pi);
        cairo_fill(cr);
      }
    }
  }
  cairo_restore(cr);

  // ---- legend (right of the plot) ----
  font(cr, 11.5);
  const double lx = right + 14;
  double ly = top + 10;
  for (std::size_t k = 0; k < n; ++k) {
    const Series& s = f.series[k];
    const Rgb c = kPalette[(s.color >= 0 ? s.color : static_cast<int>(k)) % kPaletteSize];
    color(cr, c);
    cairo_set_line_width(cr, 1.8);
    if (s.dashed) {
      const double dash[] = {7, 4};
      cairo_set_dash(cr, dash, 2, 0);
    }
    cairo_move_to(cr, lx, ly);
    cairo_line_to(cr, lx + 26, ly);
    cairo_stroke(cr);
    cairo_set_dash(cr, nullptr, 0, 0);
    if (s.markers) {
      cairo_arc(cr, lx + 13, ly, 3.0, 0, 2 * std::numbers::pi);
      cairo_fill(cr);
    }
    cairo_set_source_rgb(cr, 0, 0, 0);
    text(cr, s.label, lx + 34, ly, 0, 0.5);
    ly += 20;
  }
}

/// RGB24 cairo surface of an 8-bit gray or RGB image.
cairo_surface_t* surface_of(const io::Image& im) {
  cairo_surface_t* s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, im.width, im.height);
  cairo_surface_flush(s);
  unsigned char* data = cairo_image_surface_get_data(s);
  const int stride = cairo_image_surface_get_stride(s);
  for (int y = 0; y < im.height; ++y) {
    auto* row = reinterpret_cast<std::uint32_t*>(data + static_cast<std::ptrdiff_t>(y) * stride);
    for (int x = 0; x < im.width; ++x) {
      const std::uint32_t r = im.at(x, y, 0);
      const std::uint32_t g = im.channels >= 3 ? im.at(x, y, 1) : r;
      const std::uint32_t b = im.channels >= 3 ? im.at(x, y, 2) : r;
      row[x] = 0xFF000000u | (r << 16) | (g << 8) | b;
    }
  }
  cairo_surface_mark_dirty(s);
  return s;
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string l;
  while (std::getline(ss, l)) out.push_back(l);
  if (out.empty()) out.push_back("");
  return out;
}

}  // namespace

std::vector<std::string> write(const std::filesystem::path& stem, const Figure& f) {
  check_figure(f);
  const double W = 780, H = 480;
  return render(stem, W, H, 1.25, [&](cairo_t* cr) { draw_figure(cr, f, W, H); });
}

std::vector<std::string> write(const std::filesystem::path& stem, const ImageGrid& g) {
  JACNET_CHECK(!g.tiles.empty() && g.columns >= 1 && g.tiles.size() % std::size_t(g.columns) == 0,
               ValueError, "fashion::plot", "image grid '", g.title, "': ", g.tiles.size(),
               " tiles in rows of ", g.columns);
  const std::size_t rows = g.tiles.size() / std::size_t(g.columns);
  JACNET_CHECK(g.row_captions.size() == rows &&
                   (g.column_captions.empty() || g.column_captions.size() == std::size_t(g.columns)),
               ValueError, "fashion::plot", "image grid '", g.title, "': ", g.row_captions.size(),
               " row captions for ", rows, " rows, ", g.column_captions.size(),
               " column captions for ", g.columns, " columns");
  const int tw = g.tiles[0].width, th = g.tiles[0].height;
  for (const auto& t : g.tiles)
    JACNET_CHECK(t.width == tw && t.height == th && (t.channels == 1 || t.channels == 3),
                 ValueError, "fashion::plot", "image grid '", g.title, "': tiles differ in size (",
                 t.width, "x", t.height, " vs ", tw, "x", th, ") or are not gray/RGB");
  // Layout from text widths measured on a scratch surface (the same font on both surfaces).
  double caption_w = 0, column_w = static_cast<double>(tw), notes_w = 0, title_w = 0;
  {
    cairo_surface_t* s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 8, 8);
    cairo_t* cr = cairo_create(s);
    font(cr, 12);
    for (const auto& c : g.row_captions)
      for (const auto& l : lines_of(c)) caption_w = std::max(caption_w, text_width(cr, l));
    font(cr, 11);
    for (const auto& c : g.column_captions) column_w = std::max(column_w, text_width(cr, c) + 6);
    font(cr, 10.5);
    for (const auto& l : g.notes) notes_w = std::max(notes_w, text_width(cr, l));
    font(cr, 15, true);
    title_w = text_width(cr, g.title);
    cairo_destroy(cr);
    cairo_surface_destroy(s);
  }
  const double gap = 6, pad = 12, title_h = 34, colcap_h = g.column_captions.empty() ? 0 : 18;
  const double cell_w = column_w + gap, cell_h = th + gap;
  const double x0 = pad + caption_w + 12, y0 = title_h + colcap_h;
  const double W = std::max({x0 + g.columns * cell_w + pad, notes_w + 2 * pad, title_w + 2 * pad});
  const double H = y0 + double(rows) * cell_h + 8 + 16 * double(g.notes.size()) + pad;
  auto draw = [&](cairo_t* cr) {
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    font(cr, 15, true);
    text(cr, g.title, W / 2, 23, 0.5);
    font(cr, 11);
    for (std::size_t c = 0; c < g.column_captions.size(); ++c)
      text(cr, g.column_captions[c], x0 + double(c) * cell_w + column_w / 2, y0 - 6, 0.5);
    for (std::size_t r = 0; r < rows; ++r) {
      const double ty = y0 + double(r) * cell_h;
      font(cr, 12);
      cairo_set_source_rgb(cr, 0, 0, 0);
      const auto ls = lines_of(g.row_captions[r]);
      for (std::size_t i = 0; i < ls.size(); ++i)
        text(cr, ls[i], x0 - 10, ty + th / 2.0 + (double(i) - double(ls.size() - 1) / 2) * 15, 1,
             0.5);
      for (int c = 0; c < g.columns; ++c) {
        cairo_surface_t* img = surface_of(g.tiles[r * std::size_t(g.columns) + std::size_t(c)]);
        const double tx0 = x0 + c * cell_w + (column_w - tw) / 2;
        cairo_set_source_surface(cr, img, tx0, ty);
        cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
        cairo_rectangle(cr, tx0, ty, tw, th);
        cairo_fill(cr);
        cairo_surface_destroy(img);
      }
    }
    font(cr, 10.5);
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    for (std::size_t i = 0; i < g.notes.size(); ++i)
      text(cr, g.notes[i], pad, y0 + double(rows) * cell_h + 16 + 16 * double(i), 0);
  };
  return render(stem, W, H, 1.0, draw);
}

#endif  // JACNET_FASHION_WITH_CAIRO

}  // namespace jacnet::fashion::plot
