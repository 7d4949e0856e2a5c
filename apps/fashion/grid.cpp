// apps/fashion/grid.cpp — the grid over ranks and its checkpoints (grid.hpp).
#include "grid.hpp"

#include <chrono>
#include <cmath>
#include <limits>
#include <string_view>

#include "jacnet/core/error.hpp"
#include "jacnet/io/atomic_file.hpp"

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

GridResults run_grid(const Comm& comm, Checkpoint& checkpoint, const std::string& protocol,
                     std::size_t tasks, std::size_t width,
                     const std::function<std::vector<double>(std::size_t)>& run) {
  GridResults out;
  out.values.assign(tasks, {});
  out.seconds.assign(tasks, 0.0);
  std::vector<std::size_t> pending;
  for (std::size_t i = 0; i < tasks; ++i) {
    if (const auto* r = checkpoint.find(protocol, i)) {
      JACNET_CHECK(r->size() == width, IoError, "fashion::run_grid", "checkpoint record ",
                   protocol, "/", i, " has ", r->size(), " values, expected ", width);
      out.values[i] = *r;
      ++out.restored;
    } else {
      pending.push_back(i);
    }
  }
  // Records [task, seconds, values...] of this rank's share: pending[j] for j ≡ rank (mod P).
  const std::size_t P = static_cast<std::size_t>(comm.size()), me = static_cast<std::size_t>(comm.rank());
  const std::size_t stride = width + 2;
  std::vector<double> mine;
  for (std::size_t j = me; j < pending.size(); j += P) {
    const std::size_t task = pending[j];
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<double> values = run(task);
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    JACNET_CHECK(values.size() == width, ValueError, "fashion::run_grid", protocol, " task ", task,
                 " returned ", values.size(), " values, expected ", width);
    checkpoint.record(protocol, task, values);
    mine.push_back(static_cast<double>(task));
    mine.push_back(sec);
    mine.insert(mine.end(), values.begin(), values.end());
  }
  const std::vector<double> all = comm.allgatherv(std::span<const double>(mine));
  JACNET_CHECK(all.size() == stride * pending.size(), ValueError, "fashion::run_grid", protocol,
               ": gathered ", all.size() / stride, " records, expected ", pending.size());
  for (std::size_t r = 0; r < pending.size(); ++r) {
    const double* rec = all.data() + r * stride;
    const auto task = static_cast<std::size_t>(rec[0]);
    JACNET_CHECK(task < tasks && out.values[task].empty(), ValueError, "fashion::run_grid",
                 protocol, ": bad or repeated task ", task, " in the gathered records");
    out.seconds[task] = rec[1];
    out.values[task].assign(rec + 2, rec + stride);
  }
  return out;
}

}  // namespace jacnet::fashion
