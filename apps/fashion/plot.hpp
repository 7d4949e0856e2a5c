#pragma once
// apps/fashion/plot.hpp — the main job's figures, drawn with cairo (Debian libcairo2-dev; why cairo:
// docs/app.md § Plots): line plots with labeled axes, tick values, optional log x, error bars
// (mean ± std over seeds), a legend and a title, and captioned image grids (saliency maps).
// Every figure is written twice, atomically: <stem>.png (raster) and <stem>.svg (vector).
//
// Built without cairo (CMake says so at configure time), available() is false, write_* write
// nothing and return no files, and unavailable_reason() says why; the caller prints it.
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "jacnet/io/png.hpp"

namespace jacnet::fashion::plot {

/// One line: points (x, y) with optional symmetric error bars (err: ± half-length, empty: none).
struct Series {
  std::string label;
  std::vector<double> x, y, err;
  bool dashed = false;   ///< dashed line (e.g. a prediction beside a measurement)
  bool markers = true;   ///< a dot at each point
  int color = -1;        ///< palette index; -1: the series' position in the figure
};

struct Figure {
  std::string title, xlabel, ylabel;
  std::vector<Series> series;
  bool logx = false;                                   ///< log10 x axis (x > 0)
  std::vector<std::pair<double, std::string>> xticks;  ///< custom x ticks (empty: automatic)
  std::optional<double> ymin, ymax;                    ///< y range (unset: from the data)
  std::optional<double> hline;                         ///< a gray horizontal reference line
  bool dodge = false;  ///< shift series sideways by a few pixels so their error bars do not overlap
  std::string note;    ///< a line of small text under the plot (what the bars are, units, ...)
};

/// A grid of images with a caption per row and per column (saliency maps).
struct ImageGrid {
  std::string title;
  std::vector<std::string> row_captions;     ///< one per row, left of the row
  std::vector<std::string> column_captions;  ///< one per column, above the first row
  std::vector<io::Image> tiles;              ///< row-major, gray or RGB, all the same size
  int columns = 1;
  std::vector<std::string> notes;            ///< lines of small text under the grid
};

/// True when built with cairo.
bool available();
/// Why no figures are written ("" when available()).
std::string unavailable_reason();

/// Writes <stem>.png and <stem>.svg; returns the file names written (none without cairo).
/// Throws ValueError for an inconsistent figure (sizes, log x of x <= 0) and IoError when a
/// file cannot be written.
std::vector<std::string> write(const std::filesystem::path& stem, const Figure& f);
std::vector<std::string> write(const std::filesystem::path& stem, const ImageGrid& g);

}  // namespace jacnet::fashion::plot
