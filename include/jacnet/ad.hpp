#pragma once
// <jacnet/ad.hpp> — jacnet's scalar automatic differentiation and nothing else (no nn, losses,
// train or io): Eigen/Core, xsimd and the headers below.
//
//   Dual<T, N>              forward mode (ad/dual.hpp)
//   Var<T>, Tape<T>         reverse mode on a thread-local tape (ad/var.hpp, ad/tape.hpp)
//   jvp, vjp, jacfwd, jacrev, jacobian, gradient, hessian, hvp      drivers (ad/drivers.hpp)
//   ad::record → ad::Recorded   record once, replay at new points (ad/recorded.hpp; the tracing
//                               scalar Traced: ad/traced.hpp)
//   ad::custom_rule         user JVP/VJP rules (ad/custom_rule.hpp)
//
// Everything is reachable in namespace jacnet::ad (the names below are using-declarations of the
// jacnet:: ones, so both spellings name the same entities). Guide: docs/ad_numerical.md.
#include "jacnet/ad/custom_rule.hpp"
#include "jacnet/ad/drivers.hpp"
#include "jacnet/ad/dual.hpp"
#include "jacnet/ad/elementary.hpp"
#include "jacnet/ad/recorded.hpp"
#include "jacnet/ad/scalar_traits.hpp"
#include "jacnet/ad/tape.hpp"
#include "jacnet/ad/var.hpp"

namespace jacnet::ad {
using jacnet::Dual;
using jacnet::GradientResult;
using jacnet::HessianResult;
using jacnet::HvpResult;
using jacnet::is_ad_scalar_v;
using jacnet::JacobianOptions;
using jacnet::JvpResult;
using jacnet::Tape;
using jacnet::TapeScope;
using jacnet::uses_tape_v;
using jacnet::value_of;
using jacnet::Var;
using jacnet::VarStatement;
using jacnet::VjpResult;
using jacnet::gradient;
using jacnet::hessian;
using jacnet::hvp;
using jacnet::jacfwd;
using jacnet::jacobian;
using jacnet::jacrev;
using jacnet::jvp;
using jacnet::vjp;
}  // namespace jacnet::ad
