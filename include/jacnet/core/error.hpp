#pragma once
// jacnet/core/error.hpp — the exception types of jacnet and the checks that raise them.
//
// Every check names what failed and where: a shape mismatch names the layer (or function) and both
// shapes, an io error names the file and the field. Use JACNET_CHECK in code paths whose cost is
// negligible next to the work they guard (once per call, not once per element).
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace jacnet {

/// Base of every exception jacnet throws.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
/// Sizes or shapes that do not fit together (message names both).
struct ShapeError : Error {
  using Error::Error;
};
/// An argument outside its domain (empty input, negative size, unknown name, ...).
struct ValueError : Error {
  using Error::Error;
};
/// Reading or writing a file failed, or its content is malformed (message names file and field).
struct IoError : Error {
  using Error::Error;
};
/// Misuse of the AD tape: a Var from a rewound tape or from another thread's tape.
struct TapeError : Error {
  using Error::Error;
};

namespace detail {
template <class E, class... Args>
[[noreturn]] inline void raise(const char* where, Args&&... args) {
  std::ostringstream os;
  os << "jacnet: " << where << ": ";
  (os << ... << std::forward<Args>(args));
  throw E(os.str());
}
}  // namespace detail

}  // namespace jacnet

/// JACNET_CHECK(cond, ErrorType, "where", parts...): throws ErrorType("jacnet: where: parts...")
/// when cond is false. The parts are streamed, so shapes and numbers can be passed directly.
#define JACNET_CHECK(cond, ErrorType, where, ...)                       \
  do {                                                                  \
    if (!(cond)) ::jacnet::detail::raise<ErrorType>(where, __VA_ARGS__); \
  } while (0)
