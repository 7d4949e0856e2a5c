#pragma once
// jacnet/dist/serial.hpp — the communicator of a job with one process, without MPI.
//
// SerialCommunicator has the member functions of dist::Communicator (communicator.hpp), as rank 0
// of 1: broadcast and allreduce leave the buffer as it is, allgather returns a copy. Code written
// as a template over the communicator (train::fit, the main job) runs unchanged with or without
// MPI; with this one it does no communication at all.
#include <cstdlib>
#include <span>
#include <vector>

namespace jacnet::dist {

class SerialCommunicator {
 public:
  int rank() const { return 0; }
  int size() const { return 1; }
  bool is_root() const { return true; }
  void barrier() const {}
  template <class T>
  void broadcast(std::span<T>, int = 0) const {}
  template <class T>
  void allreduce_sum(std::span<T>) const {}
  template <class T>
  void allreduce_max(std::span<T>) const {}
  template <class T>
  void allreduce_min(std::span<T>) const {}
  template <class T>
  std::vector<T> allgather(std::span<const T> mine) const {
    return {mine.begin(), mine.end()};
  }
  template <class T>
  std::vector<T> allgatherv(std::span<const T> mine) const {
    return {mine.begin(), mine.end()};
  }
  [[noreturn]] void abort(int code) const { std::_Exit(code); }
};

}  // namespace jacnet::dist
