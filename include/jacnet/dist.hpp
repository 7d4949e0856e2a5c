#pragma once
// jacnet/dist.hpp — jacnet's distributed layer (needs MPI; link jacnet::mpi): Environment,
// Communicator, DistError, SerialCommunicator, consistency checks and data-parallel helpers.
// See docs/dist.md.
#include "jacnet/dist/communicator.hpp"
#include "jacnet/dist/consistency.hpp"
#include "jacnet/dist/data_parallel.hpp"
#include "jacnet/dist/environment.hpp"
#include "jacnet/dist/error.hpp"
#include "jacnet/dist/serial.hpp"
