// The view algebra: every composition and reshape agrees with applying the views one after
// the other through the reference address function (a brute-force gather).
#include <gtest/gtest.h>

#include <random>

#include "graph/view.hpp"

namespace descent::detail {
namespace {

/// Element read by view `v` at each output coordinate (-1: zero padding).
std::vector<int64_t> gather(const View& v) {
  std::vector<int64_t> out;
  int64_t n = v.output.element_count();
  std::vector<int64_t> c(kMaxRank);
  for (int64_t l = 0; l < n; ++l) {
    int64_t r = l;
    for (int j = v.output.rank() - 1; j >= 0; --j) {
      c[j] = r % v.output[j];
      r /= v.output[j];
    }
    int64_t f = -1;
    if (!v.address(c.data(), &f)) f = -1;
    out.push_back(f);
  }
  return out;
}

/// Applies inner then outer by brute force.
std::vector<int64_t> gather2(const View& inner, const View& outer) {
  auto gi = gather(inner);
  auto go = gather(outer);
  std::vector<int64_t> out;
  for (int64_t x : go) out.push_back(x < 0 ? -1 : gi[static_cast<size_t>(x)]);
  return out;
}

TEST(View, IdentityAndReshape) {
  View v = View::identity(Shape{8});
  for (Shape to : {Shape{1, 1, 8}, Shape{1, 8, 1}, Shape{8, 1, 1}, Shape{2, 4}, Shape{2, 2, 2}}) {
    auto r = v.reshaped(to);
    ASSERT_TRUE(r.has_value()) << to.str();
    EXPECT_EQ(gather(*r), gather(View::identity(to)));
  }
}

TEST(View, TransposeThenReshapeNeedsCopy) {
  View t = View::identity(Shape{3, 4}).permuted({1, 0});
  EXPECT_FALSE(t.reshaped(Shape{12}).has_value());
  // but splitting a transposed axis is fine
  auto s = t.reshaped(Shape{2, 2, 3});
  ASSERT_TRUE(s.has_value());
  auto g = gather(*s);
  auto ref = gather(t);
  EXPECT_EQ(g, ref);
}

TEST(View, RandomCompositionsMatchBruteForce) {
  std::mt19937 rng(1234);
  int checked = 0;
  for (int trial = 0; trial < 400; ++trial) {
    Shape s{1 + static_cast<int64_t>(rng() % 5), 1 + static_cast<int64_t>(rng() % 6)};
    View inner = View::identity(s);
    // random inner transform
    switch (rng() % 4) {
      case 0: inner = inner.permuted({1, 0}); break;
      case 1: if (s[1] > 2) inner = inner.sliced(1, 1, s[1] - 2, 1); break;
      case 2: inner = *inner.padded(0, 1, 2, rng() % 2 ? PadMode::kZero : PadMode::kClamp); break;
      default: inner = inner.sliced(0, s[0] - 1, s[0], -1); break;
    }
    View outer = View::identity(inner.output);
    switch (rng() % 4) {
      case 0: outer = outer.permuted({1, 0}); break;
      case 1: outer = *outer.padded(1, 2, 1, rng() % 2 ? PadMode::kZero : PadMode::kClamp); break;
      case 2: outer = outer.broadcast_to(Shape{3, inner.output[0], inner.output[1]}); break;
      default: if (inner.output[1] > 1) outer = outer.sliced(1, inner.output[1] - 1, inner.output[1] / 2 + 1, -1); break;
    }
    auto c = View::compose(inner, outer);
    if (!c) continue;
    ++checked;
    ASSERT_EQ(gather(*c), gather2(inner, outer)) << inner.str() << " then " << outer.str();
  }
  EXPECT_GT(checked, 200);
}

TEST(View, ReshapeOfPaddedViewsSplitsAndMergesAlongOneInputAxis) {
  // Padded image windows, as convolution builds them: [2, 5, 6] zero-padded on axes 1 and 2, then
  // 3x3 windows: [2, 5, 3, 6, 3, ...]. Splitting the channel axis and merging window axes that
  // walk one input axis contiguously keep the padding; merging different input axes cannot.
  View v = *View::identity(Shape{2, 5, 6}).padded(1, 1, 1, PadMode::kZero);
  v = *v.padded(2, 1, 1, PadMode::kZero);  // [2, 7, 8]
  ASSERT_TRUE(v.any_bounds());
  auto split = v.reshaped(Shape{2, 7, 2, 4});
  ASSERT_TRUE(split.has_value());
  EXPECT_EQ(gather(*split), gather(v));
  EXPECT_TRUE(split->any_bounds());
  auto merged = split->reshaped(Shape{2, 7, 8});
  ASSERT_TRUE(merged.has_value());
  EXPECT_EQ(gather(*merged), gather(v));
  EXPECT_FALSE(v.reshaped(Shape{14, 8}).has_value());  // rows of different input axes
  View w = v.windowed(2, 3, 2, 2);                      // [2, 7, 3, 2]: steps 2 and 1 on axis 2
  auto ww = w.reshaped(Shape{2, 7, 6});
  ASSERT_TRUE(ww.has_value());
  EXPECT_EQ(gather(*ww), gather(w));
  View o = v.windowed(2, 3, 3, 2);  // overlapping windows: steps 2 and 1 with size 3
  EXPECT_FALSE(o.reshaped(Shape{2, 7, 9}).has_value());
  std::mt19937 rng(99);
  int checked = 0;
  for (int trial = 0; trial < 300; ++trial) {
    Shape s{1 + static_cast<int64_t>(rng() % 4), 2 + static_cast<int64_t>(rng() % 5), 4};
    View x = *View::identity(s).padded(1, rng() % 2, 1 + rng() % 2, rng() % 2 ? PadMode::kZero : PadMode::kClamp);
    if (rng() % 2) x = x.permuted({0, 2, 1});
    std::vector<int64_t> d = x.output.dims();
    // random split of one axis into (2, n / 2) or merge of two neighbours
    std::vector<int64_t> nd;
    size_t a = rng() % d.size();
    bool merge = rng() % 2 && a + 1 < d.size();
    for (size_t q = 0; q < d.size(); ++q) {
      if (q == a && merge) { nd.push_back(d[q] * d[q + 1]); ++q; continue; }
      if (q == a && d[q] % 2 == 0) { nd.push_back(2); nd.push_back(d[q] / 2); continue; }
      nd.push_back(d[q]);
    }
    Shape to(nd);
    auto r = x.reshaped(to);
    if (!r) continue;
    ++checked;
    ASSERT_EQ(gather(*r), gather(x)) << x.str() << " -> " << to.str();
  }
  EXPECT_GT(checked, 100);
}

TEST(View, WindowsMapTwoAxesToOne) {
  View v = View::identity(Shape{10}).windowed(0, 4, 3, 2);  // 4 windows of 3, stride 2
  EXPECT_EQ(v.output, (Shape{4, 3}));
  auto g = gather(v);
  EXPECT_EQ(g, (std::vector<int64_t>{0, 1, 2, 2, 3, 4, 4, 5, 6, 6, 7, 8}));
}

}  // namespace
}  // namespace descent::detail
