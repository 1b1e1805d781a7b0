// The compiler passes, in the order compile() runs them. Each pass is one file with the rule it
// enforces in its first line; each returns true if it changed the graph. The IR is compacted and
// validated after every pass; DESCENT_DEBUG=5 prints it.
#pragma once
#include <string_view>
#include <vector>

#include "graph/ir.hpp"

namespace descent::detail {

struct Pass {
  std::string_view name;
  bool (*run)(IrGraph&);
};

bool eliminate_dead_code(IrGraph& g);  // only what reaches an Output survives
bool fold_views(IrGraph& g);           // view (Mov) nodes become views on their users' edges
bool simplify_arithmetic(IrGraph& g);  // x*1, x+0, x-0, x/1, constant literals, identity copies
bool eliminate_common_subexpressions(IrGraph& g);  // identical nodes become one
bool materialise_outputs(IrGraph& g);  // every Output reads a computed node, once, untransformed
bool split_long_reductions(IrGraph& g);  // few outputs over a long axis: two-stage reduction
bool split_long_matmuls(IrGraph& g);     // long K, few outputs: chunked batched product + sum

/// The pipeline: runs every pass (twice where a later pass exposes work for an earlier one).
void run_passes(IrGraph& g);

}  // namespace descent::detail
