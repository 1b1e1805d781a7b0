// PyTorch's semantics for pow and NaN, per op (docs/semantics.md): pow of a negative base with an
// integer exponent, C's special cases, and NaN propagating through min/max, reduce_max, argmax and
// both max_pool2d paths, with the NaN in every position of a row or window. Each case also runs
// fused and unfused and twice (check_op): the bits must agree.
#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "support/harness.hpp"

namespace descent::testing {
namespace {

const float kNaN = std::numeric_limits<float>::quiet_NaN();
const float kInf = std::numeric_limits<float>::infinity();

TEST(Pow, NegativeBaseWithIntegerExponent) {
  // Bases in [-3, 3] (negatives included) against integer exponents -3..3: C's pow, as PyTorch.
  std::vector<float> base, expo;
  for (int i = 0; i < 13; ++i)
    for (int e = -3; e <= 3; ++e) {
      base.push_back(-3.0f + 0.5f * static_cast<float>(i) + 0.125f);
      expo.push_back(static_cast<float>(e));
    }
  CheckOptions o;
  o.tolerance = Tolerance::kTranscend;
  o.transcend_ulps = 64;  // exp2(b log2 |a|), as for positive bases
  auto n = static_cast<int64_t>(base.size());
  auto r = check_op("pow(negative base, integer)", {{Shape{n}, base}, {Shape{n}, expo}},
                    [](Scope&, auto& x) { return x[0].pow(x[1]); }, o);
  for (size_t i = 0; i < r.gpu.size(); ++i) {
    EXPECT_FALSE(std::isnan(r.gpu[i])) << base[i] << "^" << expo[i];
    if (base[i] < 0 && static_cast<int>(expo[i]) % 2 != 0) EXPECT_LT(r.gpu[i], 0.0f) << base[i] << "^" << expo[i];
  }
}

TEST(Pow, SpecialValuesFollowC) {
  // Every pair of these bases and exponents; the float64 reference is std::pow (C99 Annex F).
  const std::vector<float> bases{0.0f, -0.0f, 1.0f, -1.0f, 2.0f, -2.0f, 0.5f, -0.5f, kInf, -kInf, kNaN};
  const std::vector<float> expos{0.0f, -0.0f, 1.0f, 2.0f, 3.0f, -1.0f, -2.0f, -3.0f, 0.5f, -0.5f,
                                 2.5f, kInf, -kInf, kNaN};
  std::vector<float> a, b;
  for (float x : bases)
    for (float y : expos) {
      a.push_back(x);
      b.push_back(y);
    }
  CheckOptions o;
  o.tolerance = Tolerance::kTranscend;
  o.transcend_ulps = 8;
  auto n = static_cast<int64_t>(a.size());
  // pow(Array) takes the general path for every exponent (pow(float) special-cases some).
  check_op("pow special values", {{Shape{n}, a}, {Shape{n}, b}},
           [](Scope&, auto& x) { return x[0].pow(x[1]); }, o);
}

TEST(Pow, ScalarExponentsAreProductsAsInPyTorch) {
  // x.pow(2) is x*x and x.pow(3) is x*x*x bit for bit, negative x included (class A).
  Input x{Shape{33}, random_values(33, 5, -4.0f, 4.0f)};
  check_op("pow(x, 2)", {x}, [](Scope&, auto& v) { return v[0].pow(2.0f); });
  check_op("pow(x, 3)", {x}, [](Scope&, auto& v) { return v[0].pow(3.0f); });
  CheckOptions o;
  o.tolerance = Tolerance::kTranscend;
  o.transcend_ulps = 64;
  auto r = check_op("pow(x, -3)", {x}, [](Scope&, auto& v) { return v[0].pow(-3.0f); }, o);
  for (size_t i = 0; i < r.gpu.size(); ++i) EXPECT_FALSE(std::isnan(r.gpu[i])) << x.values[i];
}

/// Rows of length n, row r holding NaN at position r (and ordinary values elsewhere).
Input nan_rows(int64_t n) {
  Input in{Shape{n, n}, random_values(n * n, 77)};
  for (int64_t r = 0; r < n; ++r) in.values[static_cast<size_t>(r * n + r)] = kNaN;
  return in;
}

TEST(NaN, ReduceMaxPropagatesFromEveryPosition) {
  for (int64_t n : {3, 8, 37, 4500}) {  // 4500: split into chunks by split_long_reductions
    Input in = n <= 64 ? nan_rows(n) : Input{Shape{3, n}, random_values(3 * n, 78)};
    if (n > 64)
      for (int64_t r = 0; r < 3; ++r) in.values[static_cast<size_t>(r * n + r * (n - 1) / 2)] = kNaN;
    auto r = check_op(fmt::format("reduce_max NaN n={}", n), {in},
                      [](Scope&, auto& x) { return x[0].reduce_max(1); });
    for (float v : r.gpu) EXPECT_TRUE(std::isnan(v)) << "n = " << n;
    auto c = check_op(fmt::format("reduce_max NaN columns n={}", n), {in},
                      [](Scope&, auto& x) { return x[0].reduce_max(0); });
    int nan_columns = 0;
    for (float v : c.gpu) nan_columns += std::isnan(v) ? 1 : 0;
    EXPECT_EQ(nan_columns, n <= 64 ? n : 3) << "n = " << n;
  }
}

TEST(NaN, ArgmaxPointsAtTheFirstNaN) {
  Input in = nan_rows(9);
  in.values[9 * 4 + 7] = kNaN;  // row 4 holds two NaN: the first (position 4) wins
  auto r = check_op("argmax NaN", {in}, [](Scope&, auto& x) { return x[0].argmax(1); });
  for (int64_t row = 0; row < 9; ++row) EXPECT_EQ(r.gpu[static_cast<size_t>(row)], static_cast<float>(row));
}

TEST(NaN, MinMaxPropagateFromEitherOperand) {
  std::vector<float> a{kNaN, 1.0f, kNaN, -kInf, 0.0f}, b{2.0f, kNaN, kNaN, kNaN, kNaN};
  for (bool swap : {false, true}) {
    Input x{Shape{5}, swap ? b : a}, y{Shape{5}, swap ? a : b};
    auto lo = check_op("min NaN", {x, y}, [](Scope&, auto& v) { return v[0].min(v[1]); });
    auto hi = check_op("max NaN", {x, y}, [](Scope&, auto& v) { return v[0].max(v[1]); });
    for (size_t i = 0; i < 5; ++i) {
      EXPECT_TRUE(std::isnan(lo.gpu[i])) << i;
      EXPECT_TRUE(std::isnan(hi.gpu[i])) << i;
    }
  }
}

TEST(NaN, MaxPoolPropagatesFromEveryWindowPosition) {
  // One 4x4 image per window position: image p has NaN at position p of every 2x2 window.
  const int64_t kH = 4;
  for (auto [size, stride] : {std::pair<int64_t, int64_t>{2, 2}, {2, 1}, {3, 1}}) {
    const int64_t positions = size * size;
    std::vector<float> pixels;
    for (int64_t p = 0; p < positions; ++p) {
      std::vector<float> img = random_values(kH * kH, 80 + static_cast<uint32_t>(p));
      for (int64_t y = 0; y + size <= kH; y += size)
        for (int64_t x = 0; x + size <= kH; x += size)
          img[static_cast<size_t>((y + p / size) * kH + x + p % size)] = kNaN;
      pixels.insert(pixels.end(), img.begin(), img.end());
    }
    Input in{Shape{positions, kH, kH, 1}, pixels};
    auto r = check_op(fmt::format("max_pool2d {}x{} stride {} NaN", size, size, stride), {in},
                      [&](Scope&, auto& x) { return max_pool2d(x[0], size, size, stride, stride); });
    // With stride == size every window holds exactly one NaN; overlapping windows at least the
    // ones aligned to the size grid do.
    const int64_t out = (kH - size) / stride + 1;
    for (int64_t p = 0; p < positions; ++p)
      for (int64_t y = 0; y < out; ++y)
        for (int64_t x = 0; x < out; ++x) {
          if ((y * stride) % size || (x * stride) % size) continue;
          float v = r.gpu[static_cast<size_t>((p * out + y) * out + x)];
          EXPECT_TRUE(std::isnan(v)) << "size " << size << " position " << p << " window " << y << "," << x;
        }
  }
}

}  // namespace
}  // namespace descent::testing
