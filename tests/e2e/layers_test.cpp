// Module API: layer shapes and parameter counts, train vs test graphs (dropout), the
// fixed blur, initialiser reproducibility.
#include <cmath>
#include <numeric>

#include "support/harness.hpp"

namespace descent::testing {
namespace {

int64_t count(const std::vector<Parameter>& ps) {
  int64_t n = 0;
  for (const Parameter& p : ps) n += p.shape().element_count();
  return n;
}

Shape shape_after(const Module& m, const Shape& in, bool train) {
  Shape out;
  Parameter x = env().static_parameter(in, env().unique_name("x"));
  env().build_graph([&](Scope& s) {
    auto ctx = train ? EvalContext::train() : EvalContext::test();
    out = s.parameter(x).apply(m, ctx).shape();
  });
  return out;
}

TEST(Layers, ConvNetShapesAndParameterCount) {
  Environment& e = env();
  Sequential net;
  net.add(Conv2D::builder(1, 16, 3, 3).with_pad(1).build(e)).add(LeakyRelu()).add(MaxPool2D());
  net.add(Conv2D::builder(16, 32, 3, 3).with_pad(1).with_groups(2).build(e)).add(LeakyRelu()).add(MaxPool2D());
  net.add(Flatten()).add(Dropout(0.5f)).add(Dense(e, 1568, 128)).add(LeakyRelu()).add(Dense(e, 128, 10));
  EXPECT_EQ(count(net.parameters()), 204618);  // the original's conv-net
  EXPECT_EQ(shape_after(net, Shape{5, 28, 28, 1}, true), (Shape{5, 10}));
  EXPECT_EQ(shape_after(net, Shape{5, 28, 28, 1}, false), (Shape{5, 10}));
}

TEST(Layers, MaxBlurPoolShapesAndStaticBlur) {
  Environment& e = env();
  MaxBlurPool2D p1(e, 16), p2(e, 32);
  EXPECT_EQ(shape_after(p1, Shape{2, 28, 28, 16}, true), (Shape{2, 14, 14, 16}));
  EXPECT_EQ(shape_after(p2, Shape{2, 14, 14, 32}, true), (Shape{2, 7, 7, 32}));
  EXPECT_TRUE(p1.parameters().empty());  // the blur is not trainable
  // A constant image stays constant (weights sum to 1, replicate padding).
  Parameter x = e.static_parameter_with_data(Shape{1, 6, 6, 16}, e.unique_name("x"), std::vector<float>(576, 0.75f));
  Parameter y = e.static_parameter(Shape{1, 3, 3, 16}, e.unique_name("y"));
  Graph g = e.build_graph([&](Scope& s) { s.write_parameter_value(y, s.parameter(x).apply(p1, EvalContext::test()).value()); });
  e.run(g);
  for (float v : e.read_parameter(y)) EXPECT_EQ(v, 0.75f);
}

TEST(Layers, DropoutOnlyInTraining) {
  Environment& e = env();
  Dropout d(0.25f);
  Parameter x = e.static_parameter_with_data(Shape{4096}, e.unique_name("x"), std::vector<float>(4096, 1.0f));
  Parameter y = e.static_parameter(Shape{4096}, e.unique_name("y"));
  Graph train = e.build_graph([&](Scope& s) { s.write_parameter_value(y, s.parameter(x).apply(d, EvalContext::train()).value()); });
  Graph test = e.build_graph([&](Scope& s) { s.write_parameter_value(y, s.parameter(x).apply(d, EvalContext::test()).value()); });
  e.run(test);
  for (float v : e.read_parameter(y)) ASSERT_EQ(v, 1.0f);
  e.run(train, 1);
  auto a = e.read_parameter(y);
  int zeros = 0;
  for (float v : a) {
    ASSERT_TRUE(v == 0.0f || v == 1.0f / 0.75f) << v;
    zeros += v == 0.0f;
  }
  EXPECT_NEAR(zeros / 4096.0, 0.25, 0.03);
  e.run(train, 1);
  EXPECT_EQ(e.read_parameter(y), a) << "same seed, same mask";
  e.run(train, 2);
  EXPECT_NE(e.read_parameter(y), a) << "another seed, another mask";
}

TEST(Layers, InitializersAreSeededAndReproducible) {
  Environment& e = env();
  Dense d = Dense::builder(400, 300).build(e);
  auto w1 = e.read_parameter(d.weight());
  double mean = std::accumulate(w1.begin(), w1.end(), 0.0) / w1.size(), var = 0;
  for (float v : w1) var += (v - mean) * (v - mean);
  var /= w1.size();
  EXPECT_NEAR(mean, 0.0, 0.003);
  EXPECT_NEAR(std::sqrt(var), std::sqrt(2.0 / 400), 0.002);  // He normal
  for (float v : e.read_parameter(d.bias())) EXPECT_EQ(v, 0.0f);
  e.reset_parameters(5);
  auto w5 = e.read_parameter(d.weight());
  EXPECT_NE(w5, w1);
  e.reset_parameters(5);
  EXPECT_EQ(e.read_parameter(d.weight()), w5);
  auto u = Initializer::for_siren(2, true).values(Shape{1000}, 1, 2);
  for (float v : u) EXPECT_LE(std::fabs(v), 30.0f * std::sqrt(3.0f));
}

TEST(Layers, BadConfigurationsThrow) {
  Environment& e = env();
  EXPECT_THROW(Conv2D::builder(3, 4, 3, 3).with_groups(2).build(e), ShapeError);
  EXPECT_THROW(Conv2D::builder(3, 6, 3, 3).with_blur().build(e), ShapeError);
  EXPECT_THROW(Dropout(1.0f), UsageError);
  Dense d(e, 10, 2);
  Parameter x = e.static_parameter(Shape{3, 11}, e.unique_name("x"));
  try {
    e.build_graph([&](Scope& s) { s.parameter(x).apply(d, EvalContext::test()); });
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& err) {
    EXPECT_NE(std::string(err.what()).find("Dense (10 -> 2)"), std::string::npos) << err.what();
  }
}

}  // namespace
}  // namespace descent::testing
