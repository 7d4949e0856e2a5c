#pragma once
// jacnet — input Jacobians of small neural networks and the losses built on them.
// Umbrella header: includes every part. Parts can be included alone (see docs/design.md).
#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"
