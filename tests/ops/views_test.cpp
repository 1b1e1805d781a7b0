// View ops (broadcast, reshape, transpose/permute, slice, pad, insert/remove_axis,
// flatten) and chains of them on awkward shapes: exact class against the float64 reference AND an
// independent host gather; op(view) bit-identical to op(contiguous copy uploaded from the host);
// offset views and strided slices whose skipped elements are NaN (no NaN may leak into results).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>

#include "ops/view_chain.hpp"
#include "support/harness.hpp"

namespace descent::testing {
namespace {

using namespace view_chain;  // NOLINT(google-build-using-namespace): test-local helpers
constexpr PadMode kRep = PadMode::kReplicate;

const ViewCase kCases[] = {
    // broadcast (rank 0 and unit axes, both sides of tile sizes)
    {"bcast []->[7]", Shape{}, {bc({7})}, 1},
    {"bcast [1]->[129]", Shape{1}, {bc({129})}, 1},
    {"bcast [3,1]->[3,65]", Shape{3, 1}, {bc({3, 65})}, 1},
    {"bcast [1,33]->[2,31,33]", Shape{1, 33}, {bc({2, 31, 33})}, 1},
    {"bcast [63,1,1]->[63,2,3]", Shape{63, 1, 1}, {bc({63, 2, 3})}, 1},
    // reshape of contiguous arrays (rank 0 included)
    {"reshape [3,7]->[7,3]", Shape{3, 7}, {rs({7, 3})}, 1},
    {"reshape [2,3,7]->[42]", Shape{2, 3, 7}, {rs({42})}, 1},
    {"reshape [129]->[3,43]", Shape{129}, {rs({3, 43})}, 1},
    {"reshape [1]->[]", Shape{1}, {rs({})}, 1},
    {"reshape []->[1,1,1]", Shape{}, {rs({1, 1, 1})}, 1},
    {"reshape [31,33]->[33,31]", Shape{31, 33}, {rs({33, 31})}, 1},
    // transpose / permute
    {"transpose [31,33]", Shape{31, 33}, {tr()}, 1},
    {"transpose [1,129]", Shape{1, 129}, {tr()}, 1},
    {"transpose [65,63]", Shape{65, 63}, {tr()}, 1},
    {"permute [2,3,7] 201", Shape{2, 3, 7}, {perm({2, 0, 1})}, 1},
    {"permute [7,1,3] 120", Shape{7, 1, 3}, {perm({1, 2, 0})}, 1},
    {"permute [2,3,5,7] 3102", Shape{2, 3, 5, 7}, {perm({3, 1, 0, -2})}, 1},
    // slice: positive, negative, clamped and offset
    {"slice [129] 1:128:2", Shape{129}, {sl(0, 1, 128, 2)}, 1},
    {"slice [129] ::-1", Shape{129}, {sl(0, -1, -1000, -1)}, 1},
    {"slice [129] 128:0:-3", Shape{129}, {sl(0, 128, 0, -3)}, 1},
    {"slice [63,65] axis1 60:2:-7", Shape{63, 65}, {sl(1, 60, 2, -7)}, 1},
    {"slice [63,65] axis0 5::4", Shape{63, 65}, {sl(0, 5, 63, 4)}, 1},
    {"slice [33] 31:33", Shape{33}, {sl(0, 31, 33)}, 1},
    {"slice [7] 3:4", Shape{7}, {sl(0, 3, 4)}, 1},
    {"slice [127] -5:", Shape{127}, {sl(0, -5, 1000)}, 1},
    {"slice [2,31] axis-1 -2:-40:-1", Shape{2, 31}, {sl(-1, -2, -40, -1)}, 1},
    // pad, zero and replicate, on 1-3 axes
    {"pad [7] zero 2,3", Shape{7}, {pd(0, 2, 3)}, 1},
    {"pad [7] replicate 3,2", Shape{7}, {pd(0, 3, 2, kRep)}, 1},
    {"pad [1] replicate 5,7", Shape{1}, {pd(0, 5, 7, kRep)}, 1},
    {"pad [3,31] zero+replicate", Shape{3, 31}, {pd(0, 1, 1), pd(1, 2, 0, kRep)}, 1},
    {"pad [2,3,7] three axes", Shape{2, 3, 7}, {pd(0, 1, 0), pd(1, 0, 2, kRep), pd(2, 3, 3)}, 1},
    {"pad [31,33] replicate both", Shape{31, 33}, {pd(0, 1, 1, kRep), pd(-1, 1, 1, kRep)}, 1},
    // insert / remove axis, flatten
    {"insert_axis [7] 0", Shape{7}, {ins(0)}, 1},
    {"insert_axis [7] -1", Shape{7}, {ins(-1)}, 1},
    {"insert_axis [3,7] 1", Shape{3, 7}, {ins(1)}, 1},
    {"insert_axis [] 0", Shape{}, {ins(0)}, 1},
    {"remove_axis [3,1,7] 1", Shape{3, 1, 7}, {rm(1)}, 1},
    {"remove_axis [1] 0", Shape{1}, {rm(0)}, 1},
    {"flatten [2,3,7]", Shape{2, 3, 7}, {flat()}, 1},
    {"flatten [129]", Shape{129}, {flat()}, 1},
    // reshape through views: non-contiguous ones must be materialised first
    {"reshape(T [7,3])", Shape{7, 3}, {tr(), rs({21})}, -1},
    {"reshape(slice step 2 [31,33])", Shape{31, 33}, {sl(1, 0, 33, 2), rs({17, 31})}, -1},
    {"reshape(row slice [6,8])", Shape{6, 8}, {sl(0, 0, 6, 2), rs({24})}, -1},
    {"reshape(col slice [6,8]) split", Shape{6, 8}, {sl(1, 0, 8, 2), rs({6, 2, 2})}, 1},
    {"reshape(pad [5,3])", Shape{5, 3}, {pd(1, 1, 1), rs({25})}, -1},
    {"reshape(bcast [3,1])", Shape{3, 1}, {bc({3, 4}), rs({12})}, -1},
    {"flatten(permute [3,7,5])", Shape{3, 7, 5}, {perm({1, 0, 2}), flat()}, -1},
    {"reshape(reverse [12])", Shape{12}, {sl(0, 11, -20, -1), rs({3, 4})}, -1},
    // chains
    {"pad(slice(T))", Shape{31, 33}, {tr(), sl(0, 2, 30, 3), pd(1, 2, 1)}, 1},
    {"slice(pad replicate)", Shape{7, 9}, {pd(0, 3, 3, kRep), sl(0, 12, 0, -2)}, 1},
    {"T(pad(slice))", Shape{3, 65}, {sl(1, 1, 64, 2), pd(0, 1, 1), tr()}, 1},
    {"bcast(slice(permute))", Shape{2, 3, 7}, {perm({2, 0, 1}), sl(1, 1, 2), bc({4, 7, 5, 3})}, 1},
    {"pad zero(pad replicate)", Shape{5}, {pd(0, 2, 2, kRep), pd(0, 1, 1)}, -1},
    {"pad zero(bcast)", Shape{1, 3}, {bc({4, 3}), pd(0, 1, 1)}, -1},
    {"slice of padding only", Shape{5}, {pd(0, 4, 0), sl(0, 0, 3)}, 1},
    {"reshape(pad(T))", Shape{4, 6}, {tr(), pd(0, 1, 1), rs({4, 8})}, -1},
    {"T(reshape(T))", Shape{6, 4}, {tr(), rs({8, 3}), tr()}, -1},
    {"slice(bcast)", Shape{3, 1}, {bc({3, 65}), sl(1, 64, 0, -5)}, 1},
    {"remove_axis(slice)", Shape{7, 5}, {sl(1, 2, 3), rm(1)}, 1},
    {"bcast(insert_axis(T))", Shape{3, 7}, {tr(), ins(1), bc({7, 4, 3})}, 1},
    {"pad(pad) other axes", Shape{3, 5}, {pd(0, 1, 2, kRep), pd(1, 2, 1)}, 1},
    {"slice(slice(slice)) to a scalar",
     Shape{7, 33},
     {sl(0, 6, 0, -2), sl(1, 32, 0, -7), sl(0, 1, 2), sl(1, 2, 3), rs({})},
     1},
};

class Views : public ::testing::TestWithParam<int> {};

TEST_P(Views, ExactVsReferenceAndHost) {
  const ViewCase& c = kCases[GetParam()];
  check_view(c, random_values(c.in.element_count(), 300 + GetParam()));
}

TEST_P(Views, OpOfViewEqualsOpOfContiguousCopy) {
  const ViewCase& c = kCases[GetParam()];
  check_view_vs_copy(c.name, c.in, random_values(c.in.element_count(), 400 + GetParam()), c.steps,
                     false);
}

INSTANTIATE_TEST_SUITE_P(Ops, Views, ::testing::Range(0, static_cast<int>(std::size(kCases))));

TEST(ViewsSpecial, SpecialValuesKeepTheirBits) {
  // +-0, +-Inf, NaN, denormals: views are copies, so every bit pattern must survive.
  for (const ViewCase& c :
       {ViewCase{"special T(pad replicate)", Shape{9, 14}, {pd(1, 2, 2, kRep), tr()}, 1},
        ViewCase{"special reverse slice", Shape{126}, {sl(0, 125, -200, -4)}, 1},
        ViewCase{"special reshape(T)", Shape{9, 14}, {tr(), rs({126})}, -1}})
    check_view(c, special_values(c.in.element_count()));
}

TEST(ViewsSpecial, LiteralsAndCoordsThroughViews) {
  // Inline leaves read through zero padding still need their bounds test.
  check_op("pad(bcast literal)", {},
           [](Scope& s, auto&) { return s.literal(3.5f).broadcast({7}).pad(0, 2, 3); });
  check_op("pad(coord) replicate", {},
           [](Scope& s, auto&) { return s.coord(5).pad(0, 2, 2, kRep); });
  auto r = check_op("T(coord 2d)", {}, [](Scope& s, auto&) {
    return s.coord({3, 7}, 1).transpose().pad(1, 1, 0);
  });
  ASSERT_EQ(r.gpu.size(), 28u);
  EXPECT_EQ(r.gpu[0], 0.0f);          // zero padding column
  EXPECT_EQ(r.gpu[4 * 6 + 1], 6.0f);  // row 6 (coordinate 6), first real column
}

// ---- NaN-filled gaps and offset views ----

/// Values where `keep(c)` holds, NaN everywhere else.
std::vector<float> with_nan_gaps(const Shape& s,
                                 const std::function<bool(const std::vector<int64_t>&)>& keep,
                                 uint32_t salt) {
  auto v = random_values(s.element_count(), salt);
  for (int64_t l = 0; l < s.element_count(); ++l)
    if (!keep(unravel(l, s))) v[l] = std::numeric_limits<float>::quiet_NaN();
  return v;
}

void expect_no_nan(const std::vector<std::vector<float>>& outs, const std::string& ctx) {
  for (size_t o = 0; o < outs.size(); ++o)
    for (size_t i = 0; i < outs[o].size(); ++i)
      ASSERT_FALSE(std::isnan(outs[o][i]))
          << ctx << ": output " << o << " element " << i << " is NaN";
}

TEST(ViewsGaps, StridedSlicesSkipNaN) {
  struct Gap {
    const char* name;
    Shape in;
    std::function<bool(const std::vector<int64_t>&)> keep;
    std::vector<Step> steps;
  };
  const Gap gaps[] = {
      {"every other [130]", Shape{130}, [](auto& c) { return c[0] % 2 == 0; }, {sl(0, 0, 130, 2)}},
      {"reverse step -3 [129]",
       Shape{129},
       [](auto& c) { return c[0] % 3 == 0; },
       {sl(0, 126, -1000, -3)}},
      {"columns 0..33 of [31,66]",
       Shape{31, 66},
       [](auto& c) { return c[1] < 33; },
       {sl(1, 0, 33)}},
      {"T of columns [31,66]",
       Shape{31, 66},
       [](auto& c) { return c[1] >= 33; },
       {sl(1, 33, 66), tr()}},
      {"2-d strided [63,65]",
       Shape{63, 65},
       [](auto& c) { return c[0] % 2 == 0 && c[1] % 4 == 1; },
       {sl(0, 0, 63, 2), sl(1, 1, 65, 4)}},
      {"padded strided [7,33]",
       Shape{7, 33},
       [](auto& c) { return c[1] % 8 == 7; },
       {sl(1, 7, 33, 8), pd(1, 2, 2, kRep), pd(0, 1, 0)}},
  };
  uint32_t salt = 500;
  for (const Gap& g : gaps) {
    auto values = with_nan_gaps(g.in, g.keep, salt++);
    auto outs = check_view_vs_copy(g.name, g.in, values, g.steps, true);
    expect_no_nan(outs, g.name);
    check_view(ViewCase{g.name, g.in, g.steps, -1}, values);
  }
}

TEST(ViewsGaps, OffsetViews) {
  // Slices that do not start at element 0 (the kernel must add the base offset everywhere).
  const ViewCase offs[] = {
      {"offset [129] 64:", Shape{129}, {sl(0, 64, 129)}, 1},
      {"offset 2-d [7,33]", Shape{7, 33}, {sl(0, 3, 7), sl(1, 31, 33)}, 1},
      {"offset to scalar", Shape{5, 3}, {sl(0, 4, 5), sl(1, 2, 3), rs({})}, 1},
      {"offset then bcast", Shape{65}, {sl(0, 63, 64), bc({3, 1}), bc({3, 31})}, 1},
  };
  uint32_t salt = 600;
  for (const ViewCase& c : offs) {
    auto v = random_values(c.in.element_count(), salt++);
    check_view(c, v);
    check_view_vs_copy(c.name, c.in, v, c.steps, true);
  }
}

}  // namespace
}  // namespace descent::testing
