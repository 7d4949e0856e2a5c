#pragma once
// apps/fashion/config.hpp — the main job's configuration: presets (quick, full, smoke), a JSON
// config file and command-line flags, applied in that order (a flag overrides the file, the file
// overrides the preset). Every flag is the JSON key of the same name ("--seeds 3" is
// {"seeds": 3}); docs/app.md lists them. results.json carries the effective configuration under
// "config", so `--config results.json` (its "config" object) repeats a run.
#include <filesystem>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "jacnet/core/tensor.hpp"

namespace jacnet::fashion {

/// A bad flag, value or config-file entry (main prints the message and the usage, exit code 2).
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Config {
  // ---- what is computed (the results depend on these: results.json "config", checkpoints) ----
  std::string mode = "quick";
  int seeds = 5;  ///< quick and full: 5 (the quick grid takes ~5 min on 2 idle cores: docs/results.md)
  int teacher_epochs = 3;
  Index teacher_train = 0;  ///< teacher training images (0: all 60k)
  Index min_steps = 500;    ///< student runs: epochs chosen so that each run has >= this many steps
  Index max_epochs = 300;
  Index batch = 64;
  bool normalize_jac = false;
  /// Student learning rate: "constant" (Adam 1e-3) or "cosine" (per step, to 0). Constant is the
  /// default: cosine was measured worse for the Jacobian rows (docs/results.md § Schedule).
  std::string schedule = "constant";
  std::vector<Index> distill_n{1, 5, 10, 50, 100};  ///< samples per class (0 = all)
  std::vector<Index> transfer_n{1, 5, 10};
  Index noise_n = 100;
  std::vector<double> lambdas{0, 0.01, 0.1, 0.5, 1};
  std::vector<double> sigmas{0, 0.1, 0.2, 0.3, 0.4};
  std::vector<double> equiv_sigmas{0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5};  ///< raw pixel units
  Index equiv_images = 500;  ///< noise equivalence: test images
  Index equiv_pairs = 16;    ///< noise equivalence: antithetic pairs of draws (±ξ) per image
  Index equiv_n = 100;       ///< noise equivalence: the students' samples per class
  std::set<std::string> experiments{"distill", "distill_tanh", "transfer", "noise", "equivalence",
                                    "saliency"};
  Index test_max = 0;  ///< test images (0: all 10k)
  std::string data_dir;
  // ---- how it runs (no effect on the results) ----
  std::filesystem::path out = "results";
  int threads = 0;  ///< OpenMP threads per process; 0: all available (see docs/app.md)
  bool quiet = false;
  bool resume = false;
  bool print_config = false;

  bool has(const std::string& experiment) const { return experiments.count(experiment) > 0; }
};

/// The preset of a mode ("quick", "full", "smoke"); UsageError for another name.
Config preset(const std::string& mode);

/// Config from argv (flags, --config FILE); UsageError naming the flag, file and key.
Config parse_args(int argc, char** argv);

/// The keys that determine the results (for results.json, the checkpoint and the rank check).
nlohmann::json results_config(const Config& c);

/// One-paragraph usage text.
std::string usage();

}  // namespace jacnet::fashion
