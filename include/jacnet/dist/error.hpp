#pragma once
// jacnet/dist/error.hpp — the exception of jacnet's distributed layer (MPI-free).
//
// Every failing MPI call becomes a DistError whose message names the call, the rank and the size
// of the communicator ("jacnet: MPI_Allreduce on rank 1 of 3: MPI_ERR_TRUNCATE: ..."). Ranks whose
// configuration differs (dist::check_same) also raise a DistError naming the ranks.
#include <string>

#include "jacnet/core/error.hpp"

namespace jacnet::dist {

/// An MPI call failed, or the ranks of a job disagree (message names the call/check and ranks).
struct DistError : Error {
  using Error::Error;
};

}  // namespace jacnet::dist
