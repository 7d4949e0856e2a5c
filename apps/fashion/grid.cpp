// apps/fashion/grid.cpp — the grid over ranks and its checkpoints (grid.hpp).
#include "grid.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <limits>
#include <numeric>
#include <string_view>

#include "jacnet/core/error.hpp"
#include "jacnet/io/atomic_file.hpp"
#include "jacnet/nn/execution.hpp"

namespace jacnet::fashion {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr const char* kFormat = "jacnet_fashion checkpoint 1";

std::string key_of(const std::string& protocol, std::size_t task) {
  return protocol + "/" + std::to_string(task);
}

/// The first key whose value differs between two config objects ("" if equal).
std::string first_difference(const json& a, const json& b) {
  for (const auto& [k, v] : a.items())
    if (!b.contains(k) || b[k] != v) return k;
  for (const auto& [k, v] : b.items())
    if (!a.contains(k)) return k;
  return "";
}

}  // namespace

Checkpoint::Checkpoint(const Comm& comm, fs::path dir, json config, bool resume)
    : comm_(comm), dir_(std::move(dir)), config_(std::move(config)) {
  if (resume) {
    std::error_code ec;
    if (fs::is_directory(dir_, ec)) {
      for (const auto& entry : fs::directory_iterator(dir_)) {
        const fs::path p = entry.path();
        if (p.extension() != ".json" || p.filename().string().rfind("rank-", 0) != 0) continue;
        const auto bytes = io::read_file(p, std::uint64_t{1} << 30);
        json j;
        try {
          j = json::parse(bytes.begin(), bytes.end());
        } catch (const json::exception& e) {
          detail::raise<IoError>("fashion::Checkpoint", "'", p.string(), "': not valid JSON (",
                                 e.what(), ")");
        }
        JACNET_CHECK(j.is_object() && j.value("format", "") == kFormat && j.contains("config") &&
                         j.contains("done") && j["done"].is_object(),
                     IoError, "fashion::Checkpoint", "'", p.string(), "': not a checkpoint of '",
                     kFormat, "'");
        const std::string diff = first_difference(j["config"], config_);
        JACNET_CHECK(diff.empty(), IoError, "fashion::Checkpoint", "'", p.string(),
                     "' was written for another configuration (key '", diff,
                     "' differs): run without --resume, or with the configuration of that run");
        for (const auto& [k, v] : j["done"].items()) {
          JACNET_CHECK(v.is_array(), IoError, "fashion::Checkpoint", "'", p.string(), "': done.", k,
                       " is not an array");
          std::vector<double> values;
          for (const auto& x : v)
            values.push_back(x.is_null() ? std::numeric_limits<double>::quiet_NaN()
                                         : x.get<double>());
          done_[k] = std::move(values);
        }
      }
    }
    restored_ = done_.size();
  } else if (comm_.is_root()) {
    fs::remove_all(dir_);
  }
  comm_.barrier();
}

const std::vector<double>* Checkpoint::find(const std::string& protocol, std::size_t task) const {
  const auto it = done_.find(key_of(protocol, task));
  return it == done_.end() ? nullptr : &it->second;
}

void Checkpoint::record(const std::string& protocol, std::size_t task, std::vector<double> values) {
  std::lock_guard lock(write_);
  done_[key_of(protocol, task)] = std::move(values);
  json j = {{"format", kFormat}, {"config", config_}, {"done", json::object()}};
  for (const auto& [k, v] : done_) j["done"][k] = v;
  fs::create_directories(dir_);
  io::write_file_atomic(dir_ / ("rank-" + std::to_string(comm_.rank()) + ".json"), j.dump() + "\n");
}

void Checkpoint::remove() {
  comm_.barrier();
  if (comm_.is_root()) fs::remove_all(dir_);
}

std::vector<std::vector<std::size_t>> assign_lpt(std::span<const std::size_t> pending,
                                                 std::span<const double> cost, std::size_t ranks) {
  JACNET_CHECK(ranks >= 1, ValueError, "fashion::assign_lpt", "no ranks");
  JACNET_CHECK(cost.size() == pending.size(), ValueError, "fashion::assign_lpt", cost.size(),
               " costs for ", pending.size(), " tasks");
  for (std::size_t j = 0; j < cost.size(); ++j)
    JACNET_CHECK(std::isfinite(cost[j]) && cost[j] >= 0, ValueError, "fashion::assign_lpt",
                 "task ", pending[j], ": cost ", cost[j], " is not a finite number >= 0");
  std::vector<std::size_t> order(pending.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return cost[a] > cost[b]; });
  std::vector<std::vector<std::size_t>> out(ranks);
  std::vector<double> load(ranks, 0.0);
  for (std::size_t j : order) {
    const std::size_t r =
        static_cast<std::size_t>(std::min_element(load.begin(), load.end()) - load.begin());
    load[r] += cost[j];
    out[r].push_back(pending[j]);
  }
  return out;
}

Grid::Grid(const Comm& comm, Checkpoint& checkpoint, std::string protocol, std::size_t tasks,
           std::size_t width, const std::function<double(std::size_t)>& cost)
    : comm_(comm), checkpoint_(checkpoint), protocol_(std::move(protocol)), tasks_(tasks),
      width_(width) {
  out_.values.assign(tasks, {});
  out_.seconds.assign(tasks, 0.0);
  for (std::size_t i = 0; i < tasks; ++i) {
    if (const auto* r = checkpoint.find(protocol_, i)) {
      JACNET_CHECK(r->size() == width, IoError, "fashion::run_grid", "checkpoint record ",
                   protocol_, "/", i, " has ", r->size(), " values, expected ", width);
      out_.values[i] = *r;
      ++out_.restored;
    } else {
      pending_.push_back(i);
    }
  }
  std::vector<double> costs(pending_.size(), 1.0);
  if (cost)
    for (std::size_t j = 0; j < pending_.size(); ++j) costs[j] = cost(pending_[j]);
  mine_ = assign_lpt(pending_, costs, static_cast<std::size_t>(comm.size()))
              [static_cast<std::size_t>(comm.rank())];
}

GridResults Grid::run(const std::function<std::vector<double>(std::size_t)>& run) {
  // This rank's records [task, seconds, values...], slot k for mine_[k] (whichever thread ran it).
  const std::size_t stride = width_ + 2;
  std::vector<double> records(mine_.size() * stride);
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::atomic<std::size_t> active{0}, peak{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto worker = [&] {
    for (;;) {
      if (failed.load()) return;
      const std::size_t k = next.fetch_add(1);
      if (k >= mine_.size()) return;
      const std::size_t task = mine_[k];
      try {
        const auto t0 = std::chrono::steady_clock::now();
        const std::size_t now = active.fetch_add(1) + 1;
        for (std::size_t p = peak.load(); now > p && !peak.compare_exchange_weak(p, now);) {
        }
        std::vector<double> values;
        try {
          values = run(task);
        } catch (...) {
          active.fetch_sub(1);
          throw;
        }
        active.fetch_sub(1);
        const double sec =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        JACNET_CHECK(values.size() == width_, ValueError, "fashion::run_grid", protocol_, " task ",
                     task, " returned ", values.size(), " values, expected ", width_);
        double* rec = records.data() + k * stride;
        rec[0] = static_cast<double>(task);
        rec[1] = sec;
        std::copy(values.begin(), values.end(), rec + 2);
        checkpoint_.record(protocol_, task, std::move(values));
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (!error) error = std::current_exception();
        failed.store(true);
        return;
      }
    }
  };
  // One thread per run: jacnet's passes inside the region run on their calling thread
  // (nn::max_threads() is 1 in an active parallel region), so threads never nest.
  const int threads = static_cast<int>(
      std::min<std::size_t>(static_cast<std::size_t>(nn::max_threads()), mine_.size()));
  if (threads > 1) {
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
    worker();
#else
    worker();
#endif
  } else {
    worker();
  }
  if (error) std::rethrow_exception(error);

  const std::vector<double> all = comm_.allgatherv(std::span<const double>(records));
  JACNET_CHECK(all.size() == stride * pending_.size(), ValueError, "fashion::run_grid", protocol_,
               ": gathered ", all.size() / stride, " records, expected ", pending_.size());
  GridResults out = out_;
  out.concurrent = peak.load();
  for (std::size_t r = 0; r < pending_.size(); ++r) {
    const double* rec = all.data() + r * stride;
    const auto task = static_cast<std::size_t>(rec[0]);
    JACNET_CHECK(task < tasks_ && out.values[task].empty(), ValueError, "fashion::run_grid",
                 protocol_, ": bad or repeated task ", task, " in the gathered records");
    out.seconds[task] = rec[1];
    out.values[task].assign(rec + 2, rec + stride);
  }
  return out;
}

GridResults run_grid(const Comm& comm, Checkpoint& checkpoint, const std::string& protocol,
                     std::size_t tasks, std::size_t width,
                     const std::function<std::vector<double>(std::size_t)>& run,
                     const std::function<double(std::size_t)>& cost) {
  return Grid(comm, checkpoint, protocol, tasks, width, cost).run(run);
}

void progress_line(const std::string& line) {
  static std::mutex m;
  const std::string whole = line + "\n";
  std::lock_guard lock(m);
  std::fputs(whole.c_str(), stderr);
  std::fflush(stderr);
}

}  // namespace jacnet::fashion
