// Composite ops built from primitives: concat, one_hot, argmax (exact class).
#include <cmath>

#include <fmt/format.h>

#include <limits>

#include "support/harness.hpp"

namespace descent::testing {
namespace {

TEST(Concat, AnyAxisIsOneKernel) {
  Input a{Shape{4, 3, 5}, random_values(60, 1)};
  Input b{Shape{4, 2, 5}, random_values(40, 2)};
  Input c{Shape{4, 7, 5}, random_values(140, 3)};
  CheckOptions o;
  o.expected_kernels = 1;
  check_op("concat axis 1", {a, b, c}, [](Scope&, auto& x) { return concat({x[0], x[1], x[2]}, 1); }, o);
  check_op("concat axis -1 of views", {a, b}, [](Scope&, auto& x) {
    return x[0].transpose().concat(x[1].transpose(), -1);
  }, o);
  // A computed part is read through a padded view, so it is stored first: two kernels.
  o.expected_kernels = 2;
  check_op("concat of a computed part", {a}, [](Scope&, auto& x) { return x[0].concat(x[0] * 2.0f, 0); }, o);
  Input sp{Shape{2, 54}, special_values(108)};
  check_op("concat keeps -0 and NaN", {sp}, [](Scope&, auto& x) {  // select, never adds
    return x[0].slice(1, 0, 20).concat(x[0].slice(1, 20, 54), 1);
  });
}

TEST(Concat, Errors) {
  auto p = env().static_parameter({2, 3}, env().unique_name("cat_a"));
  auto q = env().static_parameter({3, 3}, env().unique_name("cat_b"));
  for (int axis : {1, 2}) {
    try {
      env().build_graph([&](Scope& s) { (void)s.parameter_value(p).concat(s.parameter_value(q), axis); });
      ADD_FAILURE() << "no error for axis " << axis;
    } catch (const ShapeError& e) {
      EXPECT_NE(std::string(e.what()).find("concat"), std::string::npos) << e.what();
    }
  }
}

TEST(OneHot, MatchesIndices) {
  Input labels{Shape{6, 1}, {0, 3, 9, 1, 3, 7}};
  CheckOptions o;
  o.expected_kernels = 1;
  auto r = check_op("one_hot", {labels}, [](Scope&, auto& x) { return x[0].reshape({6}).one_hot(10); }, o);
  for (int i = 0; i < 6; ++i)
    for (int c = 0; c < 10; ++c) EXPECT_EQ(r.gpu[i * 10 + c], c == labels.values[i] ? 1.0f : 0.0f);
}

TEST(ArgMax, LowestIndexOnTies) {
  Input x{Shape{4, 5}, {1, 5, 5, 2, 0,  -1, -1, -1, -1, -1,  3, 2, 1, 0, 9,  0, -0.0f, 0, 0, 0}};
  auto r = check_op("argmax", {x}, [](Scope&, auto& v) { return v[0].argmax(1); });
  EXPECT_EQ(r.gpu, (std::vector<float>{1, 0, 4, 0}));
  check_op("argmax axis 0", {{Shape{7, 33}, random_values(231, 5)}}, [](Scope&, auto& v) { return v[0].argmax(0, true); });
}


// The functional composites (descent/functional.hpp) on Arrays: one definition, also used by
// DualArray (gradients in grad_test.cpp).
TEST(Functional, ActivationsAgainstTheReference) {
  Input x{Shape{7, 33}, random_values(7 * 33, 601, -6.0f, 6.0f)};
  CheckOptions o;
  o.tolerance = Tolerance::kTranscend;
  o.expected_kernels = 1;
  // erf / tanh / exp precision carried through a few products (|value| <= 6): absolute bounds.
  o.transcend_abs = 2e-6;
  check_op("gelu", {x}, [](Scope&, auto& v) { return gelu(v[0]); }, o);
  check_op("gelu_tanh", {x}, [](Scope&, auto& v) { return gelu_tanh(v[0]); }, o);
  check_op("silu", {x}, [](Scope&, auto& v) { return silu(v[0]); }, o);
  check_op("softplus", {x}, [](Scope&, auto& v) { return softplus(v[0]); }, o);
  // softplus keeps tiny values for very negative x (log1p, not log(1 + e)): relative accuracy,
  // within exp's Vulkan bound of 3 + 2|x| ulp (63 at x = -30).
  o.transcend_abs = 0;
  o.transcend_ulps = 64;
  Input far{Shape{6}, {-30.0f, -20.0f, -17.0f, 17.0f, 25.0f, 80.0f}};
  auto r = check_op("softplus tails", {far}, [](Scope&, auto& v) { return softplus(v[0]); }, o);
  EXPECT_GT(r.gpu[0], 0.0f);
  EXPECT_EQ(r.gpu[5], 80.0f);
}

TEST(Functional, ReductionsSoftmaxAndShapesAgainstTheReference) {
  Input x{Shape{5, 7, 9}, random_values(5 * 7 * 9, 611, -8.0f, 8.0f)};
  CheckOptions d;
  d.tolerance = Tolerance::kTranscend;
  d.transcend_abs = 2e-6;  // near zero (probabilities, centred values)
  d.transcend_ulps = 16;   // elsewhere: a few roundings of sums, exp and log
  for (int axis : {0, 1, -1}) {
    check_op(fmt::format("reduce_mean axis {}", axis), {x}, [&](Scope&, auto& v) { return reduce_mean(v[0], axis); }, d);
    check_op(fmt::format("reduce_var axis {}", axis), {x}, [&](Scope&, auto& v) { return reduce_var(v[0], axis); }, d);
    check_op(fmt::format("reduce_min axis {}", axis), {x}, [&](Scope&, auto& v) { return reduce_min(v[0], axis); });
    check_op(fmt::format("logsumexp axis {}", axis), {x}, [&](Scope&, auto& v) { return logsumexp(v[0], axis); }, d);
    check_op(fmt::format("softmax axis {}", axis), {x}, [&](Scope&, auto& v) { return softmax(v[0], axis); }, d);
    check_op(fmt::format("log_softmax axis {}", axis), {x}, [&](Scope&, auto& v) { return log_softmax(v[0], axis); }, d);
  }
  // A row of only -inf: logsumexp -inf, as torch.
  const float ninf = -std::numeric_limits<float>::infinity();
  Input rows{Shape{2, 3}, {ninf, ninf, ninf, 0.0f, 1.0f, ninf}};
  auto r = check_op("logsumexp -inf row", {rows}, [](Scope&, auto& v) { return logsumexp(v[0], 1); }, d);
  EXPECT_EQ(r.gpu[0], ninf);
  check_op("stack", {x, x}, [](Scope&, auto& v) { return stack(std::vector<Array>{v[0], v[1] * 2.0f}, 1); });
  check_op("select_index", {x}, [](Scope&, auto& v) { return select_index(v[0], 1, -2); });
  EXPECT_THROW(env().build_graph([&](Scope& s) { (void)select_index(s.literal(0.0f).broadcast(Shape{3, 4}), 1, 4); }),
               ShapeError);
}

TEST(Functional, AttentionAgainstTheReference) {
  Input q{Shape{2, 5, 4}, random_values(40, 621)}, k{Shape{2, 5, 4}, random_values(40, 622)},
      v{Shape{2, 5, 3}, random_values(30, 623)};
  CheckOptions d;
  d.tolerance = Tolerance::kTranscend;
  d.transcend_abs = 2e-6;
  d.transcend_ulps = 16;
  check_op("sdpa", {q, k, v}, [](Scope&, auto& x) { return scaled_dot_product_attention(x[0], x[1], x[2]); }, d);
  auto r = check_op("sdpa causal", {q, k, v},
                    [](Scope&, auto& x) { return scaled_dot_product_attention(x[0], x[1], x[2], true); }, d);
  // The first query sees only the first key: its output is v[:, 0].
  for (int b = 0; b < 2; ++b)
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(r.gpu[static_cast<size_t>(b * 15 + c)], v.values[static_cast<size_t>(b * 15 + c)], 1e-6);
}

}  // namespace
}  // namespace descent::testing

namespace descent::testing {
namespace {

TEST(RandNormal, MomentsAndDeterminism) {
  const int64_t n = 200000;
  auto out = env().static_parameter({n}, env().unique_name("normal_out"));
  Graph g = env().build_graph([&](Scope& s) { s.write_parameter_value(out, s.rand_normal({n})); });
  EXPECT_EQ(g.kernel_count(), 1u);
  env().run(g, 11);
  auto a = env().read_parameter(out);
  env().run(g, 11);
  EXPECT_EQ(a, env().read_parameter(out));
  double mean = 0, var = 0;
  for (float v : a) {
    ASSERT_TRUE(std::isfinite(v));
    mean += v;
  }
  mean /= n;
  for (float v : a) var += (v - mean) * (v - mean);
  var /= n;
  // Standard errors: mean 1/sqrt(n) = 0.0022, variance sqrt(2/n) = 0.0032; 5 sigma bounds.
  EXPECT_NEAR(mean, 0.0, 0.012);
  EXPECT_NEAR(var, 1.0, 0.016);
  env().run(g, 12);
  EXPECT_NE(a, env().read_parameter(out));
  expect_no_validation_messages();
}


}  // namespace
}  // namespace descent::testing
