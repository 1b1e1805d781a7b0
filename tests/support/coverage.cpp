// Op coverage records and the end-of-run checks (coverage.hpp). Which ops must be covered comes
// from the op table alone: forward tests for every op a user can reach (api Method or Custom, not
// leaves or sinks), gradient tests for every op with a derivative (grad Rule or Custom).
#include "support/coverage.hpp"

#include <gtest/gtest.h>

#include <bitset>
#include <string>

namespace descent::testing {
namespace {
using detail::GradRule;
using detail::kOpCount;
using detail::OpApi;
using detail::OpKind;

std::bitset<kOpCount>& forward_seen() {
  static std::bitset<kOpCount> b;
  return b;
}
std::bitset<kOpCount>& gradient_seen() {
  static std::bitset<kOpCount> b;
  return b;
}
void record(std::bitset<kOpCount>& seen, const detail::IrGraph& g, size_t from, size_t to) {
  for (size_t id = from; id < to && id < g.size(); ++id) seen.set(static_cast<size_t>(g[static_cast<detail::NodeId>(id)].op));
}

bool whole_suite() { return ::testing::GTEST_FLAG(filter) == "*"; }

class CoverageCheck : public ::testing::Environment {
 public:
  explicit CoverageCheck(bool gradient) : gradient_(gradient) {}
  void TearDown() override {
    if (!whole_suite()) return;  // a subset of the tests cannot cover everything
    const auto& seen = gradient_ ? gradient_seen() : forward_seen();
    for (int i = 0; i < kOpCount; ++i) {
      const auto& info = detail::kOpInfo[i];
      bool required = gradient_ ? info.grad != GradRule::None
                                : info.api != OpApi::None && info.kind != OpKind::Leaf && info.kind != OpKind::Sink;
      if (required && !seen.test(static_cast<size_t>(i))) {
        ADD_FAILURE() << "op '" << info.name << "' has no " << (gradient_ ? "gradient (check_grad)" : "forward (check_op)")
                      << " test; add one (docs/testing.md, \"Adding a test for a new op\")";
      }
    }
  }

 private:
  bool gradient_;
};
}  // namespace

void record_forward_ops(const detail::IrGraph& g, size_t from, size_t to) { record(forward_seen(), g, from, to); }
void record_gradient_ops(const detail::IrGraph& g, size_t from, size_t to) { record(gradient_seen(), g, from, to); }

void require_forward_coverage() { ::testing::AddGlobalTestEnvironment(new CoverageCheck(false)); }
void require_gradient_coverage() { ::testing::AddGlobalTestEnvironment(new CoverageCheck(true)); }

}  // namespace descent::testing
