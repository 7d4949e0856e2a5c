// Thread rules of reverse mode: one tape per thread (Tape<T>::active() is thread-local), so two
// threads differentiating different functions at the same time get correct results; a Var must
// not cross threads (using one on another thread's tape throws TapeError); constants may.
// Catch2 assertions are made on the main thread only: worker threads record their results.
#include <atomic>
#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <thread>

#include "jacnet/ad/drivers.hpp"

using Eigen::Index;
using Eigen::VectorXd;
using V = jacnet::Var<double>;

namespace {

// Start both workers together so their recordings overlap in time.
struct Gate {
  std::atomic<int> waiting{0};
  void arrive_and_wait(int n) {
    waiting.fetch_add(1);
    while (waiting.load() < n) std::this_thread::yield();
  }
};

const auto rosenbrock = [](const auto& x) {
  using S = typename std::decay_t<decltype(x)>::Scalar;
  S s = 0.0;
  for (Index i = 0; i + 1 < x.size(); ++i) {
    const S t = x(i + 1) - x(i) * x(i);
    const S u = 1.0 - x(i);
    s += 100.0 * t * t + u * u;
  }
  return s;
};

// f(x) = Σ sin(x_i) · exp(x_{i+1}) ; ∂f/∂x_i = cos(x_i) e^{x_{i+1}} + sin(x_{i−1}) e^{x_i}
const auto sinexp = [](const auto& x) {
  using S = typename std::decay_t<decltype(x)>::Scalar;
  using std::exp;
  using std::sin;
  S s = 0.0;
  for (Index i = 0; i + 1 < x.size(); ++i) s += sin(x(i)) * exp(x(i + 1));
  return s;
};

}  // namespace

TEST_CASE("two threads differentiate different functions at once", "[threads]") {
  constexpr int kRounds = 300;
  const Index n = 40;
  Gate gate;
  double err_a = -1, err_b = -1;
  std::uint32_t id_a = 0, id_b = 0;
  std::string fail_a, fail_b;

  std::thread ta([&] {
    try {
      id_a = jacnet::Tape<double>::active().id();
      gate.arrive_and_wait(2);
      double err = 0;
      for (int r = 0; r < kRounds; ++r) {
        VectorXd x(n);
        for (Index i = 0; i < n; ++i) x(i) = std::sin(0.1 * r + 0.7 * i);
        const VectorXd g = jacnet::gradient(rosenbrock, x).gradient;
        for (Index i = 0; i < n; ++i) {
          double e = 0;
          if (i + 1 < n) e += -400.0 * x(i) * (x(i + 1) - x(i) * x(i)) - 2.0 * (1.0 - x(i));
          if (i > 0) e += 200.0 * (x(i) - x(i - 1) * x(i - 1));
          err = std::max(err, std::abs(g(i) - e) / (1.0 + std::abs(e)));
        }
      }
      err_a = err;
    } catch (const std::exception& e) {
      fail_a = e.what();
    }
  });
  std::thread tb([&] {
    try {
      id_b = jacnet::Tape<double>::active().id();
      gate.arrive_and_wait(2);
      double err = 0;
      for (int r = 0; r < kRounds; ++r) {
        VectorXd x(n);
        for (Index i = 0; i < n; ++i) x(i) = std::cos(0.13 * r - 0.3 * i);
        // Hand-recorded on this thread's tape with mark/rewind, plus the reverse driver.
        auto& tape = jacnet::Tape<double>::active();
        const auto m = tape.mark();
        jacnet::Vector<V> xv(n);
        for (Index i = 0; i < n; ++i) xv(i) = V(x(i));
        const V y = sinexp(xv);
        tape.clear_adjoints(m);
        y.set_adjoint(1.0);
        tape.reverse(m);
        const jacnet::Matrix<double> J = jacnet::jacrev(sinexp, x);
        for (Index i = 0; i < n; ++i) {
          double e = 0;
          if (i + 1 < n) e += std::cos(x(i)) * std::exp(x(i + 1));
          if (i > 0) e += std::sin(x(i - 1)) * std::exp(x(i));
          err = std::max(err, std::abs(xv(i).adjoint() - e) / (1.0 + std::abs(e)));
          err = std::max(err, std::abs(J(0, i) - e) / (1.0 + std::abs(e)));
        }
        tape.rewind(m);
      }
      err_b = err;
    } catch (const std::exception& e) {
      fail_b = e.what();
    }
  });
  ta.join();
  tb.join();
  CHECK(fail_a == "");
  CHECK(fail_b == "");
  CHECK(id_a != id_b);
  CHECK(id_a != jacnet::Tape<double>::active().id());
  CHECK(err_a >= 0.0);
  CHECK(err_a < 1e-13);
  CHECK(err_b >= 0.0);
  CHECK(err_b < 1e-13);
}

TEST_CASE("a Var used on another thread's tape throws TapeError", "[threads][errors]") {
  V x = 1.5;  // on the main thread's tape
  std::string what;
  bool threw = false, constant_ok = false;
  std::thread t([&] {
    try {
      V y = x * 2.0;  // x belongs to the main thread's tape
      (void)y;
    } catch (const jacnet::TapeError& e) {
      threw = true;
      what = e.what();
    }
    // Constants are on no tape: usable anywhere.
    const V k = V::constant(3.0);
    V z = 4.0;
    V w = k * z;
    auto& tape = jacnet::Tape<double>::active();
    tape.clear_adjoints();
    w.set_adjoint(1.0);
    tape.reverse();
    constant_ok = (z.adjoint() == 3.0);
  });
  t.join();
  CHECK(threw);
  CHECK_THAT(what, Catch::Contains("another tape") && Catch::Contains("must not cross threads"));
  CHECK(constant_ok);
  // x itself is still fine on its own thread.
  V y = x * 2.0;
  CHECK(y.value() == 3.0);
}

TEST_CASE("a Var from a thread that has ended is rejected", "[threads][errors]") {
  V from_thread;
  std::thread t([&] { from_thread = V(2.0) * 3.0; });
  t.join();
  CHECK_FALSE(from_thread.is_constant());
  CHECK_THROWS_AS(V(from_thread + 1.0), jacnet::TapeError);
  CHECK_THROWS_AS(from_thread.adjoint(), jacnet::TapeError);
  // Marks cannot cross threads either.
  jacnet::Tape<double>::Mark mark;
  std::thread t2([&] { mark = jacnet::Tape<double>::active().mark(); });
  t2.join();
  CHECK_THROWS_WITH(jacnet::Tape<double>::active().rewind(mark), Catch::Contains("another tape"));
}
