// The pass list, in order. Reads like the compiler: what runs, in which order, and why twice.
#include <fmt/format.h>

#include <cstdio>

#include "graph/passes/passes.hpp"
#include "util/flags.hpp"

namespace descent::detail {

namespace {
constexpr Pass kPasses[] = {
    {"eliminate_dead_code", eliminate_dead_code},
    {"fold_views", fold_views},
    {"simplify_arithmetic", simplify_arithmetic},
    {"fold_views", fold_views},  // simplification exposes new Mov chains
    {"eliminate_common_subexpressions", eliminate_common_subexpressions},
    {"eliminate_dead_code", eliminate_dead_code},
    {"split_long_matmuls", split_long_matmuls},
    {"split_long_reductions", split_long_reductions},
    {"fold_views", fold_views},  // the split leaves a reshape to fold
    {"materialise_outputs", materialise_outputs},
};
}  // namespace

void run_passes(IrGraph& g) {
  bool dump = flags().debug >= 5;
  g.compact();
  g.validate();
  if (dump) std::fprintf(stderr, "descent: IR as built\n%s", g.dump().c_str());
  for (const Pass& p : kPasses) {
    bool changed = p.run(g);
    g.compact();
    g.validate();
    if (dump && changed) std::fprintf(stderr, "descent: IR after %.*s\n%s",
                                      static_cast<int>(p.name.size()), p.name.data(),
                                      g.dump().c_str());
  }
}

}  // namespace descent::detail
