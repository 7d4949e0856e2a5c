#pragma once
// jacnet/io/weights.hpp — save and load a net's parameters as safetensors or as a directory of
// .npy files, under PyTorch nn.Sequential names.
//
// Works with any net whose named_parameters() returns entries with `name` ("0.weight", ...),
// `shape` (jacnet::Shape in PyTorch order: Linear [out, in], Conv2d [Cout, Cin, kh, kw], ...) and
// `data` (std::span over the values) — nn::Sequential does. A file written here loads into
// torch.nn.Sequential with load_state_dict (scripts/export_torch.py shows the reverse direction);
// running statistics of BatchNorm are saved like any other parameter.
//
// Loading is all-or-nothing and strict. Before any value of the net changes, it checks:
//   * every parameter name is in the file (the error lists all missing names);
//   * the file has no other tensors (unless WeightsLoadOptions::allow_unexpected), except
//     "*.num_batches_tracked", PyTorch's BatchNorm step counter, which is always ignored;
//   * each tensor's shape equals the parameter's shape, and its dtype equals the net's scalar
//     (F32 for float, F64 for double) unless WeightsLoadOptions::convert = Convert::allow, which
//     converts F32 <-> F64 explicitly (F64 -> float rounds to nearest).
// Errors are IoError naming the file and the tensor. Saving writes F32 for float nets and F64 for
// double nets through AtomicFile, so an interrupted save never leaves a half-written file.
//
//   io::save_weights(net, "net.safetensors");          // .safetensors -> safetensors
//   io::load_weights(net2, "net.safetensors");
//   io::save_weights(net, "net_npy");                  // other paths -> directory of <name>.npy
#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"
#include "jacnet/io/dtype.hpp"
#include "jacnet/io/npy.hpp"
#include "jacnet/io/safetensors.hpp"

namespace jacnet::io {

/// A net with PyTorch-named parameter views (see the header comment).
template <class Net>
concept NamedParameterNet = requires(Net& net) {
  net.named_parameters().begin()->name;
  net.named_parameters().begin()->shape.dims();
  net.named_parameters().begin()->data.data();
};

struct WeightsLoadOptions {
  /// Convert::allow accepts F32 files for double nets and F64 files for float nets.
  Convert convert = Convert::exact;
  /// Ignore tensors (or .npy files) that match no parameter instead of failing.
  bool allow_unexpected = false;
};

namespace detail {

template <class Net>
using net_scalar_t = std::remove_const_t<
    typename decltype(std::declval<Net&>().named_parameters().begin()->data)::element_type>;

inline bool ignored_tensor(const std::string& name) {
  static constexpr std::string_view kSuffix = "num_batches_tracked";
  return name.size() >= kSuffix.size() &&
         name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0;
}

inline std::string join_names(const std::vector<std::string>& names, std::size_t max = 20) {
  std::string s;
  for (std::size_t i = 0; i < names.size() && i < max; ++i) {
    if (i) s += ", ";
    s += names[i];
  }
  if (names.size() > max) s += ", ... (" + std::to_string(names.size() - max) + " more)";
  return s;
}

/// Fails with the lists of missing and unexpected names, if any.
inline void check_names(const std::string& file, const std::vector<std::string>& wanted,
                        const std::vector<std::string>& present, bool allow_unexpected,
                        const char* what) {
  const std::set<std::string> have(present.begin(), present.end());
  const std::set<std::string> want(wanted.begin(), wanted.end());
  std::vector<std::string> missing, unexpected;
  for (const auto& n : wanted)
    if (!have.count(n)) missing.push_back(n);
  for (const auto& n : present)
    if (!want.count(n) && !ignored_tensor(n)) unexpected.push_back(n);
  JACNET_CHECK(missing.empty(), IoError, "load_weights", "'", file, "': missing ", what,
               " for the net's parameters: ", join_names(missing), " (found: ", join_names(present),
               ")");
  JACNET_CHECK(allow_unexpected || unexpected.empty(), IoError, "load_weights", "'", file,
               "': unexpected ", what,
               " that match no parameter of the net: ", join_names(unexpected),
               " (the net has: ", join_names(wanted),
               "; set WeightsLoadOptions::allow_unexpected to ignore them)");
}

}  // namespace detail

/// Writes every parameter of `net` to a safetensors file (F32 for float nets, F64 for double).
template <NamedParameterNet Net>
void save_safetensors(const Net& net, const std::filesystem::path& path,
                      std::map<std::string, std::string> metadata = {}) {
  using T = detail::net_scalar_t<const Net>;
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "save_safetensors: the net's scalar must be float or double");
  std::vector<TensorRef> refs;
  const auto params = net.named_parameters();
  for (const auto& p : params) refs.push_back(tensor_ref<T>(p.name, p.shape.dims(), p.data.data()));
  metadata.emplace("format", "pt");
  metadata.emplace("producer", "jacnet");
  write_safetensors(path, refs, metadata);
}

/// Loads every parameter of `net` from a parsed safetensors file (all-or-nothing, see the header).
/// With SafetensorsFile::parse this loads weights held in memory.
template <NamedParameterNet Net>
void load_safetensors(Net& net, const SafetensorsFile& f, const WeightsLoadOptions& opt = {}) {
  using T = detail::net_scalar_t<Net>;
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "load_safetensors: the net's scalar must be float or double");
  auto params = net.named_parameters();
  std::vector<std::string> wanted, present;
  for (const auto& p : params) wanted.push_back(p.name);
  for (const auto& e : f.entries()) present.push_back(e.name);
  detail::check_names(f.file(), wanted, present, opt.allow_unexpected, "tensors");
  std::vector<std::vector<T>> staged(params.size());
  for (std::size_t i = 0; i < params.size(); ++i) {
    const std::vector<Index> want_shape = params[i].shape.dims();
    // Shape and dtype are checked before the staging buffer is sized.
    f.check(f.at(params[i].name), &want_shape, dtype_of<T>(), opt.convert);
    staged[i].resize(params[i].data.size());
    f.copy_to<T>(params[i].name, staged[i].data(), &want_shape, opt.convert);
  }
  for (std::size_t i = 0; i < params.size(); ++i)
    std::copy(staged[i].begin(), staged[i].end(), params[i].data.begin());
}

/// Loads every parameter of `net` from a safetensors file (all-or-nothing, see the header).
template <NamedParameterNet Net>
void load_safetensors(Net& net, const std::filesystem::path& path,
                      const WeightsLoadOptions& opt = {}) {
  load_safetensors(net, SafetensorsFile::read(path), opt);
}

/// Writes each parameter as <dir>/<name>.npy (creating `dir`); each file is written atomically.
template <NamedParameterNet Net>
void save_npy_dir(const Net& net, const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  JACNET_CHECK(std::filesystem::is_directory(dir), IoError, "save_npy_dir", "cannot create '",
               dir.string(), "'", ec ? ": " + ec.message() : std::string());
  for (const auto& p : net.named_parameters())
    write_npy(dir / (p.name + ".npy"), p.data.data(), p.shape.dims());
}

namespace detail {
/// Loads the parameters of `net` from .npy arrays: `present` lists the names available, and
/// read(name) returns the array of one of them (all-or-nothing, see the header).
template <class Net, class Read>
void load_npy_arrays(Net& net, const std::string& where, std::vector<std::string> present,
                     const WeightsLoadOptions& opt, Read&& read) {
  using T = net_scalar_t<Net>;
  auto params = net.named_parameters();
  std::vector<std::string> wanted;
  for (const auto& p : params) wanted.push_back(p.name);
  std::sort(present.begin(), present.end());
  check_names(where, wanted, present, opt.allow_unexpected, ".npy files");
  NpyOptions nopt;
  nopt.convert = opt.convert;
  std::vector<std::vector<T>> staged(params.size());
  for (std::size_t i = 0; i < params.size(); ++i) {
    auto [file, a] = read(params[i].name, nopt);
    JACNET_CHECK(a.shape == params[i].shape.dims(), IoError, "load_weights", "'", file,
                 "': tensor '", params[i].name, "' has shape ", shape_str(a.shape), ", expected ",
                 shape_str(params[i].shape.dims()));
    staged[i] = std::move(a.data);
  }
  for (std::size_t i = 0; i < params.size(); ++i)
    std::copy(staged[i].begin(), staged[i].end(), params[i].data.begin());
}
}  // namespace detail

/// Loads each parameter from <dir>/<name>.npy (all-or-nothing; other .npy files in `dir` are an
/// error unless allow_unexpected).
template <NamedParameterNet Net>
void load_npy_dir(Net& net, const std::filesystem::path& dir, const WeightsLoadOptions& opt = {}) {
  using T = detail::net_scalar_t<Net>;
  std::error_code ec;
  JACNET_CHECK(std::filesystem::is_directory(dir, ec), IoError, "load_npy_dir", "'", dir.string(),
               "' is not a directory");
  std::vector<std::string> present;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const auto fn = e.path().filename().string();
    if (e.is_regular_file() && fn.size() > 4 && fn.ends_with(".npy"))
      present.push_back(fn.substr(0, fn.size() - 4));
  }
  detail::load_npy_arrays(net, dir.string(), std::move(present), opt,
                          [&](const std::string& name, const NpyOptions& nopt) {
                            const auto file = dir / (name + ".npy");
                            return std::pair{file.string(), read_npy<T>(file, nopt)};
                          });
}

/// Loads each parameter from in-memory .npy files: `files` maps a parameter name to the bytes of
/// its .npy file; `where` names the collection in errors (the file of parameter p is called
/// "<where>/<p>.npy"). Same checks as load_npy_dir.
template <NamedParameterNet Net>
void load_npy_bytes(Net& net, const std::map<std::string, std::vector<unsigned char>>& files,
                    const std::string& where, const WeightsLoadOptions& opt = {}) {
  using T = detail::net_scalar_t<Net>;
  std::vector<std::string> present;
  for (const auto& [name, bytes] : files) present.push_back(name);
  detail::load_npy_arrays(net, where, std::move(present), opt,
                          [&](const std::string& name, const NpyOptions& nopt) {
                            const auto& b = files.at(name);
                            std::string file = where + "/" + name + ".npy";
                            auto a = parse_npy<T>(b.data(), b.size(), file, nopt);
                            return std::pair{std::move(file), std::move(a)};
                          });
}

/// save_safetensors for paths ending in ".safetensors", save_npy_dir otherwise.
template <NamedParameterNet Net>
void save_weights(const Net& net, const std::filesystem::path& path) {
  if (path.extension() == ".safetensors")
    save_safetensors(net, path);
  else
    save_npy_dir(net, path);
}
/// load_safetensors for paths ending in ".safetensors", load_npy_dir otherwise.
template <NamedParameterNet Net>
void load_weights(Net& net, const std::filesystem::path& path, const WeightsLoadOptions& opt = {}) {
  if (path.extension() == ".safetensors")
    load_safetensors(net, path, opt);
  else
    load_npy_dir(net, path, opt);
}

}  // namespace jacnet::io
