// Unit checks of the compiler passes, observed through a real Environment: dead code elimination, common
// subexpressions, arithmetic simplification (and its -0 corners), literal folding, view folding
// (zero-copy transpose+slice), and the Graphviz drawing (one cluster per kernel, count label).
// Every structural check is paired with a value check so a pass cannot "simplify" wrongly.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "runtime/state.hpp"
#include "support/harness.hpp"

namespace descent::testing {
namespace {

using detail::Op;

/// Alive nodes of the optimised IR with op `op` (and, for literals, value `v`).
int count(const Graph& g, Op op) {
  int n = 0;
  for (const auto& node : detail::GraphAccess::get(g).ir.nodes()) n += node.alive && node.op == op;
  return n;
}
bool has_literal(const Graph& g, float v) {
  for (const auto& node : detail::GraphAccess::get(g).ir.nodes())
    if (node.alive && node.op == Op::Literal && std::memcmp(&node.literal, &v, 4) == 0) return true;
  return false;
}

struct Fixture {
  Parameter x, out, out2;
  std::vector<float> xv;
  explicit Fixture(Shape s = Shape{8, 9}) {
    xv = random_values(s.element_count(), 31, 0.5f, 2.0f);
    x = env().static_parameter_with_data(s, env().unique_name("pass_x"), xv);
    out = env().static_parameter(s, env().unique_name("pass_out"));
    out2 = env().static_parameter(s, env().unique_name("pass_out2"));
  }
  Graph build(const std::function<void(Scope&, Array)>& f) {
    return env().build_graph([&](Scope& s) { f(s, s.parameter_value(x)); });
  }
  std::vector<float> run(const Graph& g, const Parameter& p) {
    env().run(g);
    return env().read_parameter(p);
  }
};

TEST(Passes, DeadCodeIsRemoved) {
  Fixture f;
  Graph plain = f.build([&](Scope& s, Array x) { s.write_parameter_value(f.out, x * 2.0f); });
  Graph dead = f.build([&](Scope& s, Array x) {
    (void)((x.exp() + 3.0f).reduce_sum(0) * s.rand({9}));  // never written anywhere
    (void)x.transpose().copy();
    (void)x.sin();  // computed, never written
    s.write_parameter_value(f.out, x * 2.0f);
  });
  EXPECT_EQ(dead.kernel_count(), plain.kernel_count());
  EXPECT_EQ(dead.kernel_count(), 1u);
  for (Op op : {Op::Exp, Op::ReduceSum, Op::Rand, Op::Sin, Op::Mov})
    EXPECT_EQ(count(dead, op), 0) << detail::info(op).name;
  EXPECT_EQ(count(dead, Op::Output), 1);
  EXPECT_EQ(f.run(dead, f.out), f.run(plain, f.out));
  expect_no_validation_messages();
}

TEST(Passes, CommonSubexpressionsMerge) {
  Fixture f;
  Graph g = f.build([&](Scope& s, Array x) {
    Array a = (x + 1.0f) * (x + 1.0f);                    // two identical adds
    Array b = x.transpose().exp() + x.transpose().exp();  // identical views and exps
    s.write_parameter_value(f.out, a + b.transpose());
  });
  EXPECT_EQ(count(g, Op::Exp), 1);
  EXPECT_EQ(count(g, Op::Add), 3);  // x+1, exp+exp, a+b
  auto v = f.run(g, f.out);
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 9; ++j) {
      float x = f.xv[i * 9 + j], e = std::exp(x);
      EXPECT_NEAR(v[i * 9 + j], (x + 1) * (x + 1) + 2 * e, 1e-5f * (1 + 2 * e));
    }
  // What must NOT merge: literals +0 / -0 (different bits) and two rand calls (different streams).
  Graph z = f.build([&](Scope& s, Array x) {
    s.write_parameter_value(f.out, x * 0.0f);
    s.write_parameter_value(f.out2, x * -0.0f);
  });
  auto pos = f.run(z, f.out), neg = env().read_parameter(f.out2);
  for (size_t i = 0; i < pos.size(); ++i) {
    ASSERT_FALSE(std::signbit(pos[i])) << i;
    ASSERT_TRUE(std::signbit(neg[i])) << i;
  }
  Graph r = f.build([&](Scope& s, Array) {
    s.write_parameter_value(f.out, s.rand({8, 9}) - s.rand({8, 9}));
  });
  EXPECT_EQ(count(r, Op::Rand), 2);
  auto d = f.run(r, f.out);
  int zeros = 0;
  for (float v2 : d) zeros += v2 == 0.0f;
  EXPECT_LT(zeros, 3) << "two rand calls were merged into one stream";
  expect_no_validation_messages();
}

TEST(Passes, NeutralArithmeticIsRemoved) {
  Fixture f;
  Graph g = f.build([&](Scope& s, Array x) {
    s.write_parameter_value(f.out, (((x * 1.0f) / 1.0f - 0.0f) + -0.0f) * 1.0f);
  });
  for (Op op : {Op::Div, Op::Sub, Op::Add}) EXPECT_EQ(count(g, op), 0) << detail::info(op).name;
  EXPECT_LE(count(g, Op::Mul), 1) << "at most the last x*1, kept as the node the output stores";
  EXPECT_EQ(g.kernel_count(), 1u);
  EXPECT_EQ(f.run(g, f.out), f.xv);
  // Special values (+-0, inf, NaN) through the neutral ops that are exact identities, compared
  // bit for bit (sign included) with the reference of the graph as written.
  Input sp{Shape{54}, special_values(54)};
  check_op("x - 0, x * 1, x / 1, 1 * x", {sp},
           [](Scope&, auto& x) { return 1.0f * ((x[0] - 0.0f) * 1.0f / 1.0f); });
  check_op("x + (-0)", {sp}, [](Scope&, auto& x) { return x[0] + -0.0f; });
}

// x + 0.0f must give +0 for x = -0 (IEEE: -0 + +0 = +0), as the reference does. lavapipe folds
// `OpFAdd x 0.0` to x even with NoContraction and SignedZeroInfNanPreserve, so codegen reads +0.0
// from the run-info buffer (pc.run.zero), which no compiler can see through.
TEST(Passes, AddPositiveZeroLiteralKeepsIeeeSignOfZero) {
  Input sp{Shape{54}, special_values(54)};
  check_op("x + 0", {sp}, [](Scope&, auto& x) { return x[0] + 0.0f; });
  check_op("0 + x", {sp}, [](Scope& s, auto& x) { return s.literal(0.0f) + x[0]; });
  check_op("x - (-0)", {sp}, [](Scope&, auto& x) { return x[0] - -0.0f; });
}

TEST(Passes, LiteralExpressionsFold) {
  Fixture f;
  Graph g = f.build([&](Scope& s, Array x) {
    s.write_parameter_value(f.out,
                            x * (s.literal(2.0f) * s.literal(3.0f) + 1.0f).max(s.literal(-4.0f)));
  });
  EXPECT_EQ(count(g, Op::Mul), 1);  // only x * 7 is left
  EXPECT_EQ(count(g, Op::Add), 0);
  EXPECT_EQ(count(g, Op::Max), 0);
  EXPECT_TRUE(has_literal(g, 7.0f));
  auto v = f.run(g, f.out);
  for (size_t i = 0; i < v.size(); ++i) ASSERT_EQ(v[i], f.xv[i] * 7.0f);
  // Division is not exact in float32 on every device: 1/3 must stay a Div (computed on the GPU).
  Graph d = f.build([&](Scope& s, Array x) {
    s.write_parameter_value(f.out, x * (s.literal(1.0f) / s.literal(3.0f)));
  });
  EXPECT_EQ(count(d, Op::Div), 1);
  expect_no_validation_messages();
}

TEST(Passes, ViewsFoldIntoZeroCopyReads) {
  Fixture f;
  auto small = env().static_parameter({10, 8}, env().unique_name("fold_out"));
  Graph g = f.build([&](Scope& s, Array x) {
    s.write_parameter_value(small, x.transpose().slice(0, 1, 9).pad(1, 1, 1).transpose() * 2.0f);
  });
  EXPECT_EQ(g.kernel_count(), 1u);
  EXPECT_EQ(count(g, Op::Mov), 0) << "transpose/slice/pad should be index maps on one edge";
  // x [8,9] -> x^T [9,8] -> rows 1..8 [8,8] -> pad columns [8,10] -> transpose [10,8]:
  // out[c][a] = 2 x[c-1][a+1] for 1 <= c <= 8, else 0.
  auto v = f.run(g, small);
  for (int c = 0; c < 10; ++c)
    for (int a = 0; a < 8; ++a)
      ASSERT_EQ(v[c * 8 + a], c >= 1 && c <= 8 ? 2.0f * f.xv[(c - 1) * 9 + a + 1] : 0.0f)
          << c << "," << a;
  // A reshape of a transpose is not an index map: the transpose is materialised (kept Mov).
  auto flat = env().static_parameter({72}, env().unique_name("fold_flat"));
  Graph m = f.build(
      [&](Scope& s, Array x) { s.write_parameter_value(flat, x.transpose().reshape({72}).exp()); });
  EXPECT_GE(count(m, Op::Mov), 1);
  env().run(m);
  auto fv = env().read_parameter(flat);
  for (int j = 0; j < 9; ++j)
    for (int i = 0; i < 8; ++i)
      ASSERT_NEAR(fv[j * 8 + i], std::exp(f.xv[i * 9 + j]), 1e-5f * fv[j * 8 + i]);
  expect_no_validation_messages();
}

TEST(Passes, DotHasOneClusterPerKernel) {
  Fixture f;
  auto rows = env().static_parameter({9}, env().unique_name("dot_rows"));
  Graph g = f.build([&](Scope& s, Array x) {
    Array y = (x * 2.0f).transpose() + 1.0f;  // read through a transpose: stored first
    s.write_parameter_value(rows, y.reduce_sum(1) + y.reduce_max(1));
    s.write_parameter_value(f.out, x.exp());
  });
  ASSERT_GE(g.kernel_count(), 3u);
  std::string dot = g.dot();
  size_t clusters = 0;
  for (size_t p = dot.find("subgraph cluster"); p != std::string::npos;
       p = dot.find("subgraph cluster", p + 1))
    ++clusters;
  EXPECT_EQ(clusters, g.kernel_count());
  EXPECT_NE(dot.find(fmt::format("label=\"{} kernels\"", g.kernel_count())), std::string::npos)
      << dot;
  EXPECT_EQ(dot.rfind("digraph G {", 0), 0u);
  EXPECT_EQ(std::count(dot.begin(), dot.end(), '{'), std::count(dot.begin(), dot.end(), '}'));
  for (const std::string& label : g.kernel_labels())
    EXPECT_NE(dot.find(label), std::string::npos) << label;
  Graph one = f.build([&](Scope& s, Array x) { s.write_parameter_value(f.out, x + 1.0f); });
  EXPECT_NE(one.dot().find("label=\"1 kernel\""), std::string::npos) << one.dot();
  EXPECT_EQ(Graph{}.dot(), "digraph G {}\n");
}

}  // namespace
}  // namespace descent::testing
