#pragma once
// apps/fashion/comm.hpp — the communicator the app runs on: MPI's (dist::Communicator over
// MPI_COMM_WORLD) when built with jacnet::mpi, else dist::SerialCommunicator (one process).
#ifdef JACNET_HAS_MPI
#include "jacnet/dist/communicator.hpp"
#include "jacnet/dist/environment.hpp"
#else
#include "jacnet/dist/serial.hpp"
#endif

namespace jacnet::fashion {
#ifdef JACNET_HAS_MPI
using Comm = dist::Communicator;
inline constexpr bool kWithMpi = true;
#else
using Comm = dist::SerialCommunicator;
inline constexpr bool kWithMpi = false;
#endif
}  // namespace jacnet::fashion
