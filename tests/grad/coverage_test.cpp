// Every differentiable op has a gradient test: the check runs after the whole suite (see
// support/coverage.hpp); an op-table row with a derivative but no check_grad case fails grad_tests.
#include "support/coverage.hpp"

namespace {
const bool kRegistered = (descent::testing::require_gradient_coverage(), true);
}  // namespace
