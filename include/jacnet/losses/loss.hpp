#pragma once
// jacnet/losses/loss.hpp — the loss-term protocol and the evaluation driver (umbrella header).
//
//   losses/term.hpp     Needs, Sizes, Slot, Context, Adjoints, StudentOffset, Term, LossTerm,
//                       LossExpression (what a term is and sees)
//   losses/plan.hpp     Plan, make_plan, fill_seeds, reset_adjoints, evaluate_terms (net-free)
//   losses/batch.hpp    Batch(X, labels, teacher), NoTeacher
//   losses/teacher.hpp  TeacherData (recorded teacher), is_teacher_data_v, the teacher adapter
//   losses/driver.hpp   LossWorkspace, Result (r.term<Term>()), value_and_grad, value
//   losses/seeds.hpp    seed policies Full, LabelClass, TeacherTop<k>, RandomProjection<n>
//
// Composites (a + b, λ·a; composition.hpp) concatenate the seeds of their terms, so ONE Jacobian
// pass of the student (nn::jacobian_pass: forward + one seeded backward over all M rows) gives
// every term its rows J = seeds·∂y/∂x (B*M x D), and ONE nn::backprop turns the summed adjoints
// (Ȳ, J̄, Ā) into ∂L/∂θ (and ∂L/∂x). Terms that match a teacher's Jacobian rows get them from
// the same seeds restricted to the teacher's columns (`Slot::col` = student column of teacher
// output 0), computed by nn::jacobian_rows without gradient (or from precomputed TeacherData).
//
//   losses::LossWorkspace<float> ws(seed);                 // reused across steps
//   const auto loss = CrossEntropy{} + JacobianMatch<TeacherTop<1>>{};
//   const auto& r = loss.value_and_grad(student, Batch(X, labels, teacher), ws);
//   optimizer.step(student.params(), r.grad);              // r.value, r.term<CrossEntropy>()
//
// Batch reduction: every term is a mean over the B samples of a per-sample loss.
#include <algorithm>
#include <array>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <numbers>
#include <random>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "jacnet/core/error.hpp"
#include "jacnet/core/tensor.hpp"
#include "jacnet/losses/batch.hpp"
#include "jacnet/losses/driver.hpp"
#include "jacnet/losses/plan.hpp"
#include "jacnet/losses/seeds.hpp"
#include "jacnet/losses/teacher.hpp"
#include "jacnet/losses/term.hpp"
#include "jacnet/nn/layer.hpp"
#include "jacnet/nn/modes.hpp"
#include "jacnet/nn/sequential.hpp"
