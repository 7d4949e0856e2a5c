#pragma once
// apps/fashion/report.hpp — tables (console, JSON), CSV files, the distillation plot, and the two
// JSON files of a run:
//   results.json  configuration, every table (mean and std per cell) and the teachers'
//                 accuracies — deterministic: the same bits for any number of ranks or threads;
//   run.json      how this run went: command, ranks, threads, teacher cache hits, wall times.
// Only rank 0 writes (the protocols call these on rank 0).
#include <cstdio>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "jacnet/core/tensor.hpp"

namespace jacnet::fashion {

/// Mean and sample standard deviation (0 for one value).
std::pair<double, double> mean_std(const std::vector<double>& v);

/// "all" for 0, else the number.
std::string n_name(Index n);

/// A results table: rows (methods, λ, ...) × columns (N, σ, ...), per-seed values per cell.
struct Table {
  std::string title;   ///< printed above the table
  std::string corner;  ///< header of the row-name column
  std::vector<std::string> rows, columns;
  std::vector<std::vector<std::vector<double>>> values;  ///< [row][column] → per-seed values

  Table(std::string title, std::string corner, std::vector<std::string> rows,
        std::vector<std::string> columns);
  /// Console: "name | mean ± std | ..." in percent (values are fractions), padded by display width.
  void print(std::FILE* f = stdout) const;
  /// {row: {column: {"mean": m, "std": s}}} (fractions).
  nlohmann::json to_json() const;
  /// Row means (for plots): [row][column].
  std::vector<std::vector<double>> means() const;
};

/// Writes a CSV file atomically (header line + rows, each ending in '\n').
void write_csv(const std::filesystem::path& path, const std::string& header,
               const std::vector<std::string>& rows);

/// Accuracy (0..100 %) against the column index, one line per row; PNG.
void write_line_plot(const std::filesystem::path& path, const std::vector<std::vector<double>>& means);
/// The colors of write_line_plot, in row order (for the caption).
const char* plot_color(std::size_t row);

struct Report {
  nlohmann::json results = nlohmann::json::object();
  nlohmann::json run = nlohmann::json::object();
  /// Writes results.json and run.json into `out` atomically.
  void write(const std::filesystem::path& out) const;
};

}  // namespace jacnet::fashion
