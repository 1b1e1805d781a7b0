// Pass rule (devices with workgroup-scope cooperative matrices only): a float16-input matmul whose
// M and N are multiples of the 128 tile reads packed float16 copies of its operands, written by
// pack_half2 nodes (elementwise, so they fuse into the operands' producers), K zero-padded to a
// multiple of 64. Each operand is packed along the axis its source is contiguous in, so the copy
// reads memory in order. Views only; no other node changes.
#include <optional>

#include "graph/passes/passes.hpp"

namespace descent::detail {

namespace {

/// The pack node for an operand view (output [.., R, C]): its last two axes swapped when
/// `transpose`, the K axis (`k_axis` counted from the end after the swap) zero-padded to kp,
/// then pairs along the last axis. Empty when the view cannot be composed with that (e.g. a
/// product split_long_matmuls already chunked along K with padding): the product then keeps its
/// unpacked operands and the subgroup kernel.
std::optional<Node> pack(const Arg& operand, bool transpose, int k_from_end, int64_t kp, int colour) {
  const View& v = operand.view;
  const int r = v.output.rank();
  View t = View::identity(v.output);
  if (transpose) {
    std::vector<int> perm;
    for (int j = 0; j < r; ++j) perm.push_back(j);
    std::swap(perm[static_cast<size_t>(r - 2)], perm[static_cast<size_t>(r - 1)]);
    t = t.permuted(perm);
  }
  const int k_axis = r - k_from_end;
  auto padded = t.padded(k_axis, 0, kp - t.output[k_axis], PadMode::kZero);
  if (!padded) return std::nullopt;
  Node p;
  p.op = Op::PackHalf2;
  p.dtype = DType::kU32;
  p.colour = colour;
  const int64_t pairs = padded->output[r - 1] / 2;
  for (int64_t start : {0, 1}) {
    auto composed = View::compose(v, padded->sliced(r - 1, start, pairs, 2));
    if (!composed) return std::nullopt;
    p.shape = composed->output;
    p.args.push_back(Arg{operand.node, *composed});
  }
  return p;
}
}  // namespace

bool pack_float16_matmul_operands(IrGraph& g) {
  bool changed = false;
  const size_t n0 = g.size();
  for (NodeId id = 0; id < n0; ++id) {
    const Node mm = g[id];
    if (!mm.alive || mm.op != Op::MatMul || mm.axis != 1 || mm.shape.rank() < 2) continue;
    const int r = mm.shape.rank();
    const int64_t m = mm.shape[-2], n = mm.shape[-1], k = mm.args[0].view.output[-1];
    if (m % kPackedTile != 0 || n % kPackedTile != 0 || k == 0) continue;
    const int64_t kp = (k + kPackedK - 1) / kPackedK * kPackedK;
    // A [.., M, K]: pairs along K unless only M is contiguous. B [.., K, N]: pairs along N
    // unless only K is contiguous (then B is copied transposed, [.., N, K]).
    const View &va = mm.args[0].view, &vb = mm.args[1].view;
    const bool a_m = !va.unit_stride(r - 1) && va.unit_stride(r - 2);
    const bool b_n = !(vb.unit_stride(r - 2) && !vb.unit_stride(r - 1));
    // A along K: [.., M, Kp/2]; along M: transposed to [.., K, M], K padded -> [.., Kp, M/2].
    auto pa = pack(mm.args[0], a_m, a_m ? 2 : 1, kp, mm.colour);
    // B along N: [.., K, N], K padded -> [.., Kp, N/2]; along K: transposed -> [.., N, Kp/2].
    auto pb = pack(mm.args[1], !b_n, b_n ? 2 : 1, kp, mm.colour);
    if (!pa || !pb) continue;
    NodeId a = g.add(*pa), b = g.add(*pb);
    Node& out = g[id];
    out.args = {Arg{a, View::identity(g[a].shape)}, Arg{b, View::identity(g[b].shape)}};
    out.axis = kPackedMatMul + (a_m ? kPackedAlongM : 0) + (b_n ? kPackedAlongN : 0);
    changed = true;
  }
  return changed;
}

}  // namespace descent::detail
