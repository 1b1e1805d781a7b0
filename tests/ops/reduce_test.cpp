// Reductions: sum and max over every axis of edge shapes, through views, with fused
// prologues, against the float64 reference (class D for sums, exact for max).
#include <cmath>

#include "support/harness.hpp"

namespace descent::testing {
namespace {


TEST(Reduce, SumAndMaxEveryAxis) {
  const Shape shapes[] = {Shape{1}, Shape{7}, Shape{33, 3}, Shape{3, 129}, Shape{2, 65, 5}, Shape{1000}};
  uint32_t salt = 100;
  for (const Shape& s : shapes) {
    for (int axis = 0; axis < s.rank(); ++axis) {
      Input in{s, random_values(s.element_count(), salt++)};
      CheckOptions o;
      o.tolerance = Tolerance::kReduction;
      o.reduction_length = s[axis];
      o.abs_sum = abs_sums(in, axis);
      o.expected_kernels = 1;
      check_op("reduce_sum", {in}, [&](Scope&, auto& x) { return x[0].reduce_sum(axis, true); }, o);
      CheckOptions m;
      m.tolerance = Tolerance::kExact;
      check_op("reduce_max", {in}, [&](Scope&, auto& x) { return x[0].reduce_max(axis); }, m);
    }
  }
}

TEST(Reduce, FusedPrologueIsOneKernel) {
  Input in{Shape{64, 100}, random_values(6400, 5)};
  CheckOptions o;
  o.tolerance = Tolerance::kReduction;
  o.reduction_length = 100;
  std::vector<double> s(64, 0.0);
  for (int r = 0; r < 64; ++r)
    for (int k = 0; k < 100; ++k) s[r] += in.values[r * 100 + k] * in.values[r * 100 + k] + 1.0;
  o.abs_sum = s;
  o.expected_kernels = 1;
  check_op("sum(x*x+1)", {in}, [](Scope&, auto& x) { return (x[0] * x[0] + 1.0f).reduce_sum(-1); }, o);
}

TEST(Reduce, ThroughTransposeAndMultiAxis) {
  Input in{Shape{6, 10, 4}, random_values(240, 11)};
  CheckOptions o;
  o.tolerance = Tolerance::kReduction;
  o.reduction_length = 60;
  std::vector<double> s(4, 0.0);
  for (int i = 0; i < 240; ++i) s[i % 4] += std::fabs(in.values[i]);
  o.abs_sum = s;
  check_op("sum(axes 0,1)", {in}, [](Scope&, auto& x) { return x[0].reduce_sum({0, 1}); }, o);
  CheckOptions m;
  check_op("max(transpose)", {in}, [](Scope&, auto& x) { return x[0].transpose().reduce_max(1); }, m);
}

TEST(Reduce, SpecialValues) {
  Input in{Shape{6, 18}, special_values(108)};
  CheckOptions m;
  check_op("reduce_max special", {in}, [](Scope&, auto& x) { return x[0].reduce_max(1); }, m);
}

}  // namespace
}  // namespace descent::testing

namespace descent::testing {
namespace {

TEST(Reduce, LongAxisSplitsIntoTwoStages) {
  // Few outputs over a long axis: split_long_reductions makes two kernels (chunks, then chunks'
  // results); the tail chunk reads zero padding (sum) or replicated edges (max).
  Input in{Shape{10007, 3}, random_values(30021, 21)};
  CheckOptions o;
  o.tolerance = Tolerance::kReduction;
  o.reduction_length = 10007;
  std::vector<double> s(3, 0.0);
  for (int i = 0; i < 30021; ++i) s[i % 3] += std::fabs(in.values[i]);
  o.abs_sum = s;
  o.expected_kernels = 2;
  check_op("sum long axis 0", {in}, [](Scope&, auto& x) { return x[0].reduce_sum(0); }, o);
  CheckOptions m;
  m.expected_kernels = 2;
  check_op("max long axis 0", {in}, [](Scope&, auto& x) { return x[0].reduce_max(0); }, m);
  Input row{Shape{5000}, random_values(5000, 22, -3.0f, -1.0f)};  // all negative: padding must not win
  check_op("max long row", {row}, [](Scope&, auto& x) { return x[0].reduce_max(0); }, m);
}

}  // namespace
}  // namespace descent::testing

namespace descent::testing {
namespace {

TEST(Views, WindowsAreZeroCopyAndMatchTheReference) {
  // 1-D and 2-D sliding windows (the shape convolution and pooling use), max over each window.
  Input img{Shape{2, 9, 10, 3}, random_values(540, 30)};
  CheckOptions o;
  o.expected_kernels = 2;  // one per reduction: windows are index maps, never copies
  check_op("windows max", {img}, [](Scope&, auto& x) {
    return x[0].windows(1, 3, 2).reduce_max(2).windows(3, 2, 2).reduce_max(4);
  }, o);
  check_op("windows stride 1", {img}, [](Scope&, auto& x) { return x[0].windows(2, 4) * 2.0f; });
  Input v{Shape{10}, random_values(10, 31)};
  check_op("windows 1d", {v}, [](Scope&, auto& x) { return x[0].windows(0, 3, 2); });
}

TEST(Views, WindowsRejectBadArguments) {
  auto p = env().static_parameter({2, 5}, env().unique_name("win"));
  for (auto [size, stride] : std::vector<std::pair<int64_t, int64_t>>{{6, 1}, {0, 1}, {2, 0}}) {
    try {
      env().build_graph([&](Scope& s) { (void)s.parameter_value(p).windows(1, size, stride); });
      ADD_FAILURE() << "windows(" << size << ", " << stride << ") did not throw";
    } catch (const ShapeError& e) {
      EXPECT_NE(std::string(e.what()).find("windows"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace descent::testing

namespace descent::testing {
namespace {

TEST(Reduce, EpiloguesFuseIntoTheReduction) {
  Input in{Shape{40, 130}, random_values(5200, 80)};
  std::vector<double> sq(40, 0.0);
  for (int i = 0; i < 5200; ++i) sq[i / 130] += in.values[i] * in.values[i];
  CheckOptions o;
  o.tolerance = Tolerance::kReduction;
  o.reduction_length = 130;
  o.abs_sum = abs_sums(in, 1);
  o.expected_kernels = 1;
  check_op("mean", {in}, [](Scope&, auto& x) { return x[0].reduce_sum(1) * (1.0f / 130.0f); }, o);
  CheckOptions n = o;
  n.tolerance = Tolerance::kTranscend;  // sqrt of a sum: relative error ~ half the sum's
  n.transcend_abs = 4.0 * 130 * std::ldexp(1.0, -24) * 12.0;
  check_op("l2 norm", {in}, [](Scope&, auto& x) { return (x[0] * x[0]).reduce_sum(1).sqrt(); }, n);
  // The result feeds the epilogue and is also stored: one kernel with two outputs.
  auto r = check_op("max and max*2", {in}, [](Scope&, auto& x) {
    auto m = x[0].reduce_max(1);
    return m.concat(m * 2.0f + 1.0f, 0);
  });
  EXPECT_EQ(r.kernels, 2u);  // the reduction (+ epilogue) and the concat reading both
}

}  // namespace
}  // namespace descent::testing
