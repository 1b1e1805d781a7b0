// Per-element ops: each op on edge shapes, special values and views, against the
// float64 reference (with its tolerance class), fused == unfused, run twice bit-identical.
#include "support/harness.hpp"

namespace descent::testing {
namespace {

struct UnaryCase {
  const char* name;
  Array (*fn)(const Array&);
  Tolerance tol;
  double ulps, abs;  // class C bounds
  float lo, hi;      // input range for random values
};

const UnaryCase kUnary[] = {
    {"neg", [](const Array& a) { return -a; }, Tolerance::kExact, 0, 0, -4, 4},
    {"abs", [](const Array& a) { return a.abs(); }, Tolerance::kExact, 0, 0, -4, 4},
    {"relu", [](const Array& a) { return a.relu(); }, Tolerance::kExact, 0, 0, -4, 4},
    {"square", [](const Array& a) { return a.square(); }, Tolerance::kExact, 0, 0, -4, 4},
    {"floor", [](const Array& a) { return a.floor(); }, Tolerance::kExact, 0, 0, -4, 4},
    {"leaky_relu", [](const Array& a) { return a.leaky_relu(0.01f); }, Tolerance::kExact, 0, 0, -4, 4},
    {"sqrt", [](const Array& a) { return a.sqrt(); }, Tolerance::kUlp3, 0, 0, 0, 9},
    {"reciprocal", [](const Array& a) { return a.reciprocal(); }, Tolerance::kUlp3, 0, 0, 0.1f, 9},
    {"rsqrt", [](const Array& a) { return a.rsqrt(); }, Tolerance::kTranscend, 4, 0, 0.1f, 9},
    // Vulkan: exp 3+2|x| ulp; log 3 ulp or 2^-21 abs near 1; sin/cos 2^-11 abs in [-pi, pi].
    {"exp", [](const Array& a) { return a.exp(); }, Tolerance::kTranscend, 3 + 2 * 8, 0, -8, 8},
    {"log", [](const Array& a) { return a.log(); }, Tolerance::kTranscend, 3, 4.8e-7, 0.01f, 100},
    {"sin", [](const Array& a) { return a.sin(); }, Tolerance::kTranscend, 0, 4.9e-4, -3.14f, 3.14f},
    {"cos", [](const Array& a) { return a.cos(); }, Tolerance::kTranscend, 0, 4.9e-4, -3.14f, 3.14f},
    {"tanh", [](const Array& a) { return a.tanh(); }, Tolerance::kTranscend, 0, 1e-5, -30, 30},
    {"sigmoid", [](const Array& a) { return a.sigmoid(); }, Tolerance::kTranscend, 0, 1e-5, -100, 100},
    // erf: series below 0.5, 1 - erfc above (shaders/common.glsl): a few ulp; 16 allowed.
    {"erf", [](const Array& a) { return a.erf(); }, Tolerance::kTranscend, 16, 0, -4, 4},
};

const Shape kEdgeShapes[] = {Shape{}, Shape{1}, Shape{2}, Shape{3}, Shape{7}, Shape{31, 33},
                             Shape{63, 65}, Shape{127}, Shape{129, 3}, Shape{2, 3, 5, 7}};

class UnaryOp : public ::testing::TestWithParam<int> {};

TEST_P(UnaryOp, EdgeShapesVsReference) {
  const UnaryCase& c = kUnary[GetParam()];
  uint32_t salt = 1;
  for (const Shape& s : kEdgeShapes) {
    CheckOptions o;
    o.tolerance = c.tol;
    o.transcend_ulps = c.ulps;
    o.transcend_abs = c.abs;
    o.expected_kernels = 1;
    auto r = check_op(c.name, {{s, random_values(s.element_count(), salt++, c.lo, c.hi)}},
                      [&](Scope&, const std::vector<Array>& x) { return c.fn(x[0]); }, o);
    RecordProperty(std::string(c.name) + "_max_ulps", std::to_string(r.max_ulps));
  }
}

TEST_P(UnaryOp, ThroughViews) {
  const UnaryCase& c = kUnary[GetParam()];
  CheckOptions o;
  o.tolerance = c.tol;
  o.transcend_ulps = c.ulps;
  o.transcend_abs = c.abs;
  Input in{Shape{9, 12}, random_values(108, 7, c.lo, c.hi)};
  // transposed, strided slice, broadcast, offset: every one reads through an index map.
  check_op(std::string(c.name) + "(transpose)", {in}, [&](Scope&, auto& x) { return c.fn(x[0].transpose()); }, o);
  check_op(std::string(c.name) + "(slice)", {in}, [&](Scope&, auto& x) { return c.fn(x[0].slice(1, 1, 12, 3).slice(0, 8, 0, -2)); }, o);
  check_op(std::string(c.name) + "(broadcast)", {in}, [&](Scope&, auto& x) { return c.fn(x[0].slice(0, 2, 3).broadcast({4, 9, 12})); }, o);
  check_op(std::string(c.name) + "(pad)", {in}, [&](Scope&, auto& x) { return c.fn(x[0].pad(0, 1, 2).pad(1, 3, 0, PadMode::kReplicate)); }, o);
}

INSTANTIATE_TEST_SUITE_P(Ops, UnaryOp, ::testing::Range(0, static_cast<int>(std::size(kUnary))),
                         [](const auto& info) { return std::string(kUnary[info.param].name); });

TEST(Elementwise, SpecialValuesExactOps) {
  // +-0, +-inf, NaN, tiny and huge values: exact-class ops must match the reference bit for bit.
  Input a{Shape{97}, special_values(97)};
  Input b{Shape{97}, special_values(97)};
  std::reverse(b.values.begin(), b.values.end());
  for (auto [name, fn] : std::vector<std::pair<const char*, std::function<Array(const Array&, const Array&)>>>{
           {"add", [](const Array& x, const Array& y) { return x + y; }},
           {"sub", [](const Array& x, const Array& y) { return x - y; }},
           {"mul", [](const Array& x, const Array& y) { return x * y; }},
           {"min", [](const Array& x, const Array& y) { return x.min(y); }},
           {"max", [](const Array& x, const Array& y) { return x.max(y); }},
           {"lt", [](const Array& x, const Array& y) { return x.lt(y); }},
           {"le", [](const Array& x, const Array& y) { return x.le(y); }},
           {"ge", [](const Array& x, const Array& y) { return x.ge(y); }},
           {"eq", [](const Array& x, const Array& y) { return x.eq(y); }},
           {"ne", [](const Array& x, const Array& y) { return x.ne(y); }},
           {"select", [](const Array& x, const Array& y) { return x.gt(y).select(x, y); }},
       }) {
    check_op(name, {a, b}, [&](Scope&, auto& x) { return fn(x[0], x[1]); });
  }
}

TEST(Elementwise, U32ArithmeticThroughConversions) {
  // to_u32 truncates, u32 ops wrap modulo 2^32, to_f32 rounds to nearest: with these integers
  // (products below 2^24, sums and differences wrapping) every step is exact (class A).
  std::vector<float> a, b;
  for (int i = 0; i < 67; ++i) {
    a.push_back(static_cast<float>((i * 37) % 1000) + 0.75f);  // the fraction is truncated away
    b.push_back(static_cast<float>((i * 91) % 700));
  }
  Input x{Shape{67}, a}, y{Shape{67}, b};
  check_op("u32 mul", {x, y}, [](Scope&, auto& v) { return (v[0].to_u32() * v[1].to_u32()).to_f32(); });
  check_op("u32 add/sub", {x, y}, [](Scope&, auto& v) {
    Array p = v[0].to_u32(), q = v[1].to_u32();
    return ((p + q) - q * q).to_f32();  // wraps below zero: large values, still exact in float
  });
}

TEST(Elementwise, CheckFiniteMatchesTheReferenceFusedAndUnfused) {
  // check_finite is a side effect kept without users: the float64 reference evaluates the check
  // too, and the graph still fuses (fused == unfused, run twice).
  Input in{{4, 6}, random_values(24, 91)};
  check_op("check_finite then mul", {in}, [](Scope&, const std::vector<Array>& x) {
    (x[0] * 3.0f).check_finite("reference");
    return x[0] * 2.0f;
  });
  expect_no_validation_messages();
}

TEST(Elementwise, BinaryBroadcasting) {
  Input a{Shape{5, 1, 7}, random_values(35, 3)};
  Input b{Shape{4, 1}, random_values(4, 4)};
  CheckOptions o;
  o.expected_kernels = 1;
  check_op("add broadcast", {a, b}, [](Scope&, auto& x) { return x[0] + x[1]; }, o);
  check_op("mul scalar", {a}, [](Scope&, auto& x) { return 3.0f * x[0] - 1.5f; }, o);
  o.tolerance = Tolerance::kUlp3;
  o.expected_kernels = 2;  // [4,1] and [5,4,7] have different element counts: two kernels
  check_op("div broadcast", {a, b}, [](Scope&, auto& x) { return x[0] / (x[1].abs() + 1.0f); }, o);
}

TEST(Elementwise, Pow) {
  CheckOptions o;
  o.tolerance = Tolerance::kTranscend;
  o.transcend_ulps = 64;  // pow = exp2(b log2 a): error grows with |b log2 a|
  check_op("pow", {{Shape{65}, random_values(65, 9, 0.1f, 4)}, {Shape{65}, random_values(65, 10, -3, 3)}},
           [](Scope&, auto& x) { return x[0].pow(x[1]); }, o);
}

}  // namespace
}  // namespace descent::testing
