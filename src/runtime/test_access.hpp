// The one back door for tests and benchmarks: the internal state behind an Environment and a
// Scope (device facts, codegen overrides, the IR being recorded). Library code never includes
// this; users have no access (it is not an installed header).
#pragma once
#include "descent/environment.hpp"
#include "graph/builder.hpp"
#include "runtime/state.hpp"

namespace descent::detail {

struct TestAccess {
  static EnvironmentState& state(Environment& e) { return *e.state_; }
  static ScopeState& state(Scope& s) { return *s.state_; }
};

}  // namespace descent::detail
