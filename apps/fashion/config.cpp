// apps/fashion/config.cpp — presets, the JSON config file and the command line (config.hpp).
#include "config.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "jacnet/io/fashion_mnist.hpp"

namespace jacnet::fashion {

using nlohmann::json;

namespace {

enum class Kind { count, positive, flag, indices, reals, text, experiments, schedule };

struct Option {
  const char* flag;  ///< command line ("--seeds")
  const char* key;   ///< config file and results.json ("seeds")
  Kind kind;
  const char* help;
};

// The table every flag and config key goes through (docs/app.md repeats it).
const Option kOptions[] = {
    {"--out", "out", Kind::text, "output folder (default results)"},
    {"--data", "data_dir", Kind::text, "Fashion-MNIST folder (default Debian's)"},
    {"--seeds", "seeds", Kind::positive, "seeds per grid point"},
    {"--epochs", "teacher_epochs", Kind::positive, "teacher training epochs"},
    {"--teacher-images", "teacher_train_images", Kind::count, "teacher training images (0: all)"},
    {"--steps", "student_min_steps", Kind::count, "minimum optimizer steps per student run"},
    {"--max-epochs", "student_max_epochs", Kind::positive, "maximum epochs per student run"},
    {"--batch", "batch", Kind::positive, "mini-batch size"},
    {"--normalize-jac", "normalize_jac", Kind::flag, "match normalized Jacobian rows"},
    {"--schedule", "student_schedule", Kind::schedule, "student learning rate: constant or cosine"},
    {"--samples", "distill_samples_per_class", Kind::indices, "distillation N per class (0: all)"},
    {"--transfer-samples", "transfer_samples_per_class", Kind::indices, "transfer N per class"},
    {"--noise-samples", "noise_samples_per_class", Kind::count, "noise-robustness N per class"},
    {"--lambdas", "lambdas", Kind::reals, "noise robustness: Jacobian-norm weights"},
    {"--sigmas", "sigmas", Kind::reals, "noise robustness: noise levels (raw pixel units)"},
    {"--equiv-sigmas", "equivalence_sigmas", Kind::reals, "noise equivalence: σ (raw pixel units)"},
    {"--equiv-images", "equivalence_images", Kind::positive, "noise equivalence: test images"},
    {"--equiv-pairs", "equivalence_pairs", Kind::positive,
     "noise equivalence: antithetic pairs of noise draws per image"},
    {"--equiv-samples", "equivalence_samples_per_class", Kind::positive,
     "noise equivalence: the students' samples per class"},
    {"--experiments", "experiments", Kind::experiments,
     "distill,distill_tanh,transfer,noise,equivalence,saliency"},
    {"--test-images", "test_images", Kind::count, "test images (0: all 10k)"},
    {"--threads", "threads", Kind::count, "OpenMP threads per process (0: all available)"},
    {"--quiet", "quiet", Kind::flag, "no progress lines"},
    {"--resume", "resume", Kind::flag, "continue from the checkpoint in the output folder"},
};
const char* const kModes[] = {"quick", "full", "smoke"};
const char* const kExperiments[] = {"distill", "distill_tanh", "transfer", "noise", "equivalence",
                                    "saliency"};
const char* const kSchedules[] = {"cosine", "constant"};

const Option* by_flag(const std::string& f) {
  for (const auto& o : kOptions)
    if (f == o.flag) return &o;
  return nullptr;
}
const Option* by_key(const std::string& k) {
  for (const auto& o : kOptions)
    if (k == o.key) return &o;
  return nullptr;
}

[[noreturn]] void fail(const std::string& where, const std::string& msg) {
  throw UsageError(where + ": " + msg);
}

long long to_integer(const json& v, const std::string& where) {
  if (v.is_number_integer()) return v.get<long long>();
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (std::floor(d) == d && std::abs(d) < 9e15) return static_cast<long long>(d);
  }
  fail(where, "expected an integer, got " + v.dump());
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> parts;
  std::stringstream ss(s);
  std::string p;
  while (std::getline(ss, p, ',')) parts.push_back(p);
  return parts;
}

/// A flag's text value as the JSON value of its key (so both sources go through apply()).
json from_text(const Option& o, const std::string& text, const std::string& where) {
  auto integer = [&](const std::string& s) -> json {
    try {
      std::size_t pos = 0;
      const long long v = std::stoll(s, &pos);
      if (pos == s.size()) return v;
    } catch (...) {
    }
    fail(where, "'" + s + "' is not an integer");
  };
  auto real = [&](const std::string& s) -> json {
    try {
      std::size_t pos = 0;
      const double v = std::stod(s, &pos);
      if (pos == s.size()) return v;
    } catch (...) {
    }
    fail(where, "'" + s + "' is not a number");
  };
  switch (o.kind) {
    case Kind::count:
    case Kind::positive:
      return integer(text);
    case Kind::indices: {
      json a = json::array();
      for (const auto& p : split(text)) a.push_back(integer(p));
      return a;
    }
    case Kind::reals: {
      json a = json::array();
      for (const auto& p : split(text)) a.push_back(real(p));
      return a;
    }
    case Kind::experiments: {
      json a = json::array();
      for (const auto& p : split(text)) a.push_back(p);
      return a;
    }
    default:
      return text;
  }
}

void apply(Config& c, const Option& o, const json& v, const std::string& where) {
  const std::string key = o.key;
  auto count = [&](const json& x, long long lo) {
    const long long n = to_integer(x, where);
    if (n < lo) fail(where, "must be at least " + std::to_string(lo) + ", got " + std::to_string(n));
    return n;
  };
  auto list = [&]() -> const json& {
    if (!v.is_array() || v.empty()) fail(where, "expected a non-empty list, got " + v.dump());
    return v;
  };
  switch (o.kind) {
    case Kind::flag:
      if (!v.is_boolean()) fail(where, "expected true or false, got " + v.dump());
      break;
    case Kind::text:
      if (!v.is_string() || v.get<std::string>().empty())
        fail(where, "expected a non-empty string, got " + v.dump());
      break;
    case Kind::schedule:
      if (!v.is_string() || std::find(std::begin(kSchedules), std::end(kSchedules),
                                      v.get<std::string>()) == std::end(kSchedules))
        fail(where, "expected \"cosine\" or \"constant\", got " + v.dump());
      break;
    default:
      break;
  }
  if (key == "out") c.out = v.get<std::string>();
  else if (key == "data_dir") c.data_dir = v.get<std::string>();
  else if (key == "seeds") c.seeds = static_cast<int>(count(v, 1));
  else if (key == "teacher_epochs") c.teacher_epochs = static_cast<int>(count(v, 1));
  else if (key == "teacher_train_images") c.teacher_train = count(v, 0);
  else if (key == "student_min_steps") c.min_steps = std::max<Index>(1, count(v, 0));
  else if (key == "student_max_epochs") c.max_epochs = count(v, 1);
  else if (key == "batch") c.batch = count(v, 1);
  else if (key == "normalize_jac") c.normalize_jac = v.get<bool>();
  else if (key == "student_schedule") c.schedule = v.get<std::string>();
  else if (key == "equivalence_images") c.equiv_images = count(v, 1);
  else if (key == "equivalence_pairs") c.equiv_pairs = count(v, 1);
  else if (key == "equivalence_samples_per_class") c.equiv_n = count(v, 1);
  else if (key == "distill_samples_per_class" || key == "transfer_samples_per_class") {
    std::vector<Index> ns;
    for (const auto& x : list()) ns.push_back(count(x, 0));
    (key == "distill_samples_per_class" ? c.distill_n : c.transfer_n) = ns;
  } else if (key == "noise_samples_per_class") c.noise_n = count(v, 1);
  else if (key == "lambdas" || key == "sigmas" || key == "equivalence_sigmas") {
    std::vector<double> xs;
    for (const auto& x : list()) {
      if (!x.is_number() || !std::isfinite(x.get<double>()) || x.get<double>() < 0)
        fail(where, "expected non-negative numbers, got " + x.dump());
      xs.push_back(x.get<double>());
    }
    if (key == "equivalence_sigmas" &&
        std::any_of(xs.begin(), xs.end(), [](double x) { return x <= 0; }))
      fail(where, "noise equivalence needs σ > 0 (the ratio divides by σ²)");
    (key == "lambdas" ? c.lambdas : key == "sigmas" ? c.sigmas : c.equiv_sigmas) = xs;
  } else if (key == "experiments") {
    c.experiments.clear();
    for (const auto& x : list()) {
      const std::string e = x.is_string() ? x.get<std::string>() : x.dump();
      if (std::find(std::begin(kExperiments), std::end(kExperiments), e) == std::end(kExperiments))
        fail(where, "unknown experiment '" + e +
                        "' (distill, distill_tanh, transfer, noise, equivalence, saliency)");
      c.experiments.insert(e);
    }
  } else if (key == "test_images") c.test_max = count(v, 0);
  else if (key == "threads") c.threads = static_cast<int>(count(v, 0));
  else if (key == "quiet") c.quiet = v.get<bool>();
  else if (key == "resume") c.resume = v.get<bool>();
}

json read_config_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UsageError("--config: cannot open '" + path + "'");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    throw UsageError("--config '" + path + "': not valid JSON: " + e.what());
  }
  if (j.is_object() && j.contains("config") && j["config"].is_object()) j = j["config"];  // results.json
  if (!j.is_object()) throw UsageError("--config '" + path + "': expected a JSON object");
  return j;
}

}  // namespace

Config preset(const std::string& mode) {
  Config c;
  c.data_dir = io::kFashionMnistDir;
  if (mode == "quick") return c;
  c.mode = mode;
  if (mode == "full") {
    c.seeds = 5;
    c.teacher_epochs = 3;
    c.min_steps = 1000;
    c.distill_n = {1, 5, 10, 50, 100, 0};
    c.transfer_n = {1, 5, 10, 50, 0};
    c.noise_n = 500;
    c.equiv_images = 1000;
    c.equiv_pairs = 32;
  } else if (mode == "smoke") {
    c.seeds = 1;
    c.teacher_epochs = 1;
    c.teacher_train = 2000;
    c.min_steps = 20;
    c.distill_n = {5};
    c.transfer_n = {5};
    c.noise_n = 5;
    c.lambdas = {0, 0.1};
    c.sigmas = {0, 0.2};
    c.test_max = 1000;
    c.equiv_sigmas = {0.05, 0.5};
    c.equiv_images = 20;
    c.equiv_pairs = 2;
    c.equiv_n = 5;
  } else {
    throw UsageError("mode: unknown mode '" + mode + "' (quick, full, smoke)");
  }
  return c;
}

Config parse_args(int argc, char** argv) {
  std::string mode, config_file;
  bool print = false;
  std::vector<std::pair<const Option*, json>> flags;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick" || a == "--full" || a == "--smoke") {
      mode = a.substr(2);
    } else if (a == "--help" || a == "-h") {
      throw UsageError("help");
    } else if (a == "--print-config") {
      print = true;
    } else if (a == "--config") {
      if (i + 1 >= argc) throw UsageError("--config needs a file");
      config_file = argv[++i];
    } else if (const Option* o = by_flag(a)) {
      if (o->kind == Kind::flag) {
        flags.emplace_back(o, true);
      } else {
        if (i + 1 >= argc) throw UsageError(a + " needs a value");
        flags.emplace_back(o, from_text(*o, argv[++i], a));
      }
    } else {
      throw UsageError("unknown flag '" + a + "'");
    }
  }
  json file = json::object();
  if (!config_file.empty()) file = read_config_file(config_file);
  if (mode.empty() && file.contains("mode")) {
    if (!file["mode"].is_string()) throw UsageError(config_file + ": mode: expected a string");
    mode = file["mode"].get<std::string>();
    if (std::find(std::begin(kModes), std::end(kModes), mode) == std::end(kModes))
      throw UsageError(config_file + ": mode: unknown mode '" + mode + "' (quick, full, smoke)");
  }
  Config c = preset(mode.empty() ? "quick" : mode);
  for (const auto& [key, value] : file.items()) {
    if (key == "mode") continue;
    const Option* o = by_key(key);
    if (!o) throw UsageError(config_file + ": unknown key '" + key + "'");
    apply(c, *o, value, config_file + ": " + key);
  }
  for (const auto& [o, value] : flags) apply(c, *o, value, o->flag);
  c.print_config = print;
  return c;
}

json results_config(const Config& c) {
  return {{"mode", c.mode},
          {"seeds", c.seeds},
          {"teacher_epochs", c.teacher_epochs},
          {"teacher_train_images", c.teacher_train},
          {"student_min_steps", c.min_steps},
          {"student_max_epochs", c.max_epochs},
          {"batch", c.batch},
          {"normalize_jac", c.normalize_jac},
          {"student_schedule", c.schedule},
          {"distill_samples_per_class", c.distill_n},
          {"transfer_samples_per_class", c.transfer_n},
          {"noise_samples_per_class", c.noise_n},
          {"lambdas", c.lambdas},
          {"sigmas", c.sigmas},
          {"equivalence_sigmas", c.equiv_sigmas},
          {"equivalence_images", c.equiv_images},
          {"equivalence_pairs", c.equiv_pairs},
          {"equivalence_samples_per_class", c.equiv_n},
          {"experiments", std::vector<std::string>(c.experiments.begin(), c.experiments.end())},
          {"test_images", c.test_max},
          {"data_dir", c.data_dir}};
}

std::string usage() {
  std::ostringstream os;
  os << "usage: jacnet_fashion [--quick|--full|--smoke] [--config FILE.json] [--print-config]";
  for (const auto& o : kOptions) {
    os << "\n  " << o.flag;
    if (o.kind != Kind::flag) os << (o.kind == Kind::indices || o.kind == Kind::reals ? " A,B,.." : " V");
    os << "  (" << o.key << ") " << o.help;
  }
  os << "\nsee docs/app.md";
  return os.str();
}

}  // namespace jacnet::fashion
