// Runtime reliability: handles that outlive their Environment are refused (never read through),
// device memory stays within the heap's budget (OutOfMemoryError before the driver is asked for
// more, the Environment usable afterwards), and check_finite reports NaN/Inf at the next
// synchronisation. Reproducers: tests/data/reliability/ (see docs/reliability.md).
#include <fmt/format.h>

#include <cmath>
#include <functional>
#include <limits>

#include "runtime/state.hpp"
#include "support/harness.hpp"
#include "util/flags.hpp"
#include "runtime/test_access.hpp"

namespace descent::testing {
namespace {

/// Expects `f` to throw exactly E with every string of `parts` in what(); returns the message.
template <class E>
std::string expect_error(const std::string& what_case, const std::function<void()>& f,
                         const std::vector<std::string>& parts) {
  SCOPED_TRACE(what_case);
  try {
    f();
    ADD_FAILURE() << "no exception";
  } catch (const E& e) {
    std::string msg = e.what();
    for (const std::string& p : parts)
      EXPECT_NE(msg.find(p), std::string::npos) << "message \"" << msg << "\" lacks \"" << p << "\"";
    return msg;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
  }
  return {};
}

// ---- Dead handles ---------------------------------------------------------------------------

// tests/data/reliability/dead_env_parameter.cpp: a Parameter kept past its Environment used to
// read and overwrite the parameter of the next Environment (allocated at the same address).
TEST(DeadHandles, ParameterOfADestroyedEnvironmentIsRefused) {
  Parameter dead;
  {
    Environment e1;
    dead = e1.static_parameter_with_data({3}, "from_dead_env", std::vector<float>{1, 2, 3});
  }
  Environment e2;
  auto mine = e2.static_parameter_with_data({3}, "mine", std::vector<float>{7, 8, 9});
  EXPECT_TRUE(dead.valid()) << "not empty: it names a parameter, of an Environment that is gone";
  const std::vector<std::string> gone{"Environment", "destroyed"};
  expect_error<UsageError>("read_parameter", [&] { e2.read_parameter(dead); }, gone);
  expect_error<UsageError>("write_parameter", [&] { e2.write_parameter(dead, {5, 5, 5}); }, gone);
  expect_error<UsageError>("name", [&] { (void)dead.name(); }, gone);
  expect_error<UsageError>("shape", [&] { (void)dead.shape(); }, gone);
  expect_error<UsageError>("dtype", [&] { (void)dead.dtype(); }, gone);
  expect_error<UsageError>("trainable", [&] { (void)dead.trainable(); }, gone);
  expect_error<UsageError>("parameter_value", [&] {
    e2.build_graph([&](Scope& s) { (void)s.parameter_value(dead); });
  }, gone);
  expect_error<UsageError>("write_parameter_value", [&] {
    e2.build_graph([&](Scope& s) { s.write_parameter_value(dead, s.parameter_value(mine)); });
  }, gone);
  EXPECT_EQ(e2.read_parameter(mine), (std::vector<float>{7, 8, 9})) << "e2's parameter was touched";
  EXPECT_TRUE(e2.validation_messages().empty());
}

TEST(DeadHandles, CopiesOfALiveParameterStayUsableAndCheap) {
  static_assert(sizeof(Parameter) <= 8, "a Parameter is two 32-bit ids");
  Environment e;
  Parameter a = e.static_parameter_with_data({2}, "a", std::vector<float>{1, 2});
  Parameter b = a;
  EXPECT_EQ(b.name(), "a");
  EXPECT_EQ(e.read_parameter(b), (std::vector<float>{1, 2}));
  // A parameter of a live other Environment is still reported as foreign, by name.
  expect_error<UsageError>("foreign", [&] { env().read_parameter(a); }, {"'a'", "another Environment"});
}

TEST(DeadHandles, GraphOfADestroyedEnvironmentIsRefusedInTheNextOne) {
  Graph g;
  {
    Environment e1;
    auto p = e1.static_parameter({4}, "short_lived");
    g = e1.build_graph([&](Scope& s) { s.write_parameter_value(p, s.parameter_value(p) * 2.0f); });
  }
  Environment e2;
  (void)e2.static_parameter({4}, "short_lived");
  expect_error<UsageError>("run", [&] { e2.run(g); }, {"run", "Environment"});
  expect_error<UsageError>("last_timings", [&] { e2.last_timings(g); }, {"Environment"});
  EXPECT_EQ(g.kernel_count(), 1u);  // still inspectable; destroying it later is safe
  EXPECT_TRUE(e2.validation_messages().empty());
}

// ---- Device memory budget ------------------------------------------------------------------

constexpr uint64_t kMiB = uint64_t{1} << 20;

/// DESCENT_HEAP_LIMIT_MB for one test (the flag is read at every device allocation).
class HeapLimit {
 public:
  explicit HeapLimit(uint64_t mib) : saved_(detail::mutable_flags().heap_limit_mb) {
    detail::mutable_flags().heap_limit_mb = static_cast<int>(mib);
  }
  ~HeapLimit() { detail::mutable_flags().heap_limit_mb = saved_; }

 private:
  int saved_;
};

/// A graph whose arena holds a 16 MiB temporary (read by two reductions, so it is stored).
Graph big_arena_graph(Environment& e, const Parameter& src, const Parameter& dst) {
  return e.build_graph([&](Scope& s) {
    Array t = s.parameter_value(src).broadcast({2048, 2048}) * 2.0f;
    s.write_parameter_value(dst, t.reduce_sum(1) + t.reduce_max(1));
  });
}

// The budget is process-wide (every Environment on the device), so the limit is set relative to
// what is already held. 16 MiB parameters are zero-filled on the device: ~0.1 GB of writes in all.
TEST(MemoryBudget, PastTheLimitThrowsAndTheEnvironmentStaysUsable) {
  const uint64_t held = detail::TestAccess::state(env()).heap->budget().in_use;
  const uint64_t limit_mib = held / kMiB + 64 /* the staging ring */ + 112;
  HeapLimit limit(limit_mib);
  Environment e;
  auto src = e.static_parameter_with_data({1}, "src", std::vector<float>{0.25f});
  auto dst = e.static_parameter({2048}, "dst");
  Graph big = big_arena_graph(e, src, dst);
  std::vector<Parameter> params;
  std::string refusal;
  for (int i = 0; i < 64 && refusal.empty(); ++i) {
    try {
      params.push_back(e.static_parameter({4 << 20}, fmt::format("p{}", i)));
    } catch (const OutOfMemoryError& err) {
      refusal = err.what();
      EXPECT_GE(err.bytes(), 16 * kMiB);
      EXPECT_GT(err.heap_bytes(), 0u);
      EXPECT_LE(err.in_use_bytes(), limit_mib * kMiB);
    }
  }
  ASSERT_FALSE(refusal.empty()) << params.size() << " parameters of 16 MiB under a limit of "
                                << limit_mib << " MiB";
  EXPECT_GE(params.size(), 3u);
  EXPECT_LE(params.size(), 7u);
  for (const char* part : {"out of device memory", "16777216 bytes", "DESCENT_HEAP_LIMIT_MB",
                           "in use", "smaller batches"})
    EXPECT_NE(refusal.find(part), std::string::npos) << "lacks '" << part << "': " << refusal;
  EXPECT_LE(detail::TestAccess::state(e).heap->budget().in_use, limit_mib * kMiB);
  EXPECT_THROW(e.static_parameter({4 << 20}, "again"), OutOfMemoryError);
  // Smaller requests still succeed, graphs still run, and a destroyed graph's arena is reused.
  auto small = e.static_parameter_with_data({4}, "small", std::vector<float>{1, 2, 3, 4});
  Graph twice = e.build_graph([&](Scope& s) { s.write_parameter_value(small, s.parameter_value(small) * 2.0f); });
  e.run(twice);
  EXPECT_EQ(e.read_parameter(small), (std::vector<float>{2, 4, 6, 8}));
  e.run(big);
  EXPECT_EQ(e.read_parameter(dst)[7], 2048 * 0.5f + 0.5f);
  big = Graph();
  EXPECT_NO_THROW(params.push_back(e.static_parameter({4 << 20}, "after_free")));
  EXPECT_EQ(e.read_parameter(params.back())[123], 0.0f);
  EXPECT_TRUE(e.validation_messages().empty());
}

// ---- Non-finite checks ---------------------------------------------------------------------

/// Linear regression y = x w trained by SGD on batches of 8, with the per-row loss checked.
struct Regression {
  Environment& e;
  Parameter w, x, y, lr, loss_sum;
  Graph step;
  explicit Regression(Environment& env, bool check = true) : e(env) {
    w = e.trainable_parameter({4, 1}, e.unique_name("w"), Initializer::uniform(0.5f));
    x = e.static_parameter({8, 4}, e.unique_name("x"));
    y = e.static_parameter({8, 1}, e.unique_name("y"));
    lr = e.static_parameter_with_data({1}, e.unique_name("lr"), std::vector<float>{0.05f});
    loss_sum = e.static_parameter({1}, e.unique_name("loss_sum"));
    Sgd sgd(e, {w});
    step = e.build_graph([&](Scope& s) {
      DualArray pred = DualArray(s.parameter_value(x)).matmul(s.parameter(w));
      Array loss = (pred - s.parameter_value(y)).square().reduce_sum(-1, true).set_loss();  // [8, 1]
      if (check) loss.check_finite("regression loss");
      s.write_parameter_value(loss_sum, s.parameter_value(loss_sum) + loss.reduce_sum(0));
      sgd.step(s, s.parameter_value(lr));
    });
  }
  void batch(uint32_t salt, float poison = 0.0f) {
    auto xs = random_values(32, salt), ys = random_values(8, salt + 1);
    if (poison != 0.0f) xs[13] = poison;
    e.write_parameter(x, xs);
    e.write_parameter(y, ys);
  }
};

TEST(NonFinite, NaNInABatchIsReportedAtTheNextRead) {
  Environment e;
  Regression r(e);
  for (uint32_t i = 0; i < 3; ++i) {
    r.batch(i);
    e.run(r.step);
  }
  EXPECT_NO_THROW(e.read_parameter(r.w));
  r.batch(3, std::numeric_limits<float>::quiet_NaN());  // the 4th run of the graph
  e.run(r.step);
  for (uint32_t i = 4; i < 6; ++i) {
    r.batch(i);
    e.run(r.step);
  }
  RecordProperty("message", expect_error<NonFiniteError>(
      "read after the NaN batch", [&] { e.read_parameter(r.loss_sum); },
      {"check_finite", "'regression loss'", "NaN or infinity", "run 4 of graph #0",
       "since the last synchronisation"}));
  // Reported once; the weights are NaN now, so the next run fails again until they are reset.
  EXPECT_NO_THROW(e.read_parameter(r.w));
  e.run(r.step);
  EXPECT_THROW(e.wait_idle(), NonFiniteError);
  e.reset_parameters(1);
  r.batch(7);
  e.run(r.step);
  EXPECT_NO_THROW(e.wait_idle());
  EXPECT_TRUE(e.validation_messages().empty());
}

TEST(NonFinite, InfinityAndANaNLearningRateAreReported) {
  Environment e;
  Regression r(e);
  r.batch(0, std::numeric_limits<float>::infinity());
  e.run(r.step);
  expect_error<NonFiniteError>("+inf", [&] { e.wait_idle(); }, {"'regression loss'", "run 1 of graph #0"});
  // A NaN learning rate: the first step's loss is still finite, its update is not.
  e.reset_parameters(2);
  e.write_parameter(r.lr, {std::numeric_limits<float>::quiet_NaN()});
  for (uint32_t i = 0; i < 3; ++i) {
    r.batch(10 + i);
    e.run(r.step);
  }
  expect_error<NonFiniteError>("NaN lr", [&] { e.read_parameter(r.w); }, {"'regression loss'", "run 3 of graph #0"});
  EXPECT_TRUE(e.validation_messages().empty());
}

TEST(NonFinite, TheLossCheckAddsNoKernelAndWorksUnfused) {
  Environment e;
  Regression checked(e), plain(e, false);
  EXPECT_EQ(checked.step.kernel_count(), plain.step.kernel_count()) << "the check fuses into the loss";
  {
    auto& f = detail::mutable_flags();
    bool saved = f.disable_fusion;
    f.disable_fusion = true;
    Regression unfused(e);  // the check is a kernel of its own, without outputs
    f.disable_fusion = saved;
    EXPECT_GT(unfused.step.kernel_count(), checked.step.kernel_count());
    unfused.batch(0, -std::numeric_limits<float>::infinity());
    e.run(unfused.step);
    EXPECT_THROW(e.wait_idle(), NonFiniteError);
  }
  // Same values with and without the check: it changes nothing else.
  for (Regression* r : {&checked, &plain}) {
    e.write_parameter(r->w, {0.5f, -0.25f, 0.125f, 1.0f});
    r->batch(20);
    e.run(r->step);
  }
  EXPECT_EQ(e.read_parameter(checked.w), e.read_parameter(plain.w));
  EXPECT_TRUE(e.validation_messages().empty());
}

TEST(NonFinite, AnIndexErrorTakesPrecedenceAndListsBoth) {
  Environment e;
  auto v = e.static_parameter_with_data({3}, "v", std::vector<float>{1, 2, std::nanf("")});
  auto i = e.static_parameter({2}, "i", DType::kU32);
  auto out = e.static_parameter({2}, "out");
  e.write_parameter(i, std::vector<uint32_t>{2, 7});
  Graph g = e.build_graph([&](Scope& s) {
    s.parameter_value(v).check_finite("v");
    s.write_parameter_value(out, s.parameter_value(v).gather(0, s.parameter_value(i)));
  });
  e.run(g);
  expect_error<IndexError>("both", [&] { e.wait_idle(); }, {"gather", "'v'", "run 1 of graph #0"});
  expect_error<UsageError>("u32", [&] {
    e.build_graph([&](Scope& s) { s.parameter_value(i).check_finite("i"); });
  }, {"check_finite", "float32"});
}

}  // namespace
}  // namespace descent::testing
