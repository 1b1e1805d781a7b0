// Gradients: every differentiable op on >= 3 shapes (incl. broadcast and non-contiguous inputs),
// class E against central differences and class F on the device (see grad_check.hpp).
#include "grad/grad_check.hpp"
#include "graph/scatter.hpp"

#include <fmt/format.h>

#include <limits>

namespace descent::testing {
namespace {

Input in(const Shape& s, uint32_t salt, float lo = -2.0f, float hi = 2.0f, float min_abs = 0.0f) {
  return Input{s, away_from_zero(s.element_count(), salt, lo, hi, min_abs)};
}
Input positive(const Shape& s, uint32_t salt) { return Input{s, random_values(s.element_count(), salt, 0.5f, 2.0f)}; }

struct Unary {
  const char* name;
  std::function<DualArray(const DualArray&)> f;
  bool positive_only;
  float min_abs;
};

// Each unary op on a plain input, a transposed (non-contiguous) view and a broadcast input.
TEST(Grad, Unary) {
  std::vector<Unary> ops = {
      {"exp", [](const DualArray& x) { return x.exp(); }, false, 0},
      {"log", [](const DualArray& x) { return x.log(); }, true, 0},
      {"sin", [](const DualArray& x) { return x.sin(); }, false, 0},
      {"cos", [](const DualArray& x) { return x.cos(); }, false, 0},
      {"sqrt", [](const DualArray& x) { return x.sqrt(); }, true, 0},
      {"rsqrt", [](const DualArray& x) { return x.rsqrt(); }, true, 0},
      {"abs", [](const DualArray& x) { return x.abs(); }, false, 0.05f},
      {"square", [](const DualArray& x) { return x.square(); }, false, 0},
      {"reciprocal", [](const DualArray& x) { return x.reciprocal(); }, false, 0.3f},
      {"sigmoid", [](const DualArray& x) { return x.sigmoid(); }, false, 0},
      {"tanh", [](const DualArray& x) { return x.tanh(); }, false, 0},
      {"erf", [](const DualArray& x) { return x.erf(); }, false, 0},
      {"gelu", [](const DualArray& x) { return gelu(x); }, false, 0},
      {"gelu_tanh", [](const DualArray& x) { return gelu_tanh(x); }, false, 0},
      {"silu", [](const DualArray& x) { return silu(x); }, false, 0},
      {"softplus", [](const DualArray& x) { return softplus(x); }, false, 0},
      {"relu", [](const DualArray& x) { return x.relu(); }, false, 0.05f},
      {"leaky_relu", [](const DualArray& x) { return x.leaky_relu(0.01f); }, false, 0.05f},
      {"pow 2.5", [](const DualArray& x) { return x.pow(2.5f); }, true, 0},
      {"neg", [](const DualArray& x) { return -x; }, false, 0},
      {"x*3+1", [](const DualArray& x) { return x * 3.0f + 1.0f; }, false, 0},
      {"2-x/4", [](const DualArray& x) { return 2.0f - x / 4.0f; }, false, 0},
      {"1/x", [](const DualArray& x) { return 1.0f / x; }, false, 0.3f},
  };
  uint32_t salt = 1;
  for (const Unary& op : ops) {
    auto make = [&](const Shape& s) { return op.positive_only ? positive(s, salt++) : in(s, salt++, -2, 2, op.min_abs); };
    check_grad(op.name, {make(Shape{7})}, [&](Scope&, auto& x) { return op.f(x[0]); });
    check_grad(std::string(op.name) + " of transpose", {make(Shape{3, 5})},
               [&](Scope&, auto& x) { return op.f(x[0].transpose()); });
    check_grad(std::string(op.name) + " of broadcast", {make(Shape{3, 1})},
               [&](Scope&, auto& x) { return op.f(x[0].broadcast(Shape{2, 3, 4})); });
  }
}

TEST(Grad, BinaryBroadcasting) {
  using F = std::function<DualArray(const DualArray&, const DualArray&)>;
  std::vector<std::pair<const char*, F>> ops = {
      {"add", [](auto& a, auto& b) { return a + b; }},
      {"sub", [](auto& a, auto& b) { return a - b; }},
      {"mul", [](auto& a, auto& b) { return a * b; }},
      {"div", [](auto& a, auto& b) { return a / b; }},
      {"min", [](auto& a, auto& b) { return a.min(b); }},
      {"max", [](auto& a, auto& b) { return a.max(b); }},
      {"pow", [](auto& a, auto& b) { return a.pow(b); }},
  };
  uint32_t salt = 100;
  for (auto& [name, f] : ops) {
    bool pos = std::string(name) == "pow";
    auto mk = [&](const Shape& s) { return pos ? positive(s, salt++) : in(s, salt++, -2, 2, 0.3f); };
    check_grad(name, {mk(Shape{4, 3}), mk(Shape{4, 3})}, [&](Scope&, auto& x) { return f(x[0], x[1]); });
    check_grad(std::string(name) + " broadcast", {mk(Shape{4, 1}), mk(Shape{3})},
               [&](Scope&, auto& x) { return f(x[0], x[1]); });
    check_grad(std::string(name) + " transposed", {mk(Shape{3, 4}), mk(Shape{2, 4, 3})},
               [&](Scope&, auto& x) { return f(x[0].transpose(), x[1]); });
  }
  check_grad("where", {in(Shape{4, 3}, 7), in(Shape{3}, 8)}, [](Scope& s, auto& x) {
    Array cond = s.coord(Shape{4, 3}, 0).lt(s.literal(2.0f));
    return x[0].where(cond, x[1]);
  });
}

TEST(Grad, Reductions) {
  check_grad("reduce_sum axis 1", {in(Shape{3, 5, 2}, 11)}, [](Scope&, auto& x) { return x[0].reduce_sum(1); });
  check_grad("reduce_sum keep", {in(Shape{4, 6}, 12)}, [](Scope&, auto& x) { return x[0].reduce_sum(0, true); });
  check_grad("reduce_sum axes", {in(Shape{2, 3, 4}, 13)}, [](Scope&, auto& x) { return x[0].reduce_sum({0, 2}); });
  check_grad("reduce_sum of transpose", {in(Shape{5, 3}, 14)}, [](Scope&, auto& x) { return x[0].transpose().reduce_sum(-1); });
  check_grad("reduce_max", {in(Shape{3, 7}, 15)}, [](Scope&, auto& x) { return x[0].reduce_max(1); });
  check_grad("reduce_max axis 0 keep", {in(Shape{6, 4}, 16)}, [](Scope&, auto& x) { return x[0].reduce_max(0, true); });
  check_grad("reduce_max of broadcast-free slice", {in(Shape{4, 9}, 17)},
             [](Scope&, auto& x) { return x[0].slice(1, 1, 9, 2).reduce_max(-1); });
}

TEST(Grad, MatMul) {
  check_grad("matmul", {in(Shape{5, 7}, 21), in(Shape{7, 3}, 22)}, [](Scope&, auto& x) { return x[0].matmul(x[1]); });
  check_grad("matmul transposed operands", {in(Shape{7, 5}, 23), in(Shape{3, 7}, 24)},
             [](Scope&, auto& x) { return x[0].transpose().matmul(x[1].transpose()); });
  check_grad("batched broadcast matmul", {in(Shape{2, 4, 3}, 25), in(Shape{3, 5}, 26)},
             [](Scope&, auto& x) { return x[0].matmul(x[1]); });
  check_grad("matmul + bias, leaky", {in(Shape{6, 4}, 27), in(Shape{4, 3}, 28), in(Shape{3}, 29)},
             [](Scope&, auto& x) { return (x[0].matmul(x[1]) + x[2]).leaky_relu(0.01f); });
}

TEST(Grad, Views) {
  check_grad("broadcast", {in(Shape{3, 1}, 31)}, [](Scope&, auto& x) { return x[0].broadcast(Shape{2, 3, 4}); });
  check_grad("reshape", {in(Shape{3, 4}, 32)}, [](Scope&, auto& x) { return x[0].reshape(Shape{2, 6}).exp(); });
  check_grad("permute", {in(Shape{2, 3, 4}, 33)}, [](Scope&, auto& x) { return x[0].permute({2, 0, 1}).sin(); });
  check_grad("slice", {in(Shape{5, 6}, 34)}, [](Scope&, auto& x) { return x[0].slice(1, 1, 5); });
  check_grad("slice step 2", {in(Shape{4, 9}, 35)}, [](Scope&, auto& x) { return x[0].slice(1, 1, 8, 2); });
  check_grad("slice step 3", {in(Shape{10}, 36)}, [](Scope&, auto& x) { return x[0].slice(0, 0, 10, 3); });
  check_grad("slice step -1", {in(Shape{3, 5}, 37)}, [](Scope&, auto& x) { return x[0].slice(1, 4, -6, -1); });
  check_grad("slice step -2", {in(Shape{9}, 38)}, [](Scope&, auto& x) { return x[0].slice(0, 7, 0, -2); });
  check_grad("pad zero", {in(Shape{3, 4}, 39)}, [](Scope&, auto& x) { return x[0].pad(1, 2, 1).square(); });
  check_grad("pad replicate", {in(Shape{4, 3}, 40)},
             [](Scope&, auto& x) { return x[0].pad(0, 2, 3, PadMode::kReplicate); });
  check_grad("pad replicate extent 1", {in(Shape{1, 3}, 41)},
             [](Scope&, auto& x) { return x[0].pad(0, 1, 2, PadMode::kReplicate); });
  check_grad("insert/remove axis", {in(Shape{3, 4}, 42)},
             [](Scope&, auto& x) { return x[0].insert_axis(1).remove_axis(1).insert_axis(0); });
  check_grad("concat", {in(Shape{2, 3}, 43), in(Shape{2, 4}, 44)},
             [](Scope&, auto& x) { return x[0].concat(x[1], 1).exp(); });
  check_grad("concat 3 parts axis 0", {in(Shape{1, 3}, 45), in(Shape{2, 3}, 46), in(Shape{3}, 47)},
             [](Scope&, auto& x) { return concat({x[0], x[1], x[2].insert_axis(0)}, 0); });
  for (auto [size, stride] : std::vector<std::pair<int64_t, int64_t>>{{3, 1}, {2, 2}, {3, 2}, {2, 3}, {1, 1}, {5, 1}}) {
    check_grad(fmt::format("windows size {} stride {}", size, stride), {in(Shape{2, 9, 3}, 48 + static_cast<uint32_t>(size * 7 + stride))},
               [size = size, stride = stride](Scope&, auto& x) { return x[0].windows(1, size, stride); });
  }
}

TEST(Grad, GatherScatter) {
  check_grad("gather", {in(Shape{5, 3}, 61)}, [](Scope& s, auto& x) {
    Array idx = (s.coord(7) * 3.0f).to_u32() % s.literal_u32(5);  // 0 3 1 4 2 0 3: repeats
    return x[0].gather(0, idx);
  });
  check_grad("scatter_add", {in(Shape{4, 2}, 62), in(Shape{6, 2}, 63)}, [](Scope& s, auto& x) {
    Array idx = s.coord(6).to_u32() % s.literal_u32(3);
    return x[0].scatter_add(x[1], 0, idx);
  });
  check_grad("gather axis 1 of transpose", {in(Shape{4, 3}, 64)}, [](Scope& s, auto& x) {
    Array idx = s.coord(5).to_u32() % s.literal_u32(4);
    return x[0].transpose().gather(1, idx);
  });
}

TEST(Grad, Conv2d) {
  Conv2DOptions pad1;
  pad1.pad = 1;
  check_grad("conv2d 3x3 pad 1", {in(Shape{2, 5, 6, 3}, 71), in(Shape{4, 3, 3, 3}, 72)},
             [pad1](Scope&, auto& x) { return x[0].conv2d(x[1], pad1); });
  check_grad("conv2d 2x3 filter, no pad", {in(Shape{2, 5, 6, 3}, 84), in(Shape{4, 2, 3, 3}, 85)},
             [](Scope&, auto& x) { return x[0].conv2d(x[1]); });
  Conv2DOptions rep = pad1;
  rep.pad_mode = PadMode::kReplicate;
  check_grad("conv2d replicate pad", {in(Shape{1, 4, 4, 2}, 73), in(Shape{3, 3, 3, 2}, 74)},
             [rep](Scope&, auto& x) { return x[0].conv2d(x[1], rep); });
  Conv2DOptions s2;
  s2.stride_h = 2;
  s2.stride_w = 2;
  check_grad("conv2d stride 2", {in(Shape{2, 7, 6, 2}, 75), in(Shape{3, 3, 2, 2}, 76)},
             [s2](Scope&, auto& x) { return x[0].conv2d(x[1], s2); });
  Conv2DOptions g2 = pad1;
  g2.groups = 2;
  check_grad("conv2d groups 2", {in(Shape{2, 4, 5, 4}, 77), in(Shape{6, 3, 3, 2}, 78)},
             [g2](Scope&, auto& x) { return x[0].conv2d(x[1], g2); });
  Conv2DOptions dw = pad1;
  dw.groups = 3;
  dw.stride_h = dw.stride_w = 2;
  check_grad("conv2d depthwise stride 2", {in(Shape{2, 5, 5, 3}, 79), in(Shape{3, 3, 3, 1}, 80)},
             [dw](Scope&, auto& x) { return x[0].conv2d(x[1], dw); });
}

TEST(Grad, MaxPool) {
  check_grad("max_pool 2x2/2", {in(Shape{2, 4, 6, 3}, 81)}, [](Scope&, auto& x) { return x[0].max_pool2d(2, 2, 2, 2); });
  check_grad("max_pool 2x2/1", {in(Shape{1, 5, 4, 2}, 82)}, [](Scope&, auto& x) { return x[0].max_pool2d(2, 2, 1, 1); });
  check_grad("max_pool 3x3/2", {in(Shape{2, 7, 7, 1}, 83)}, [](Scope&, auto& x) { return x[0].max_pool2d(3, 3, 2, 2); });
}

// Ties and NaN on both max_pool paths (non-overlapping: chain of selects; overlapping: reductions):
// a window holding NaN gives NaN (as PyTorch), and its first NaN (else its first maximum) takes
// the gradient.
TEST(Grad, MaxPoolTiesAndNaN) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  // [1, 2, 4, 1], rows: (1 nan nan nan) and (1 0 nan nan).
  const std::vector<float> pixels{1, nan, nan, nan, 1, 0, nan, nan};
  auto img = env().static_parameter_with_data(Shape{1, 2, 4, 1}, env().unique_name("pool_img"), pixels);
  auto out = env().static_parameter(Shape{1, 1, 2, 1}, env().unique_name("pool_out"));
  auto grad = env().static_parameter(Shape{1, 2, 4, 1}, env().unique_name("pool_grad"));
  auto out1 = env().static_parameter(Shape{1, 1, 3, 1}, env().unique_name("pool_out_s1"));
  auto grad1 = env().static_parameter(Shape{1, 2, 4, 1}, env().unique_name("pool_grad_s1"));
  Graph g = env().build_graph([&](Scope& s) {
    DualArray x = s.parameter(img);
    DualArray y = x.max_pool2d(2, 2, 2, 2);  // windows (1 nan; 1 0) and all NaN
    y.slice(2, 0, 1).reduce_sum(2).set_loss();
    s.write_parameter_value(out, y.value());
    s.write_parameter_value(grad, x.grad());
  });
  Graph g1 = env().build_graph([&](Scope& s) {
    DualArray x = s.parameter(img);
    DualArray y = x.max_pool2d(2, 2, 1, 1);  // windows (1 nan; 1 0), (nan nan; 0 nan), all NaN
    y.slice(2, 0, 2).reduce_sum(2).set_loss();
    s.write_parameter_value(out1, y.value());
    s.write_parameter_value(grad1, x.grad());
  });
  env().run(g);
  env().run(g1);
  auto is_nan = [](const std::vector<float>& v) {
    for (float x : v)
      if (!std::isnan(x)) return false;
    return true;
  };
  EXPECT_TRUE(is_nan(env().read_parameter(out)));
  // Window 0 is (1 nan; 1 0): its first NaN, pixel 1, takes the gradient.
  EXPECT_EQ(env().read_parameter(grad), (std::vector<float>{0, 1, 0, 0, 0, 0, 0, 0}));
  EXPECT_TRUE(is_nan(env().read_parameter(out1)));
  // Windows 0 (1 nan; 1 0) and 1 (nan nan; 0 nan) both send theirs to pixel 1.
  EXPECT_EQ(env().read_parameter(grad1), (std::vector<float>{0, 2, 0, 0, 0, 0, 0, 0}));
}

// torch.maximum/minimum: at ties each operand gets half the gradient; where either is NaN, both
// get all of it.
TEST(Grad, MinMaxTiesSplitAndNaN) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto px = env().static_parameter_with_data(Shape{4}, env().unique_name("tie_x"), std::vector<float>{1, 2, 3, nan});
  auto py = env().static_parameter_with_data(Shape{4}, env().unique_name("tie_y"), std::vector<float>{1, 5, 0, 1});
  for (bool is_max : {true, false}) {
    auto gx = env().static_parameter(Shape{4}, env().unique_name("tie_gx"));
    auto gy = env().static_parameter(Shape{4}, env().unique_name("tie_gy"));
    Graph g = env().build_graph([&](Scope& s) {
      DualArray x = s.parameter(px), y = s.parameter(py);
      (is_max ? x.max(y) : x.min(y)).reduce_sum(0, true).set_loss();
      s.write_parameter_value(gx, x.grad());
      s.write_parameter_value(gy, y.grad());
    });
    env().run(g);
    if (is_max) {
      EXPECT_EQ(env().read_parameter(gx), (std::vector<float>{0.5f, 0, 1, 1}));
      EXPECT_EQ(env().read_parameter(gy), (std::vector<float>{0.5f, 1, 0, 1}));
    } else {
      EXPECT_EQ(env().read_parameter(gx), (std::vector<float>{0.5f, 1, 0, 1}));
      EXPECT_EQ(env().read_parameter(gy), (std::vector<float>{0.5f, 0, 1, 1}));
    }
  }
  expect_no_validation_messages();
}

// pow of a negative base with integer exponents: finite values and gradients (central differences).
TEST(Grad, PowNegativeBase) {
  auto neg = [](uint32_t salt) { return Input{Shape{6}, away_from_zero(6, salt, -2.0f, -0.3f, 0.3f)}; };
  check_grad("pow(x, 3) of negative x", {neg(301)}, [](Scope&, auto& x) { return x[0].pow(3.0f); });
  check_grad("pow(x, -2) of negative x", {neg(302)}, [](Scope&, auto& x) { return x[0].pow(-2.0f); });
  check_grad("pow(x, 4) of negative x", {neg(303)}, [](Scope&, auto& x) { return x[0].pow(4.0f); });
  check_grad("pow(x, y = 3) of negative x", {neg(304)}, [](Scope& s, auto& x) {
    return x[0].pow(DualArray(s.literal(3.0f).broadcast(Shape{6})));
  });
}

// The functional composites on DualArrays: reductions, softmax family, stack, attention.
TEST(Grad, FunctionalComposites) {
  check_grad("reduce_mean", {in(Shape{3, 4}, 701)}, [](Scope&, auto& x) { return reduce_mean(x[0], 1); });
  check_grad("reduce_var", {in(Shape{3, 4}, 702)}, [](Scope&, auto& x) { return reduce_var(x[0], 0); });
  check_grad("reduce_min", {in(Shape{3, 5}, 703)}, [](Scope&, auto& x) { return reduce_min(x[0], -1); });
  check_grad("logsumexp", {in(Shape{3, 5}, 704)}, [](Scope&, auto& x) { return logsumexp(x[0], -1); });
  check_grad("softmax", {in(Shape{3, 5}, 705)}, [](Scope&, auto& x) { return softmax(x[0], -1); });
  check_grad("softmax axis 0", {in(Shape{4, 3}, 706)}, [](Scope&, auto& x) { return softmax(x[0], 0); });
  check_grad("log_softmax", {in(Shape{3, 5}, 707)}, [](Scope&, auto& x) { return log_softmax(x[0], 1); });
  check_grad("stack", {in(Shape{2, 3}, 708), in(Shape{2, 3}, 709)},
             [](Scope&, auto& x) { return stack(std::vector<DualArray>{x[0], x[1] * 3.0f}, 0); });
  check_grad("select_index", {in(Shape{2, 4, 3}, 710)}, [](Scope&, auto& x) { return select_index(x[0], 1, 2); });
  check_grad("sdpa causal", {in(Shape{2, 4, 3}, 711), in(Shape{2, 4, 3}, 712), in(Shape{2, 4, 2}, 713)},
             [](Scope&, auto& x) { return scaled_dot_product_attention(x[0], x[1], x[2], true); });
}

TEST(Grad, SharedUsesAccumulate) {
  // x used three times, one branch unused by the loss: gradients add, the dead branch is pruned.
  check_grad("x*sin(x) + x", {in(Shape{5}, 91)}, [](Scope&, auto& x) {
    DualArray unused = x[0].exp() * 2.0f;
    (void)unused;
    return x[0] * x[0].sin() + x[0];
  });
}

}  // namespace
}  // namespace descent::testing

namespace descent::testing {
namespace {

// Whole training graphs: every parameter's gradient through softmax cross entropy.
TEST(Grad, MlpWithCrossEntropy) {
  check_grad("mlp + softmax CE",
             {in(Shape{6, 4}, 101), in(Shape{4, 5}, 102), in(Shape{5}, 103), in(Shape{5, 3}, 104), in(Shape{3}, 105)},
             [](Scope& s, auto& x) {
               DualArray h = (x[0].matmul(x[1]) + x[2]).leaky_relu(0.01f);
               DualArray logits = h.matmul(x[3]) + x[4];
               Array labels = (s.coord(6) * 2.0f).to_u32() % s.literal_u32(3);
               return softmax_cross_entropy(logits, labels.to_f32());
             });
}

TEST(Grad, ConvNetWithCrossEntropy) {
  Conv2DOptions pad1;
  pad1.pad = 1;
  Conv2DOptions grouped = pad1;
  grouped.groups = 2;
  check_grad("conv-net + softmax CE",
             {in(Shape{2, 6, 6, 1}, 111), in(Shape{4, 3, 3, 1}, 112), in(Shape{4}, 113),
              in(Shape{4, 3, 3, 2}, 114), in(Shape{4}, 115), in(Shape{4, 3}, 116)},
             [=](Scope& s, auto& x) {
               DualArray h = (x[0].conv2d(x[1], pad1) + x[2]).leaky_relu(0.01f).max_pool2d(2, 2, 2, 2);
               h = (h.conv2d(x[3], grouped) + x[4]).leaky_relu(0.01f).max_pool2d(2, 2, 2, 2);
               DualArray logits = h.flatten().matmul(x[5]);
               Array labels = s.coord(2) * 2.0f;
               return softmax_cross_entropy(logits, labels);
             });
}

}  // namespace
}  // namespace descent::testing

namespace descent::testing {
namespace {

// Encodings: class E and F for the positional encoding (w.r.t. its input) and the hash
// grid (w.r.t. every level's table, dense and hashed levels, through gather -> scatter_add).
TEST(Grad, PositionalEncoding) {
  PositionalEncoding pe(4);
  check_grad("positional encoding", {in(Shape{5, 2}, 121, -0.9f, 0.9f)},
             [&](Scope&, auto& x) { return x[0].apply(pe, EvalContext::train()); });
}

TEST(Grad, MultiHashGridTables) {
  HashGridOptions o;
  o.levels = 3;
  o.max_entries = 16;  // grids 2, 4, 8: one dense level (9 vertices), two hashed levels
  o.min_resolution = 2;
  o.max_resolution = 8;
  o.init_bound = 0.5f;
  MultiHashGrid grid(env(), o);
  ASSERT_EQ(grid.entries(), (std::vector<int64_t>{9, 16, 16}));
  auto fn = [&](Scope& s, auto&) {
    // 24 points spread over (-1, 1)^2 (no parameters, so only the tables vary), from exact-ish
    // arithmetic only: a transcendental here (GPU sin of |x| ~ 40 is off by ~1e-5) moved the
    // bilinear weights of the finest level by more than the class F bound on the H100. Every
    // point stays >= 0.0013 cells away from a cell edge, so no rounding flips a vertex.
    Array i = s.coord(Shape{24, 2}, 0), c = s.coord(Shape{24, 2}, 1);
    Array t = i * 0.0791f + c * 0.3137f + 0.05f;
    Array xy = (t - t.floor()) * 1.9f - 0.95f;
    return DualArray(xy).apply(grid, EvalContext::train());
  };
  GradOptions few;
  few.max_fd_elements = 6;  // per table: the reference runs of these graphs are the slow part
  check_grad_params("hash grid tables (dense scatter_add)", grid.parameters(), fn, few);
  // The same with the sort-based scatter_add that large tables use.
  auto& strategy = detail::scatter_strategy_override();
  auto saved = strategy;
  strategy = detail::ScatterStrategy::kSort;
  check_grad_params("hash grid tables (sorted scatter_add)", grid.parameters(), fn, few);
  strategy = saved;
}

}  // namespace
}  // namespace descent::testing
