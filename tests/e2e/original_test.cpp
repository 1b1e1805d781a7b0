// The original descent's built-in tests that apply to this feature set, ported as semantics checks.
#include "support/harness.hpp"

namespace descent::testing {
namespace {

TEST(Original, Parameters) {
  std::vector<float> v(10);
  for (int i = 0; i < 10; ++i) v[i] = static_cast<float>(i);
  auto p = env().static_parameter_with_data({10}, env().unique_name("p"), v);
  EXPECT_EQ(env().read_parameter(p), v);
}

TEST(Original, ReduceRows) {
  std::vector<float> v(100);
  for (int i = 0; i < 100; ++i) v[i] = static_cast<float>(i);
  auto a = env().static_parameter_with_data({10, 10}, env().unique_name("a"), v);
  auto b = env().static_parameter({10, 1}, env().unique_name("b"));
  auto g = env().build_graph([&](Scope& s) { s.write_parameter_value(b, s.parameter_value(a).reduce_sum(-1, true)); });
  env().run(g);
  auto r = env().read_parameter(b);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(r[i], 45.0f + 100.0f * i);
}

TEST(Original, PadImageReplicateAndZero) {
  auto a = env().static_parameter_with_data({1, 8, 8, 1}, env().unique_name("a"), std::vector<float>(64, 1.0f));
  auto rep = env().static_parameter({1, 10, 10, 1}, env().unique_name("rep"));
  auto zero = env().static_parameter({1, 10, 10, 1}, env().unique_name("zero"));
  auto g = env().build_graph([&](Scope& s) {
    auto x = s.parameter_value(a);
    s.write_parameter_value(rep, x.pad(1, 1, 1, PadMode::kReplicate).pad(2, 1, 1, PadMode::kReplicate));
    s.write_parameter_value(zero, x.pad(1, 1, 1).pad(2, 1, 1));
  });
  env().run(g);
  auto r = env().read_parameter(rep);
  auto z = env().read_parameter(zero);
  for (int y = 0; y < 10; ++y)
    for (int x = 0; x < 10; ++x) {
      EXPECT_EQ(r[y * 10 + x], 1.0f);
      bool inside = y >= 1 && y <= 8 && x >= 1 && x <= 8;
      EXPECT_EQ(z[y * 10 + x], inside ? 1.0f : 0.0f) << y << "," << x;
    }
  expect_no_validation_messages();
}

TEST(Original, RunTwiceSubmitsOnce) {
  auto p = env().static_parameter({16}, env().unique_name("p"));
  auto g = env().build_graph([&](Scope& s) { s.write_parameter_value(p, s.parameter_value(p) + 1.0f); });
  env().wait_idle();
  size_t before = env().submit_count();
  env().run(g);
  env().run(g);
  EXPECT_EQ(env().submit_count() - before, 2u);
  auto v = env().read_parameter(p);
  for (float x : v) EXPECT_EQ(x, 2.0f);
}

}  // namespace
}  // namespace descent::testing
