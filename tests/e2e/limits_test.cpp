// Device limits and memory: arrays past lavapipe's 128 MiB maxStorageBufferRange (elementwise and row
// reduction, checked on the host); injected out-of-memory on device allocation (typed error, no
// leak, identical bits afterwards); forced reduction thread counts (tree vs serial); kernels with
// more operands or outputs than the push-constant binding budget (fusion must split them).
#include <fmt/format.h>

#include <cmath>
#include <cstring>

#include "runtime/state.hpp"
#include "support/harness.hpp"
#include "util/flags.hpp"
#include "runtime/test_access.hpp"

namespace descent::testing {
namespace {

TEST(Limits, ArraysLargerThanTheStorageBufferRange) {
  // 6000 x 6000 floats = 137 MiB > 128 MiB. Small integers keep every sum exact in float32
  // (|row sum| <= 8 * 6000 < 2^24), so the check is bit-exact whatever the summation order.
  constexpr int64_t kRows = 6000, kCols = 6000, kN = kRows * kCols;
  static_assert(kN * 4 > (int64_t{128} << 20));
  std::vector<float> a(kN);
  for (int64_t i = 0; i < kN; ++i) a[i] = static_cast<float>((i * 7919) % 17) - 8.0f;
  auto pa = env().static_parameter_with_data({kRows, kCols}, env().unique_name("big_a"), a);
  auto pb = env().static_parameter({kRows, kCols}, env().unique_name("big_b"));
  auto pc = env().static_parameter({kRows}, env().unique_name("big_rows"));
  auto pd = env().static_parameter({10}, env().unique_name("big_tail_max"));
  auto g = env().build_graph([&](Scope& s) {
    Array x = s.parameter_value(pa);
    s.write_parameter_value(pb, x * 2.0f + 1.0f);
    s.write_parameter_value(pc, x.reduce_sum(1));
    // An offset view whose every element lies past the 128 MiB boundary.
    s.write_parameter_value(
        pd, (x.slice(0, kRows - 10, kRows) + s.coord({10, kCols}, 1)).reduce_max(1));
  });
  env().run(g);
  auto b = env().read_parameter(pb);
  auto c = env().read_parameter(pc);
  auto d = env().read_parameter(pd);
  int bad = 0;
  for (int64_t i = 0; i < kN && bad < 5; ++i)
    if (b[i] != a[i] * 2.0f + 1.0f)
      ADD_FAILURE() << "elementwise element " << i << ": " << b[i] << " (bad " << ++bad << ")";
  for (int64_t r = 0; r < kRows; ++r) {
    double want = 0, tail = -1e30;
    for (int64_t k = 0; k < kCols; ++k) want += a[r * kCols + k];
    ASSERT_EQ(c[r], static_cast<float>(want)) << "row " << r;
    if (r >= kRows - 10) {
      for (int64_t k = 0; k < kCols; ++k)
        tail = std::max(tail, static_cast<double>(a[r * kCols + k]) + k);
      EXPECT_EQ(d[r - (kRows - 10)], static_cast<float>(tail)) << "tail row " << r;
    }
  }
  expect_no_validation_messages();
}

/// Small graph with an arena temporary (the transpose of a computed value) and a reduction.
struct Probe {
  Parameter x, out;
  Probe() {
    x = env().static_parameter_with_data({33, 65}, env().unique_name("oom_x"), random_values(33 * 65, 71));
    out = env().static_parameter({65}, env().unique_name("oom_out"));
  }
  Graph build() const {
    return env().build_graph([&](Scope& s) {
      Array y = (s.parameter_value(x) * 2.0f).transpose() + 1.0f;
      s.write_parameter_value(out, y.exp().reduce_sum(1) + y.reduce_max(1));
    });
  }
  std::vector<float> run(const Graph& g) const {
    env().run(g);
    return env().read_parameter(out);
  }
};

/// A graph whose arena (a 2 x 2^28-byte temporary read by two reductions) exceeds the heap's block
/// size, so building it must call vkAllocateMemory for a new block.
Graph build_big_arena_graph(const Parameter& src, const Parameter& dst) {
  return env().build_graph([&](Scope& s) {
    Array t = (s.parameter_value(src).broadcast({8192, 8200}) * 2.0f).reshape({8200, 8192});
    s.write_parameter_value(dst, t.reduce_sum(1) + t.reduce_max(1));
  });
}

TEST(Limits, InjectedOutOfMemoryLeavesTheEnvironmentUsable) {
  auto& heap = *detail::TestAccess::state(env()).heap;
  Probe probe;
  Graph g = probe.build();
  auto before = probe.run(g);
  auto src = env().static_parameter_with_data({1}, env().unique_name("oom_src"), std::vector<float>{0.5f});
  auto dst = env().static_parameter({8200}, env().unique_name("oom_dst"));
  auto stats0 = heap.stats();

  heap.set_fail_after(0);
  const int64_t kHuge = int64_t{300} << 18;  // 300 MiB of floats: more than a heap block
  try {
    env().static_parameter({kHuge}, env().unique_name("huge"));
    ADD_FAILURE() << "no OutOfMemoryError for a 300 MiB parameter";
  } catch (const OutOfMemoryError& e) {
    EXPECT_GE(e.bytes(), static_cast<uint64_t>(kHuge) * 4) << e.what();
  }
  heap.set_fail_after(0);
  EXPECT_THROW(build_big_arena_graph(src, dst), OutOfMemoryError);
  heap.set_fail_after(-1);

  auto stats1 = heap.stats();
  EXPECT_EQ(stats1.live_allocations, stats0.live_allocations) << "a failed request leaked";
  EXPECT_EQ(stats1.used_bytes, stats0.used_bytes);
  EXPECT_EQ(probe.run(g), before) << "old graph after OOM";
  EXPECT_EQ(probe.run(probe.build()), before) << "new graph after OOM";
  {
    // The request that failed now succeeds (not run: 0.3 GB of traffic for nothing new).
    Graph big = build_big_arena_graph(src, dst);
    EXPECT_EQ(heap.stats().live_allocations, stats0.live_allocations + 1) << "one arena";
  }
  EXPECT_EQ(heap.stats().live_allocations, stats0.live_allocations) << "graph arena not returned";
  expect_no_validation_messages();
}

/// Sets the threads cooperating on one reduced row for graphs built while alive. The flag is read
/// into the Environment's codegen target when the Environment is created, so both are set.
class ReduceThreads {
 public:
  explicit ReduceThreads(int n)
      : flag_(detail::mutable_flags().reduce_threads),
        target_(detail::TestAccess::state(env()).target.reduce_threads) {
    detail::mutable_flags().reduce_threads = n;
    detail::TestAccess::state(env()).target.reduce_threads = n;
  }
  ~ReduceThreads() {
    detail::mutable_flags().reduce_threads = flag_;
    detail::TestAccess::state(env()).target.reduce_threads = target_;
  }

 private:
  int flag_, target_;
};


void check_reductions(int threads) {
  ReduceThreads forced(threads);
  const std::pair<Shape, int> cases[] = {
      {Shape{33, 129}, 1}, {Shape{7, 1000}, 1}, {Shape{3, 65, 5}, 1}};
  uint32_t salt = 80;
  for (const auto& [shape, axis] : cases) {
    Input in{shape, random_values(shape.element_count(), salt++)};
    CheckOptions o;
    o.tolerance = Tolerance::kReduction;
    o.reduction_length = shape[axis];
    o.abs_sum = abs_sums(in, axis);
    std::string name = fmt::format("reduce_sum threads={}", threads);
    check_op(
        name, {in}, [&](Scope&, auto& x) { return x[0].reduce_sum(axis); }, o);
    check_op(fmt::format("reduce_max threads={}", threads), {in},
             [&](Scope&, auto& x) { return x[0].reduce_max(axis); });
  }
  // The forced count reaches the generated code: the source differs from the serial kernel's.
  auto p = env().static_parameter({4, 100}, env().unique_name("rt_in"));
  auto q = env().static_parameter({4}, env().unique_name("rt_out"));
  auto build = [&] {
    return env().build_graph(
        [&](Scope& s) { s.write_parameter_value(q, s.parameter_value(p).reduce_sum(1)); });
  };
  std::string forced_source = build().kernel_source(0);
  std::string serial_source;
  {
    ReduceThreads serial(1);
    serial_source = build().kernel_source(0);
  }
  EXPECT_EQ(forced_source != serial_source, threads > 1) << "threads " << threads;
}

TEST(Limits, ForcedReductionThreadsSerial) { check_reductions(1); }
TEST(Limits, ForcedReductionThreadsTree4) { check_reductions(4); }
TEST(Limits, ForcedReductionThreadsTree256) { check_reductions(256); }

// A count that is not a power of two (the first codegen's pairwise tree dropped partial sums for
// DESCENT_REDUCE_THREADS=3: only 2 of 3 partials were combined) must still sum every element.
TEST(Limits, ForcedReductionThreadsNotAPowerOfTwo) { check_reductions(3); }

TEST(Limits, MoreOperandsThanThePushConstantBudget) {
  // Push constants hold the run info and one address per buffer: 15 buffers on lavapipe (128
  // bytes), 31 on NVIDIA (256 bytes). Use more operands than the device's budget.
  const uint32_t max_push = detail::TestAccess::state(env()).ctx->info().max_push_constants_size;
  const int n = static_cast<int>(max_push / 8) + 4;
  std::vector<Input> ins;
  for (int i = 0; i < n; ++i) ins.push_back({Shape{257}, random_values(257, 90 + i, 0.5f, 2.0f)});
  auto sum20 = [](Scope&, const std::vector<Array>& x) {
    Array acc = x[0];
    for (size_t i = 1; i < x.size(); ++i) acc = acc + x[i];
    return acc;
  };
  auto r =
      check_op("sum of n parameters", ins, sum20);  // exact: each add rounds like the reference
  EXPECT_GE(r.kernels, 2u) << n << " inputs cannot fit one kernel's bindings";
  // Mixed ops over 2n operands, and a reduction with a 20-operand prologue.
  for (int i = n; i < 2 * n; ++i) ins.push_back({Shape{257}, random_values(257, 90 + i, 0.5f, 2.0f)});
  check_op("min/max/mul of 40 parameters", ins, [](Scope&, const std::vector<Array>& x) {
    Array acc = x[0];
    for (size_t i = 1; i < x.size(); ++i)
      acc = i % 3 == 0   ? acc.min(x[i] * 1.5f)
            : i % 3 == 1 ? acc.max(-x[i])
                         : (acc * x[i] - x[i]).abs();
    return acc;
  });
  std::vector<Input> rows;
  for (int i = 0; i < 20; ++i)
    rows.push_back({Shape{3, 129}, random_values(3 * 129, 140 + i, 0.5f, 2.0f)});
  CheckOptions o;
  o.tolerance = Tolerance::kReduction;
  o.reduction_length = 129 * 20;  // each term is itself a sum of 20 roundings
  o.abs_sum.assign(3, 0.0);
  for (const Input& in : rows)
    for (int k = 0; k < 3 * 129; ++k) o.abs_sum[k / 129] += std::fabs(in.values[k]);
  check_op(
      "reduce_sum(sum of 20)", rows,
      [&](Scope& s, const std::vector<Array>& x) { return sum20(s, x).reduce_sum(1); }, o);

  // Every kernel of a wide graph stays within the device's push-constant size.
  std::vector<Parameter> ps;
  for (int i = 0; i < 20; ++i)
    ps.push_back(env().static_parameter_with_data({257}, env().unique_name(fmt::format("wide{}", i)), ins[i].values));
  auto out = env().static_parameter({257}, env().unique_name("wide_out"));
  auto g = env().build_graph([&](Scope& s) {
    Array acc = s.parameter_value(ps[0]);
    for (int i = 1; i < 20; ++i) acc = acc + s.parameter_value(ps[i]);
    s.write_parameter_value(out, acc);
  });
  for (const auto& k : detail::GraphAccess::get(g).generated) EXPECT_LE(k.push_bytes, max_push);
}

TEST(Limits, MoreOutputsThanThePushConstantBudget) {
  // One input written, scaled, to 20 parameters: sibling kernels merge only while they fit.
  const uint32_t max_push = detail::TestAccess::state(env()).ctx->info().max_push_constants_size;
  const int n = static_cast<int>(max_push / 8) + 4;  // more outputs than one kernel can bind
  auto x = env().static_parameter_with_data({129}, env().unique_name("fan_x"), random_values(129, 200));
  std::vector<Parameter> outs;
  for (int i = 0; i < n; ++i)
    outs.push_back(env().static_parameter({129}, env().unique_name(fmt::format("fan{}", i))));
  auto g = env().build_graph([&](Scope& s) {
    Array xv = s.parameter_value(x);
    for (int i = 0; i < n; ++i)
      s.write_parameter_value(outs[i], xv * static_cast<float>(i + 2) - 1.0f);
  });
  EXPECT_GE(g.kernel_count(), 2u);
  EXPECT_LT(g.kernel_count(), static_cast<size_t>(n)) << "siblings sharing an input should still merge";
  for (const auto& k : detail::GraphAccess::get(g).generated) EXPECT_LE(k.push_bytes, max_push);
  env().run(g);
  auto xv = env().read_parameter(x);
  for (int i = 0; i < n; ++i) {
    auto v = env().read_parameter(outs[i]);
    for (int k = 0; k < 129; ++k)
      ASSERT_EQ(v[k], xv[k] * static_cast<float>(i + 2) - 1.0f) << "output " << i;
  }
  expect_no_validation_messages();
}

}  // namespace
}  // namespace descent::testing
