// Op coverage, as ggml's test-backend-ops --show-coverage: check_op and check_grad record which
// ops of the op table (descent/ops.def) their graphs contain; a global test environment then fails
// the binary for an op that no test exercised (skipped when a --gtest_filter selects a subset).
#pragma once
#include <cstddef>

#include "graph/ir.hpp"

namespace descent::testing {

/// Ops of nodes [from, to) of an as-built graph, seen by a forward (check_op) test.
void record_forward_ops(const detail::IrGraph& g, size_t from, size_t to);
/// Ops of the forward part [from, to) of a graph whose gradient a check_grad test verified.
void record_gradient_ops(const detail::IrGraph& g, size_t from, size_t to);

/// Registers the check that every op with a public API has a forward test (ops_tests).
void require_forward_coverage();
/// Registers the check that every differentiable op has a gradient test (grad_tests).
void require_gradient_coverage();

}  // namespace descent::testing
