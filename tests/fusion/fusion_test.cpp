// Kernel-count assertions for fusion decisions (what must fuse, and what must not).
#include "support/harness.hpp"

namespace descent::testing {
namespace {

TEST(Fusion, ElementwiseChainIsOneKernel) {
  Input a{Shape{100}, random_values(100, 1)};
  Input b{Shape{100}, random_values(100, 2)};
  CheckOptions o;
  o.tolerance = Tolerance::kTranscend;
  o.transcend_ulps = 64;
  o.transcend_abs = 1e-5;
  o.expected_kernels = 1;
  check_op("chain", {a, b}, [](Scope&, auto& x) { return ((x[0] * 2.0f + x[1]).sin() * x[1] - 1.0f).abs(); }, o);
}

TEST(Fusion, TransposedConsumerNeedsTwoKernels) {
  Input a{Shape{8, 9}, random_values(72, 3)};
  CheckOptions o;
  o.expected_kernels = 2;  // y is read through a transpose: it must be stored first
  check_op("transpose between", {a}, [](Scope&, auto& x) {
    auto y = x[0] * 2.0f;
    return y.transpose() + y.transpose().abs();
  }, o);
}

TEST(Fusion, ViewsOfParametersStayZeroCopy) {
  Input a{Shape{8, 9}, random_values(72, 4)};
  CheckOptions o;
  o.expected_kernels = 1;  // transpose/slice/pad of a stored array are index maps in one kernel
  check_op("views", {a}, [](Scope&, auto& x) {
    return x[0].transpose().slice(0, 1, 9).pad(1, 1, 1) * 2.0f;
  }, o);
}

TEST(Fusion, ShiftedReadOfAKernelOutputIsNotMergedIntoIt) {
  // sel joins add's kernel, then reads y element for element, which pulls y's kernel in; add
  // reads y shifted by one, which a register cannot do: the merge must be refused (this once
  // tripped an internal assertion in emission; the segmented scan of scatter_add has it).
  Input a{Shape{64}, random_values(64, 7)};
  Input c{Shape{64}, random_values(64, 8)};
  CheckOptions o;
  o.expected_kernels = 2;
  check_op("shifted read", {a, c}, [](Scope&, auto& x) {
    auto y = x[0] * 2.0f;
    return x[1].select(y + y.pad(0, 1, 0).slice(0, 0, 64), y);
  }, o);
}

TEST(Fusion, CommonSubexpressionsComputedOnce) {
  Input a{Shape{50}, random_values(50, 5)};
  auto r = check_op("cse", {a}, [](Scope&, auto& x) { return (x[0] + 1.0f) * (x[0] + 1.0f); });
  EXPECT_EQ(r.kernels, 1u);
}

TEST(Fusion, ParameterUpdateInPlaceIsOneKernel) {
  auto p = env().static_parameter_with_data({1000}, env().unique_name("p"), random_values(1000, 6));
  auto g = env().build_graph([&](Scope& s) { s.write_parameter_value(p, s.parameter_value(p) * 0.5f + 1.0f); });
  EXPECT_EQ(g.kernel_count(), 1u);
  auto before = env().read_parameter(p);
  env().run(g);
  auto after = env().read_parameter(p);
  for (size_t i = 0; i < before.size(); ++i) ASSERT_EQ(after[i], before[i] * 0.5f + 1.0f);
  expect_no_validation_messages();
}

TEST(Fusion, SwappingParametersUsesCopies) {
  auto a = env().static_parameter_with_data({4}, env().unique_name("a"), std::vector<float>{1, 2, 3, 4});
  auto b = env().static_parameter_with_data({4}, env().unique_name("b"), std::vector<float>{5, 6, 7, 8});
  auto g = env().build_graph([&](Scope& s) {
    auto av = s.parameter_value(a);
    auto bv = s.parameter_value(b);
    s.write_parameter_value(a, bv);
    s.write_parameter_value(b, av);
  });
  env().run(g);
  EXPECT_EQ(env().read_parameter(a), (std::vector<float>{5, 6, 7, 8}));
  EXPECT_EQ(env().read_parameter(b), (std::vector<float>{1, 2, 3, 4}));
  expect_no_validation_messages();
}

}  // namespace
}  // namespace descent::testing
