// apps/fashion/report.cpp — tables, paired differences, CSV, figures and the run's files
// (report.hpp).
#include "report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <sstream>

#include "jacnet/io/atomic_file.hpp"
#include "jacnet/core/error.hpp"

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

/// "mean ± std" in percent; paired cells: "+mean ± std (wins/n)".
std::string cell(const std::vector<double>& v, bool paired, bool compact = false) {
  if (v.empty()) return "–";
  const auto [m, s] = mean_std(v);
  char buf[96];
  if (paired) {
    const auto wins = std::count_if(v.begin(), v.end(), [](double x) { return x > 0; });
    std::snprintf(buf, sizeof buf, compact ? "%+.2f ± %.2f (%lld/%zu)" : "%+6.2f ± %5.2f (%lld/%zu)",
                  100 * m, 100 * s, static_cast<long long>(wins), v.size());
  } else {
    std::snprintf(buf, sizeof buf, compact ? "%.2f ± %.2f" : "%6.2f ± %5.2f", 100 * m, 100 * s);
  }
  return buf;
}

/// Markdown cell text: '|' escaped.
std::string md_escape(const std::string& s) {
  std::string o;
  for (char ch : s) {
    if (ch == '|') o += '\\';
    o += ch;
  }
  return o;
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
  std::size_t name_w = width(corner), cell_w = paired ? 22 : 15;
  for (const auto& r : rows) name_w = std::max(name_w, width(r));
  for (const auto& c : columns) cell_w = std::max(cell_w, width(c));
  std::ostringstream os;
  os << title << "\n" << pad_right(corner, name_w);
  for (const auto& c : columns) os << " | " << pad_left(c, cell_w);
  os << "\n";
  for (std::size_t r = 0; r < rows.size(); ++r) {
    os << pad_right(rows[r], name_w);
    for (std::size_t c = 0; c < columns.size(); ++c)
      os << " | " << pad_left(cell(values[r][c], paired), cell_w);
    os << "\n";
  }
  std::fputs(os.str().c_str(), f);
}

std::string Table::markdown() const {
  std::ostringstream os;
  os << "| " << md_escape(corner);
  for (const auto& c : columns) os << " | " << md_escape(c);
  os << " |\n|---";
  for (std::size_t c = 0; c < columns.size(); ++c) os << "|---";
  os << "|\n";
  for (std::size_t r = 0; r < rows.size(); ++r) {
    os << "| " << md_escape(rows[r]);
    for (std::size_t c = 0; c < columns.size(); ++c) os << " | " << cell(values[r][c], paired, true);
    os << " |\n";
  }
  return os.str();
}

json Table::to_json() const {
  json t = json::object();
  for (std::size_t r = 0; r < rows.size(); ++r)
    for (std::size_t c = 0; c < columns.size(); ++c) {
      const auto& v = values[r][c];
      const auto [m, s] = mean_std(v);
      json e = {{"mean", m}, {"std", s}};
      if (paired) {
        e["wins"] = std::count_if(v.begin(), v.end(), [](double x) { return x > 0; });
        e["seeds"] = v.size();
        e["differences"] = v;
      }
      t[rows[r]][columns[c]] = e;
    }
  return t;
}

std::size_t Table::row(const std::string& name) const {
  const auto it = std::find(rows.begin(), rows.end(), name);
  JACNET_CHECK(it != rows.end(), ValueError, "fashion::Table", "table '", title, "' has no row '",
               name, "'");
  return static_cast<std::size_t>(it - rows.begin());
}

Table paired_differences(const Table& t, const std::string& title,
                         const std::vector<std::pair<std::string, std::string>>& pairs) {
  std::vector<std::string> names;
  for (const auto& [a, b] : pairs) names.push_back(a + " − " + b);
  Table d(title, "difference", names, t.columns);
  d.paired = true;
  for (std::size_t k = 0; k < pairs.size(); ++k) {
    const std::size_t a = t.row(pairs[k].first), b = t.row(pairs[k].second);
    for (std::size_t c = 0; c < t.columns.size(); ++c) {
      const auto& va = t.values[a][c];
      const auto& vb = t.values[b][c];
      JACNET_CHECK(va.size() == vb.size(), ValueError, "fashion::paired_differences", "table '",
                   t.title, "', column ", t.columns[c], ": ", va.size(), " seeds of '",
                   pairs[k].first, "' vs ", vb.size(), " of '", pairs[k].second, "'");
      for (std::size_t s = 0; s < va.size(); ++s) d.values[k][c].push_back(va[s] - vb[s]);
    }
  }
  return d;
}

plot::Figure table_figure(const Table& t, const std::vector<double>& x) {
  JACNET_CHECK(x.size() == t.columns.size(), ValueError, "fashion::table_figure", "table '",
               t.title, "': ", x.size(), " x values for ", t.columns.size(), " columns");
  plot::Figure f;
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    plot::Series s;
    s.label = t.rows[r];
    s.x = x;
    for (const auto& v : t.values[r]) {
      const auto [m, sd] = mean_std(v);
      s.y.push_back(100 * m);
      s.err.push_back(100 * sd);
    }
    f.series.push_back(std::move(s));
  }
  return f;
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

void Report::section(const std::string& heading, const std::string& text,
                     const std::vector<const Table*>& tables) {
  markdown += "## " + heading + "\n\n";
  if (!text.empty()) markdown += text + "\n\n";
  for (const Table* t : tables) {
    std::string title = t->title;
    while (!title.empty() && title.front() == '\n') title.erase(0, 1);
    markdown += title + ":\n\n" + t->markdown() + "\n";
  }
}

void Report::figure_written(const std::string& stem, const std::vector<std::string>& files,
                            const std::string& title, const std::string& caption) {
  if (files.empty()) {
    if (!told_no_plots_) std::printf("\nfigures: none written: %s\n", plot::unavailable_reason().c_str());
    told_no_plots_ = true;
    run["figures_missing_reason"] = plot::unavailable_reason();
    return;
  }
  std::printf("figure %s.png / %s.svg: %s\n", stem.c_str(), stem.c_str(), caption.c_str());
  for (const auto& f : files) run["figures"].push_back(f);
  markdown += "![" + title + "](" + stem + ".png)\n\n*" + caption + "* ([SVG](" + stem +
              ".svg))\n\n";
}

void Report::figure(const std::filesystem::path& out, const std::string& stem,
                    const plot::Figure& f, const std::string& caption) {
  figure_written(stem, plot::write(out / stem, f), f.title, caption);
}

void Report::figure(const std::filesystem::path& out, const std::string& stem,
                    const plot::ImageGrid& g, const std::string& caption) {
  figure_written(stem, plot::write(out / stem, g), g.title, caption);
}

void Report::write(const std::filesystem::path& out) const {
  io::write_file_atomic(out / "results.json", results.dump(2) + "\n");
  io::write_file_atomic(out / "results.md", markdown);
  io::write_file_atomic(out / "run.json", run.dump(2) + "\n");
}

}  // namespace jacnet::fashion
