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

/// Device-dependent, run by the graph compiler after run_passes where the device has
/// workgroup-scope cooperative matrices: float16 matmuls read packed float16 operand copies.
bool pack_float16_matmul_operands(IrGraph& g);

/// Packed products (pack_operands.cpp, codegen/matmul_coopmat2.cpp): M and N multiples of the
/// tile, K padded to kPackedK. MatMul attribute axis = kPackedMatMul + the layout bits: A packed
/// along M ([.., Kp, M/2], else along K: [.., M, Kp/2]); B packed along N ([.., Kp, N/2], else
/// transposed along K: [.., N, Kp/2]). Each U32 holds two float16, the lower index low.
constexpr int64_t kPackedTile = 128, kPackedK = 64;
constexpr int kPackedMatMul = 2, kPackedAlongM = 1, kPackedAlongN = 2;
inline bool is_packed_matmul(int axis) { return axis >= kPackedMatMul; }

}  // namespace descent::detail
