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

}  // namespace
}  // namespace descent::testing
