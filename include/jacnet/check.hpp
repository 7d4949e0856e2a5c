#pragma once
// jacnet/check.hpp — derivative checkers for users (gradcheck in the spirit of
// torch.autograd.gradcheck), in double against central finite differences (docs/check.md):
//   check::gradcheck / gradgradcheck   a scalar function (check/gradcheck.hpp)
//   check::check_layer                 every rule of one layer (check/layer.hpp)
//   check::check_net                   a Sequential's modes end to end (check/net.hpp)
//   check::check_loss                  a loss's parameter and input gradients (check/loss.hpp)
// Each returns a check::Report (check/report.hpp): ok(), the worst entry by name, printable.
// The checkers sit above losses in the layering (core → ad → nn → losses → check).
#include "jacnet/check/finite_difference.hpp"
#include "jacnet/check/gradcheck.hpp"
#include "jacnet/check/layer.hpp"
#include "jacnet/check/loss.hpp"
#include "jacnet/check/net.hpp"
#include "jacnet/check/report.hpp"
