// Bad input and API misuse. Every op family gets >= 3 negative cases; each must throw the
// right type (ShapeError for shapes/axes/arguments, UsageError for misuse) with a message that
// names the op and the shapes involved, and must leave the Environment usable (checked at the end).
#include <fmt/format.h>

#include <functional>

#include "support/harness.hpp"

namespace descent::testing {
namespace {

/// Runs `f` inside a build_graph callback with x: [2, 3], y: [4, 3], z: [3] and scalar w.
void in_graph(const std::function<void(Scope&, Array x, Array y, Array z, Array w)>& f) {
  static Parameter px = env().static_parameter({2, 3}, env().unique_name("px"));
  static Parameter py = env().static_parameter({4, 3}, env().unique_name("py"));
  static Parameter pz = env().static_parameter({3}, env().unique_name("pz"));
  static Parameter pw = env().static_parameter({}, env().unique_name("pw"));
  env().build_graph([&](Scope& s) {
    f(s, s.parameter_value(px), s.parameter_value(py), s.parameter_value(pz),
      s.parameter_value(pw));
  });
}

/// Expects `f` to throw exactly E (not just any Error) with every string of `parts` in what().
template <class E>
void expect_error(const std::string& what_case, const std::function<void()>& f,
                  const std::vector<std::string>& parts) {
  SCOPED_TRACE(what_case);
  try {
    f();
    ADD_FAILURE() << "no exception";
  } catch (const E& e) {
    std::string msg = e.what();
    for (const std::string& p : parts)
      EXPECT_NE(msg.find(p), std::string::npos)
          << "message \"" << msg << "\" lacks \"" << p << "\"";
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
  }
}

template <class E>
void expect_graph_error(const std::string& what_case,
                        const std::function<void(Scope&, Array, Array, Array, Array)>& f,
                        const std::vector<std::string>& parts) {
  expect_error<E>(
      what_case, [&] { in_graph(f); }, parts);
}

TEST(Errors, BinaryShapeMismatchNamesOpAndShapes) {
  using F = std::function<Array(const Array&, const Array&)>;
  const std::pair<const char*, F> ops[] = {
      {"add", [](const Array& a, const Array& b) { return a + b; }},
      {"sub", [](const Array& a, const Array& b) { return a - b; }},
      {"mul", [](const Array& a, const Array& b) { return a * b; }},
      {"div", [](const Array& a, const Array& b) { return a / b; }},
      {"min", [](const Array& a, const Array& b) { return a.min(b); }},
      {"max", [](const Array& a, const Array& b) { return a.max(b); }},
      {"pow", [](const Array& a, const Array& b) { return a.pow(b); }},
      {"lt", [](const Array& a, const Array& b) { return a.lt(b); }},
      {"eq", [](const Array& a, const Array& b) { return a.eq(b); }},
  };
  for (const auto& [name, fn] : ops) {
    expect_graph_error<ShapeError>(name, [&](Scope&, Array x, Array y, Array, Array) { fn(x, y); },
                                   {name, "[2, 3]", "[4, 3]"});
    // rank mismatch that still fails: [3] vs [4, 3] broadcasts, [2, 3] vs [4, 3] does not.
    expect_graph_error<ShapeError>(std::string(name) + " swapped",
                                   [&](Scope&, Array x, Array y, Array, Array) { fn(y, x); },
                                   {name, "[4, 3]", "[2, 3]"});
  }
  expect_graph_error<ShapeError>("select",
                                 [](Scope&, Array x, Array y, Array z, Array) { x.select(z, y); },
                                 {"select", "[2, 3]", "[3]", "[4, 3]"});
  expect_graph_error<ShapeError>("+=", [](Scope&, Array x, Array y, Array, Array) { x += y; },
                                 {"add"});
}

TEST(Errors, BadReductionAxes) {
  expect_graph_error<ShapeError>("reduce_sum(5)",
                                 [](Scope&, Array x, Array, Array, Array) { x.reduce_sum(5); },
                                 {"reduce_sum", "axis 5", "[2, 3]"});
  expect_graph_error<ShapeError>("reduce_sum(-3)",
                                 [](Scope&, Array x, Array, Array, Array) { x.reduce_sum(-3); },
                                 {"reduce_sum", "-3", "[2, 3]"});
  expect_graph_error<ShapeError>(
      "reduce_max(2)", [](Scope&, Array x, Array, Array, Array) { x.reduce_max(2, true); },
      {"reduce_max", "[2, 3]"});
  expect_graph_error<ShapeError>("reduce_sum of a scalar",
                                 [](Scope&, Array, Array, Array, Array w) { w.reduce_sum(0); },
                                 {"reduce_sum", "[]"});
  expect_graph_error<ShapeError>("repeated axes",
                                 [](Scope&, Array x, Array, Array, Array) {
                                   x.reduce_sum({1, -1});
                                 },
                                 {"reduce_sum", "repeated", "[2, 3]"});
  expect_graph_error<ShapeError>("axes out of range",
                                 [](Scope&, Array x, Array, Array, Array) {
                                   x.reduce_sum({0, 7});
                                 },
                                 {"reduce_sum", "7"});
}

TEST(Errors, BadReshapesAndShapes) {
  expect_graph_error<ShapeError>("reshape 6->8",
                                 [](Scope&, Array x, Array, Array, Array) {
                                   x.reshape({4, 2});
                                 },
                                 {"reshape", "[2, 3]", "6 elements", "[4, 2]", "8 elements"});
  expect_graph_error<ShapeError>("reshape 6->7",
                                 [](Scope&, Array x, Array, Array, Array) { x.reshape({7}); },
                                 {"reshape", "[7]"});
  expect_graph_error<ShapeError>("reshape scalar->2",
                                 [](Scope&, Array, Array, Array, Array w) { w.reshape({2}); },
                                 {"reshape", "[]", "[2]"});
  expect_graph_error<ShapeError>(
      "flatten scalar", [](Scope&, Array, Array, Array, Array w) { w.flatten(); }, {"flatten"});
  expect_error<ShapeError>("extent 0", [] { Shape s{2, 0}; }, {"extent 0", "axis 1"});
  expect_error<ShapeError>("negative extent", [] { Shape s{-3}; }, {"-3"});
  expect_error<ShapeError>("rank 9", [] { Shape s{1, 1, 1, 1, 1, 1, 1, 1, 1}; }, {"rank 9"});
  expect_error<ShapeError>("2^31 elements", [] { Shape s{65536, 32768}; }, {"2^31"});
}

TEST(Errors, BadPermutations) {
  expect_graph_error<ShapeError>("repeated",
                                 [](Scope&, Array x, Array, Array, Array) {
                                   x.permute({0, 0});
                                 },
                                 {"permute", "not a permutation", "[2, 3]"});
  expect_graph_error<ShapeError>("too short",
                                 [](Scope&, Array x, Array, Array, Array) { x.permute({1}); },
                                 {"permute", "1 entries", "[2, 3]"});
  expect_graph_error<ShapeError>("too long",
                                 [](Scope&, Array x, Array, Array, Array) {
                                   x.permute({0, 1, 2});
                                 },
                                 {"permute", "[2, 3]"});
  expect_graph_error<ShapeError>("axis out of range",
                                 [](Scope&, Array x, Array, Array, Array) {
                                   x.permute({0, 2});
                                 },
                                 {"permute", "axis 2"});
  expect_graph_error<ShapeError>("transpose rank 1",
                                 [](Scope&, Array, Array, Array z, Array) { z.transpose(); },
                                 {"transpose", "[3]"});
}

TEST(Errors, EmptyAndBadSlices) {
  expect_graph_error<ShapeError>("start == stop",
                                 [](Scope&, Array x, Array, Array, Array) { x.slice(1, 2, 2); },
                                 {"slice", "empty", "[2, 3]"});
  expect_graph_error<ShapeError>("reversed range, positive step",
                                 [](Scope&, Array x, Array, Array, Array) { x.slice(1, 2, 0); },
                                 {"slice", "empty"});
  expect_graph_error<ShapeError>("forward range, negative step",
                                 [](Scope&, Array, Array, Array z, Array) { z.slice(0, 0, 3, -1); },
                                 {"slice", "empty", "[3]"});
  expect_graph_error<ShapeError>("start past the end",
                                 [](Scope&, Array, Array, Array z, Array) { z.slice(0, 10, 20); },
                                 {"slice", "empty"});
  expect_graph_error<ShapeError>("step 0",
                                 [](Scope&, Array x, Array, Array, Array) { x.slice(0, 0, 2, 0); },
                                 {"slice", "step 0"});
  expect_graph_error<ShapeError>("axis 2",
                                 [](Scope&, Array x, Array, Array, Array) { x.slice(2, 0, 1); },
                                 {"slice", "axis 2", "[2, 3]"});
}

TEST(Errors, BadPadsAndAxes) {
  expect_graph_error<ShapeError>("negative before",
                                 [](Scope&, Array x, Array, Array, Array) { x.pad(0, -1, 2); },
                                 {"pad", "negative", "[2, 3]"});
  expect_graph_error<ShapeError>(
      "negative after",
      [](Scope&, Array x, Array, Array, Array) { x.pad(1, 0, -5, PadMode::kReplicate); },
      {"pad", "-5"});
  expect_graph_error<ShapeError>("pad axis 2",
                                 [](Scope&, Array x, Array, Array, Array) { x.pad(2, 1, 1); },
                                 {"pad", "axis 2"});
  expect_graph_error<ShapeError>(
      "pad scalar", [](Scope&, Array, Array, Array, Array w) { w.pad(0, 1, 1); }, {"pad", "[]"});
  expect_graph_error<ShapeError>("remove_axis non-unit",
                                 [](Scope&, Array x, Array, Array, Array) { x.remove_axis(1); },
                                 {"remove_axis", "[2, 3]", "extent 3"});
  expect_graph_error<ShapeError>("remove_axis out of range",
                                 [](Scope&, Array x, Array, Array, Array) { x.remove_axis(-3); },
                                 {"remove_axis", "[2, 3]"});
  expect_graph_error<ShapeError>("insert_axis out of range",
                                 [](Scope&, Array x, Array, Array, Array) { x.insert_axis(3); },
                                 {"insert_axis", "[2, 3]"});
  expect_graph_error<ShapeError>("broadcast [2,3]->[4,3]",
                                 [](Scope&, Array x, Array, Array, Array) {
                                   x.broadcast({4, 3});
                                 },
                                 {"broadcast", "[2, 3]", "[4, 3]"});
  expect_graph_error<ShapeError>("broadcast to lower rank",
                                 [](Scope&, Array x, Array, Array, Array) { x.broadcast({3}); },
                                 {"broadcast", "[2, 3]", "[3]"});
  expect_graph_error<ShapeError>(
      "coord(0)", [](Scope& s, Array, Array, Array, Array) { s.coord(0); }, {"coord", "0"});
  expect_graph_error<ShapeError>("coord axis",
                                 [](Scope& s, Array, Array, Array, Array) {
                                   s.coord({2, 3}, 2);
                                 },
                                 {"coord", "axis 2"});
}

TEST(Errors, ParameterIo) {
  auto p = env().static_parameter({2, 3}, env().unique_name("io_param"));
  expect_error<ShapeError>("write_parameter 5 values",
                           [&] {
                             env().write_parameter(p, {1, 2, 3, 4, 5});
                           },
                           {"write_parameter", "io_param", "[2, 3]", "6 elements", "5 values"});
  expect_error<ShapeError>("write_parameter 7 values",
                           [&] { env().write_parameter(p, std::vector<float>(7, 1.0f)); },
                           {"7 values"});
  expect_error<ShapeError>("read_parameter_scalar", [&] { env().read_parameter_scalar(p); },
                           {"read_parameter_scalar", "io_param", "[2, 3]"});
  expect_error<ShapeError>("write_parameter_value shape",
                           [&] {
                             env().build_graph([&](Scope& s) {
                               s.write_parameter_value(p, s.parameter_value(p).transpose());
                             });
                           },
                           {"write_parameter_value", "io_param", "[2, 3]", "[3, 2]"});
  expect_error<ShapeError>("write_parameter_value reduced",
                           [&] {
                             env().build_graph([&](Scope& s) {
                               s.write_parameter_value(p, s.parameter_value(p).reduce_sum(0, true));
                             });
                           },
                           {"write_parameter_value", "[1, 3]"});
  expect_error<UsageError>("empty Parameter read", [] { env().read_parameter(Parameter{}); },
                           {"read_parameter", "empty"});
  expect_error<UsageError>("empty Parameter write",
                           [] { env().write_parameter(Parameter{}, {1.0f}); }, {"empty"});
  expect_error<UsageError>(
      "empty Parameter in scope",
      [] { env().build_graph([](Scope& s) { s.parameter_value(Parameter{}); }); },
      {"parameter_value", "empty"});
  // The failed writes queued nothing: the parameter still holds zeros.
  EXPECT_EQ(env().read_parameter(p), std::vector<float>(6, 0.0f));
}

TEST(Errors, MisuseOfArraysGraphsAndScopes) {
  expect_error<UsageError>("default Array", [] { Array().exp(); }, {"empty Array"});
  expect_error<UsageError>("default Array shape", [] { (void)Array().shape(); }, {"empty Array"});
  expect_graph_error<UsageError>("default Array operand",
                                 [](Scope&, Array x, Array, Array, Array) { x + Array(); }, {});
  expect_error<UsageError>("run a default Graph", [] { env().run(Graph{}); },
                           {"run", "empty Graph"});
  Graph moved_from = env().build_graph([](Scope&) {});
  Graph g2 = std::move(moved_from);
  expect_error<UsageError>("run a moved-from Graph", [&] { env().run(moved_from); },
                           {"empty Graph"});
  expect_error<UsageError>("kernel_source out of range", [&] { (void)g2.kernel_source(3); },
                           {"kernel_source", "3"});
  EXPECT_EQ(Graph{}.kernel_count(), 0u);
  EXPECT_TRUE(env().last_timings(Graph{}).empty());
  // Arrays of two live scopes (a build_graph nested in another's callback) must not mix.
  auto p = env().static_parameter({3}, env().unique_name("nest_p"));
  auto q = env().static_parameter({3}, env().unique_name("nest_q"));
  expect_error<UsageError>(
      "binary op across live scopes",
      [&] {
        env().build_graph([&](Scope& outer) {
          Array a = outer.parameter_value(p);
          env().build_graph([&](Scope& inner) { (void)(inner.parameter_value(q) + a); });
        });
      },
      {"add", "different scopes"});
  expect_error<UsageError>(
      "write_parameter_value across live scopes",
      [&] {
        env().build_graph([&](Scope& outer) {
          Array a = outer.parameter_value(p);
          env().build_graph([&](Scope& inner) { inner.write_parameter_value(q, a); });
        });
      },
      {"write_parameter_value", "another scope"});
  expect_error<UsageError>(
      "select across live scopes",
      [&] {
        env().build_graph([&](Scope& outer) {
          Array a = outer.parameter_value(p);
          env().build_graph([&](Scope& inner) { (void)inner.parameter_value(q).select(a, a); });
        });
      },
      {"select", "different scopes"});
}

// Regression: an Array kept from one build_graph callback and used in a later one (whose Scope may
// sit at the same address) must throw UsageError, not read a stale node. Arrays carry the serial
// of their Scope, checked against the live scopes on every use.
TEST(Errors, ArrayFromAFinishedScopeIsRejected) {
  auto p = env().static_parameter({3}, env().unique_name("stale_p"));
  auto q = env().static_parameter({3}, env().unique_name("stale_q"));
  Array leaked;
  Scope* first = nullptr;
  Scope* second = nullptr;
  env().build_graph([&](Scope& s) {
    first = &s;
    leaked = ((s.parameter_value(p) + 1.0f) * 2.0f).exp();
    s.write_parameter_value(q, leaked);
  });
  try {  // same stack depth as the first call: the new Scope reuses the old address
    env().build_graph([&](Scope& s) {
      second = &s;
      s.write_parameter_value(q, s.parameter_value(q) + leaked);
    });
    ADD_FAILURE() << "no exception";
  } catch (const UsageError&) {
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
  }
  RecordProperty("scope_address_reused", first == second ? "yes" : "no");
}

TEST(Errors, ForeignEnvironment) {
  // A second Environment costs ~0.1 s on lavapipe; its handles must be refused by ours.
  Environment other;
  auto foreign = other.static_parameter({3}, "foreign");
  expect_error<UsageError>("write foreign",
                           [&] {
                             env().write_parameter(foreign, {1, 2, 3});
                           },
                           {"write_parameter", "foreign", "another Environment"});
  expect_error<UsageError>("read foreign", [&] { env().read_parameter(foreign); },
                           {"another Environment"});
  Graph og = other.build_graph(
      [&](Scope& s) { s.write_parameter_value(foreign, s.parameter_value(foreign) + 1.0f); });
  expect_error<UsageError>("run foreign graph", [&] { env().run(og); }, {"another Environment"});
  other.run(og);
  EXPECT_EQ(other.read_parameter(foreign), (std::vector<float>{1, 1, 1}));
  EXPECT_TRUE(other.validation_messages().empty());
}

// Regression: a Parameter of another Environment used in a Scope must throw UsageError (it once
// silently aliased the local parameter with the same id).
TEST(Errors, ForeignParameterInAScopeIsRejected) {
  auto mine = env().static_parameter({3}, env().unique_name("mine"));  // ensures local ids up to foreign's exist
  (void)mine;
  Environment other;
  auto foreign = other.static_parameter({3}, "foreign");
  expect_error<UsageError>(
      "parameter_value(foreign)",
      [&] { env().build_graph([&](Scope& s) { (void)s.parameter_value(foreign); }); },
      {"another Environment"});
  auto q = env().static_parameter({3}, env().unique_name("q"));
  expect_error<UsageError>("write_parameter_value(foreign)",
                           [&] {
                             env().build_graph([&](Scope& s) {
                               s.write_parameter_value(foreign, s.parameter_value(q));
                             });
                           },
                           {"another Environment"});
}

TEST(Errors, GraphOutlivingItsEnvironmentIsRefused) {
  Graph g;
  {
    Environment other;
    auto p = other.static_parameter({4}, "short_lived");
    g = other.build_graph(
        [&](Scope& s) { s.write_parameter_value(p, s.parameter_value(p) * 2.0f); });
  }
  expect_error<UsageError>("run after its Environment died", [&] { env().run(g); }, {"run"});
  EXPECT_EQ(g.kernel_count(), 1u);  // still inspectable
}

TEST(Errors, EnvironmentStillWorksAfterErrors) {
  auto p = env().static_parameter_with_data({4}, env().unique_name("after_errors"), std::vector<float>{1, 2, 3, 4});
  auto g =
      env().build_graph([&](Scope& s) { s.write_parameter_value(p, s.parameter_value(p) * 3.0f); });
  env().run(g);
  EXPECT_EQ(env().read_parameter(p), (std::vector<float>{3, 6, 9, 12}));
  expect_no_validation_messages();
}

}  // namespace
}  // namespace descent::testing
