#pragma once
// apps/fashion/report.hpp — tables (console, JSON, markdown), paired per-seed differences, CSV
// files, figures (plot.hpp), and the files of a run:
//   results.json  configuration, every table (mean and std per cell; paired differences with their
//                 per-seed values and win counts) and the teachers' accuracies;
//   results.md    the same tables in markdown (docs/results.md is built from it), with the figures;
//   run.json      how this run went: command, ranks, threads, teacher cache hits, wall times.
// results.json, results.md, the CSVs and the figures are deterministic: the same bits for any
// number of ranks or threads and after --resume (wall times live in run.json only).
// Only rank 0 writes (the protocols call these on rank 0).
#include <cstdio>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "jacnet/core/tensor.hpp"
#include "plot.hpp"

namespace jacnet::fashion {

/// Mean and sample standard deviation (0 for one value).
std::pair<double, double> mean_std(const std::vector<double>& v);

/// "all" for 0, else the number.
std::string n_name(Index n);

/// A results table: rows (methods, λ, ...) × columns (N, σ, ...), per-seed values per cell
/// (fractions; shown in percent). A `paired` table holds per-seed differences (row "A − B": the
/// value of A minus the value of B at the same seed, i.e. the same subset, initialization and
/// batch order) and shows "mean ± std (wins/seeds)", wins = seeds where the difference is > 0.
struct Table {
  std::string title;   ///< printed above the table
  std::string corner;  ///< header of the row-name column
  std::vector<std::string> rows, columns;
  std::vector<std::vector<std::vector<double>>> values;  ///< [row][column] → per-seed values
  bool paired = false;

  Table(std::string title, std::string corner, std::vector<std::string> rows,
        std::vector<std::string> columns);
  /// Console: "name | mean ± std | ..." in percent (values are fractions), padded by display width.
  void print(std::FILE* f = stdout) const;
  /// Markdown table (a header line, then rows), percent.
  std::string markdown() const;
  /// {row: {column: {"mean": m, "std": s}}} (fractions); paired tables add "wins", "seeds" and
  /// the per-seed "differences".
  nlohmann::json to_json() const;
  /// Row means (for plots): [row][column].
  std::vector<std::vector<double>> means() const;
  /// Index of a row by name (ValueError naming the table and the row when absent).
  std::size_t row(const std::string& name) const;
};

/// The paired table of `t`: one row "A − B" per (A, B) in `pairs` (row names of t), with the
/// per-seed differences A − B of every column. The cells of A and B must hold the same number of
/// seeds, in seed order.
Table paired_differences(const Table& t, const std::string& title,
                         const std::vector<std::pair<std::string, std::string>>& pairs);

/// A line figure of a table: one series per row (mean ± std over seeds, in percent) at x.
plot::Figure table_figure(const Table& t, const std::vector<double>& x);

/// Writes a CSV file atomically (header line + rows, each ending in '\n').
void write_csv(const std::filesystem::path& path, const std::string& header,
               const std::vector<std::string>& rows);

struct Report {
  nlohmann::json results = nlohmann::json::object();
  nlohmann::json run = nlohmann::json::object();
  std::string markdown;  ///< results.md, appended to by the protocols in order

  /// Appends a markdown section: "## heading", the text paragraphs, then the tables.
  void section(const std::string& heading, const std::string& text,
               const std::vector<const Table*>& tables);
  /// Writes <out>/<stem>.png/.svg (plot.hpp), prints a one-line caption, adds the figure to
  /// results.md and its files to run.json; without cairo prints the reason once instead.
  void figure(const std::filesystem::path& out, const std::string& stem, const plot::Figure& f,
              const std::string& caption);
  void figure(const std::filesystem::path& out, const std::string& stem, const plot::ImageGrid& g,
              const std::string& caption);
  /// Writes results.json, results.md and run.json into `out` atomically.
  void write(const std::filesystem::path& out) const;

 private:
  void figure_written(const std::string& stem, const std::vector<std::string>& files,
                      const std::string& title, const std::string& caption);
  bool told_no_plots_ = false;
};

}  // namespace jacnet::fashion
