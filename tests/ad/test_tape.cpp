// Tests of jacnet/ad/tape.hpp: statement recording, marks and rewinding, adjoint sweeps with
// several seeds, vector sweeps, and the validity checks (TapeError) for rewound Vars and marks.
#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "jacnet/ad/drivers.hpp"
#include "jacnet/ad/tape.hpp"
#include "jacnet/ad/var.hpp"

using jacnet::Tape;
using jacnet::TapeError;
using jacnet::TapeIndex;
using V = jacnet::Var<double>;

namespace {
Tape<double>& tape() { return Tape<double>::active(); }

// Leaves the tape empty at the start of each test case, whatever ran before.
struct Fresh {
  Fresh() { tape().clear(); }
  ~Fresh() { tape().clear(); }
};
}  // namespace

TEST_CASE("one statement per expression, with all its partials", "[tape]") {
  Fresh fresh;
  V x = 2.0, y = 3.0;
  const TapeIndex before = tape().size();
  const TapeIndex ops_before = tape().num_operands();
  V z = x * y + sin(x) * 4.0 - y / x;  // operands: x(y), y(x), x(4cos x), y(-1/x), x(y/x²)
  REQUIRE(tape().size() == before + 1);
  REQUIRE(tape().num_operands() == ops_before + 5);
  REQUIRE(z.index() == before);
  CHECK(z.value() == Approx(6.0 + 4.0 * std::sin(2.0) - 1.5));

  const auto [b, e] = tape().operand_range(z.index());
  REQUIRE(e - b == 5);
  double dx = 0, dy = 0;
  for (TapeIndex k = b; k < e; ++k) {
    if (tape().operand_index(k) == x.index()) dx += tape().operand_partial(k);
    if (tape().operand_index(k) == y.index()) dy += tape().operand_partial(k);
  }
  CHECK(dx == Approx(3.0 + 4.0 * std::cos(2.0) + 3.0 / 4.0));
  CHECK(dy == Approx(2.0 - 0.5));

  // An operand repeated next to itself is merged into one entry with the summed partial.
  V sq = x * x + y;
  const auto [sb, se] = tape().operand_range(sq.index());
  REQUIRE(se - sb == 2);
  CHECK(tape().operand_index(sb) == x.index());
  CHECK(tape().operand_partial(sb) == 4.0);
  CHECK(tape().operand_index(sb + 1) == y.index());
  // Copies share the index: no statement.
  V w = z;
  CHECK(tape().size() == before + 2);
  CHECK(w.index() == z.index());
  // Independent variables are statements without operands.
  V c = 1.0;
  CHECK(tape().size() == before + 3);
  CHECK(tape().operand_range(c.index()).first == tape().operand_range(c.index()).second);
}

TEST_CASE("constants are on no tape and have zero adjoint", "[tape]") {
  Fresh fresh;
  const TapeIndex before = tape().size();
  V zero;
  V k = V::constant(2.5);
  CHECK(zero.is_constant());
  CHECK(k.is_constant());
  CHECK(zero.index() == 0);
  CHECK(tape().size() == before);
  V x = 1.5;
  V y = k * x + zero;
  tape().clear_adjoints();
  y.set_adjoint(1.0);
  tape().reverse();
  CHECK(x.adjoint() == Approx(2.5));
  CHECK(k.adjoint() == 0.0);
  CHECK(zero.adjoint() == 0.0);
}

TEST_CASE("several output seeds swept without re-recording", "[tape]") {
  Fresh fresh;
  V x = 0.5, y = -1.25;
  V f1 = x * x * y;          // ∇ = (2xy, x²)
  V f2 = exp(x) + y * y;     // ∇ = (e^x, 2y)
  V f3 = atan2(y, x) * 3.0;  // ∇ = 3(−y, x)/(x²+y²)
  const TapeIndex recorded = tape().size();
  const double r2 = 0.25 + 1.5625;
  const double expect[3][2] = {
      {2 * 0.5 * -1.25, 0.25}, {std::exp(0.5), -2.5}, {3 * 1.25 / r2, 3 * 0.5 / r2}};
  const V* outs[3] = {&f1, &f2, &f3};
  for (int round = 0; round < 2; ++round) {
    for (int k = 0; k < 3; ++k) {
      tape().clear_adjoints();
      outs[k]->set_adjoint(1.0);
      tape().reverse();
      CHECK(x.adjoint() == Approx(expect[k][0]));
      CHECK(y.adjoint() == Approx(expect[k][1]));
    }
  }
  CHECK(tape().size() == recorded);
  // A linear combination of seeds gives the combination of gradients.
  tape().clear_adjoints();
  f1.set_adjoint(2.0);
  f3.set_adjoint(-1.0);
  tape().reverse();
  CHECK(x.adjoint() == Approx(2 * expect[0][0] - expect[2][0]));
  CHECK(y.adjoint() == Approx(2 * expect[0][1] - expect[2][1]));
}

TEST_CASE("reverse(mark) sweeps only the recent part, clear_adjoints(mark)", "[tape]") {
  Fresh fresh;
  V a = 2.0;
  V b = a * a;  // recorded before the mark: not swept
  const auto m = tape().mark();
  V c = b * 3.0 + a;
  tape().clear_adjoints();
  c.set_adjoint(1.0);
  tape().reverse(m);
  CHECK(b.adjoint() == Approx(3.0));
  CHECK(a.adjoint() == Approx(1.0));  // the path through b is not swept
  tape().reverse();                   // full sweep now adds a's path through b... twice c, once b
  // Second sweep re-propagates c (adding again) and b: a gets 1 + 1 + 2·a·(3 + 3).
  CHECK(a.adjoint() == Approx(1.0 + 1.0 + 2 * 2.0 * 6.0));
  tape().clear_adjoints(m);
  CHECK(c.adjoint() == 0.0);
  CHECK(b.adjoint() == Approx(6.0));  // before the mark: untouched
}

TEST_CASE("rewind reuses the tape without growing it", "[tape]") {
  Fresh fresh;
  std::vector<V> x;
  for (int i = 0; i < 10; ++i) x.emplace_back(0.1 * (i + 1));
  const auto m = tape().mark();
  std::size_t bytes = 0;
  for (int round = 0; round < 50; ++round) {
    V s = 0.0;
    for (int i = 0; i < 10; ++i) s += x[i] * x[i] * double(round + 1);
    tape().clear_adjoints();
    s.set_adjoint(1.0);
    tape().reverse(m);
    for (int i = 0; i < 10; ++i) REQUIRE(x[i].adjoint() == Approx(2 * 0.1 * (i + 1) * (round + 1)));
    if (round == 1) bytes = tape().memory_bytes();
    if (round > 1) REQUIRE(tape().memory_bytes() == bytes);
    tape().rewind(m);
    REQUIRE(tape().size() == m.statements);
    REQUIRE(tape().num_operands() == m.operands);
  }
}

TEST_CASE("new variables leave a statement slot for every free operand slot on a reused tape",
          "[tape]") {
  // begin_statement checks only the operand capacity: it relies on the tape keeping at least as
  // many free statement slots as free operand slots. new_variables(n) on a tape with free operand
  // slots left over from an earlier recording used to grow the statement array to size + n only,
  // leaving 0 free slots beside thousands of free operand slots: the next statement wrote past the
  // end of the array (heap corruption, seen as "free(): invalid next size" in test_ad).
  Fresh fresh;
  auto free_slots = [] { return tape().statement_capacity() - std::size_t(tape().size()); };
  auto free_ops = [] { return tape().operand_capacity() - std::size_t(tape().num_operands()); };
  {  // an earlier recording: one statement with 5000 operands
    std::vector<V> x;
    for (int i = 0; i < 5000; ++i) x.emplace_back(0.001 * i);
    jacnet::VarStatement<double> st(x.size());
    for (const V& v : x) st.add(v, 1.0);
    const V s = st.finish(1.0);
    REQUIRE(s.index() != 0);
  }
  tape().clear();
  REQUIRE(free_ops() >= 5000);
  CHECK(free_slots() >= free_ops());
  // more than twice what the array holds, so that it grows to exactly what the variables need
  const std::size_t n = 3 * tape().statement_capacity() + 1000;
  tape().new_variables(n);
  CHECK(free_slots() >= free_ops());
  tape().clear();
  CHECK(free_slots() >= free_ops());

  // The driver path that crashed: gradient over many inputs, statements of many operands.
  {  // an earlier recording again, so that free operand slots are left over
    std::vector<V> x;
    for (int i = 0; i < 5000; ++i) x.emplace_back(0.001 * i);
    jacnet::VarStatement<double> st(x.size());
    for (const V& v : x) st.add(v, 2.0);
    (void)st.finish(0.0);
  }
  tape().clear();
  const Eigen::Index m = 3 * Eigen::Index(tape().statement_capacity()) + 64;
  Eigen::VectorXd x(m);
  for (Eigen::Index i = 0; i < m; ++i) x(i) = std::sin(0.01 * double(i));
  // f(x) = Σ_i x_i² + (Σ_i x_i)²: the second sum is one statement with m operands
  const auto f = [](const auto& v) {
    using S = std::decay_t<decltype(v(0))>;
    jacnet::VarStatement<double> st(std::size_t(v.size()));
    double sum = 0;
    for (Eigen::Index i = 0; i < v.size(); ++i) {
      st.add(v(i), 1.0);
      sum += v(i).value();
    }
    const S total = st.finish(sum);
    S q = S::constant(0.0);
    for (Eigen::Index i = 0; i < v.size(); ++i) q += v(i) * v(i);
    return S(q + total * total);
  };
  const auto g = jacnet::gradient(f, x);
  double sum = 0;  // in the lambda's order, so that only the sweep's own rounding differs
  for (Eigen::Index i = 0; i < m; ++i) sum += x(i);
  const Eigen::VectorXd expected = (2 * x.array() + 2 * sum).matrix();
  CHECK((g.gradient - expected).norm() <= 1e-12 * (1 + expected.norm()));
  CHECK(free_slots() >= free_ops());
}

TEST_CASE("Var after rewind throws TapeError, Vars before the mark stay valid", "[tape]") {
  Fresh fresh;
  V a = 1.0;
  const auto m = tape().mark();
  V b = a * 2.0;
  V c = b + a;
  tape().rewind(m);
  // a is below the mark: fine. b and c were rewound away.
  V ok = a * 3.0;
  CHECK(ok.value() == 3.0);
  REQUIRE(ok.index() == b.index());       // the stale b and the live ok share an index...
  CHECK_THROWS_AS(V(ok * b), TapeError);  // ...and are told apart, even side by side
  CHECK_THROWS_AS(V(b * ok), TapeError);
  CHECK_THROWS_AS(V(b * 2.0), TapeError);
  CHECK_THROWS_AS(c.adjoint(), TapeError);
  CHECK_THROWS_WITH(V(c + 1.0), Catch::Contains("rewound away") &&
                                    Catch::Contains("index " + std::to_string(c.index())));
  // After re-recording at the same indices, the stale Vars are still detected.
  V d = a * 5.0;
  V e = d * d;
  CHECK(d.index() == b.index() + 1);  // `ok` took b's old index
  CHECK_THROWS_AS(V(c * 1.0), TapeError);
  CHECK_NOTHROW(V(e * 1.0));
  // A mark that was rewound away cannot be rewound to; the current one still works.
  const auto m2 = tape().mark();
  V f = e + 1.0;
  tape().rewind(m);
  CHECK_THROWS_AS(tape().rewind(m2), TapeError);
  CHECK_THROWS_AS(V(f * 1.0), TapeError);
  CHECK_NOTHROW(tape().rewind(m));
}

TEST_CASE("rewind tracking across many generations", "[tape]") {
  Fresh fresh;
  // Vars recorded at different generations and positions; rewinds to various positions.
  V a = 1.0;  // gen g0
  const auto m1 = tape().mark();
  V b = a * 2.0;  // above m1
  const auto m2 = tape().mark();
  V c = b * 2.0;      // above m2
  tape().rewind(m2);  // kills c only
  V d = b * 3.0;      // new generation, above m2
  CHECK_NOTHROW(V(a + b + d));
  CHECK_THROWS_AS(V(c * 1.0), TapeError);
  for (int i = 0; i < 20; ++i) {  // many rewinds to m2 keep b and d? d is above m2: killed
    V t = b * double(i);
    CHECK(t.value() == 2.0 * i);
    tape().rewind(m2);
  }
  CHECK_THROWS_AS(V(d * 1.0), TapeError);
  CHECK_NOTHROW(V(b * 1.0));
  tape().rewind(m1);  // kills b
  CHECK_THROWS_AS(V(b * 1.0), TapeError);
  CHECK_NOTHROW(V(a * 1.0));
}

TEST_CASE("vector sweeps agree with scalar sweeps", "[tape]") {
  Fresh fresh;
  const auto base = tape().mark();
  V x = 0.3, y = -0.7, z = 1.1;
  V o[3] = {V(x * y * z), V(sin(x) + cos(y) * z), V(exp(x - y) / (1.0 + z * z))};
  const std::size_t lanes = 3;
  const std::size_t len = tape().size() - base.statements;
  std::vector<double> adj(len * lanes, 0.0);
  for (std::size_t l = 0; l < lanes; ++l) adj[(o[l].index() - base.statements) * lanes + l] = 1.0;
  tape().reverse_lanes(adj.data(), lanes, base);
  const V* in[3] = {&x, &y, &z};
  for (std::size_t l = 0; l < lanes; ++l) {
    tape().clear_adjoints();
    o[l].set_adjoint(1.0);
    tape().reverse();
    for (const V* v : in)
      CHECK(adj[(v->index() - base.statements) * lanes + l] == Approx(v->adjoint()));
  }
}

TEST_CASE("TapeScope rewinds on exit", "[tape]") {
  Fresh fresh;
  const TapeIndex before = tape().size();
  {
    jacnet::TapeScope<double> scope;
    V a = 2.0;
    V b = a * a;
    CHECK(tape().size() == before + 2);
    CHECK(b.value() == 4.0);
  }
  CHECK(tape().size() == before);
}

TEST_CASE("float and double have separate tapes", "[tape]") {
  Fresh fresh;
  Tape<float>::active().clear();
  jacnet::Var<float> xf = 2.0f;
  V xd = 3.0;
  jacnet::Var<float> yf = xf * xf;
  V yd = xd * xd * xd;
  CHECK(Tape<float>::active().id() != tape().id());
  Tape<float>::active().clear_adjoints();
  tape().clear_adjoints();
  yf.set_adjoint(1.0f);
  yd.set_adjoint(1.0);
  Tape<float>::active().reverse();
  tape().reverse();
  CHECK(xf.adjoint() == Approx(4.0f));
  CHECK(xd.adjoint() == Approx(27.0));
  Tape<float>::active().clear();
}

TEST_CASE("adjoint access out of range throws", "[tape]") {
  Fresh fresh;
  CHECK_THROWS_AS(tape().adjoint(tape().size() + 5), TapeError);
  CHECK_THROWS_WITH(tape().set_adjoint(tape().size(), 1.0),
                    Catch::Contains("index " + std::to_string(tape().size())));
}
