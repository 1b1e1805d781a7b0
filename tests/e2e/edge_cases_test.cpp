// API edge cases that must neither crash nor misbehave: empty graphs, literal-only writes,
// rank-0 parameters, a graph run many times without waiting, graphs outliving nothing.
#include "support/harness.hpp"

namespace descent::testing {
namespace {

TEST(EdgeCases, EmptyGraphRunsAsANoOp) {
  Graph g = env().build_graph([](Scope&) {});
  EXPECT_EQ(g.kernel_count(), 0u);
  env().run(g);
  env().wait_idle();
  expect_no_validation_messages();
}

TEST(EdgeCases, LiteralAndCoordinateWrites) {
  auto s0 = env().static_parameter({}, env().unique_name("scalar"));
  auto v = env().static_parameter({5}, env().unique_name("filled"));
  Graph g = env().build_graph([&](Scope& s) {
    s.write_parameter_value(s0, s.literal(2.5f));
    s.write_parameter_value(v, s.coord(5) * 2.0f);
  });
  env().run(g);
  EXPECT_EQ(env().read_parameter(s0), std::vector<float>{2.5f});
  EXPECT_EQ(env().read_parameter(v), (std::vector<float>{0, 2, 4, 6, 8}));
  EXPECT_EQ(env().read_parameter_scalar(s0), 2.5f);
  expect_no_validation_messages();
}

TEST(EdgeCases, ManyRunsWithoutWaitingAccumulate) {
  auto p = env().static_parameter({1000}, env().unique_name("acc"));
  Graph g = env().build_graph([&](Scope& s) { s.write_parameter_value(p, s.parameter_value(p) + 1.0f); });
  for (int i = 0; i < 300; ++i) env().run(g);
  auto v = env().read_parameter(p);
  for (float x : v) ASSERT_EQ(x, 300.0f);
  expect_no_validation_messages();
}

TEST(EdgeCases, UnwrittenParameterReadsZero) {
  auto p = env().static_parameter({3, 2}, env().unique_name("zeros"));
  EXPECT_EQ(env().read_parameter(p), std::vector<float>(6, 0.0f));
}

TEST(EdgeCases, WritesBetweenRunsAreOrdered) {
  // Upload, run, upload, run: each run sees the values written just before it.
  auto in = env().static_parameter({4}, env().unique_name("ord_in"));
  auto out = env().static_parameter({4}, env().unique_name("ord_out"));
  auto total = env().static_parameter({4}, env().unique_name("ord_total"));
  Graph g = env().build_graph([&](Scope& s) {
    s.write_parameter_value(total, s.parameter_value(total) + s.parameter_value(in));
    s.write_parameter_value(out, s.parameter_value(in) * 2.0f);
  });
  for (int i = 1; i <= 20; ++i) {
    env().write_parameter(in, std::vector<float>(4, static_cast<float>(i)));
    env().run(g);
  }
  EXPECT_EQ(env().read_parameter(out), std::vector<float>(4, 40.0f));
  EXPECT_EQ(env().read_parameter(total), std::vector<float>(4, 210.0f));
  expect_no_validation_messages();
}

}  // namespace
}  // namespace descent::testing
