// Every op a user can reach has a forward test: the check runs after the whole suite (see
// support/coverage.hpp); an op-table row without a check_op case fails ops_tests.
#include "support/coverage.hpp"

namespace {
const bool kRegistered = (descent::testing::require_forward_coverage(), true);
}  // namespace
