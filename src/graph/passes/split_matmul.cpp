// Pass rule: a matrix product with a long K and few outputs (weight gradients: K = batch x pixels)
// becomes a batched product over S chunks of K plus a sum over the chunks, so it spreads over many
// threads. The chunks are zero-padded windowed views (no copy); the chunk count depends only on
// the shapes, so the summation order is fixed and identical fused, unfused and run to run.
#include <algorithm>
#include <optional>

#include "graph/passes/passes.hpp"

namespace descent::detail {

namespace {
constexpr int64_t kMinK = 768;            // shorter products keep one pass
constexpr int64_t kMinChunk = 256;        // K per chunk at least this long
constexpr int64_t kMaxOutputs = 1 << 18;  // more outputs already give enough parallelism
constexpr int64_t kTargetWork = 1 << 20;  // aim for about this many (chunk, output) pairs
// At most this many chunks: a few more than one wave of workgroups on a large GPU. More chunks
// of a tiny product (conv1's weight gradient, 144 outputs) only lengthen the chunk sum, whose
// column reduction runs one thread per output (H100: 3051 chunks, sum 0.069 ms).
constexpr int64_t kMaxChunks = 1024;

/// The operand view with its K axis (`k_axis` counted from the end: 1 for A, 2 for B) split into
/// [S, c] chunks and S moved to a new leading batch axis.
std::optional<View> chunked(const View& v, int k_from_end, int64_t s, int64_t c) {
  const int r = v.output.rank();
  const int ax = r - k_from_end;
  int64_t k = v.output[ax];
  auto padded = View::identity(v.output).padded(ax, 0, s * c - k, PadMode::kZero);
  if (!padded) return std::nullopt;
  View w = padded->windowed(ax, s, c, c);  // rank r + 1: .., S, c, ..
  std::vector<int> perm{ax};
  for (int j = 0; j <= r; ++j)
    if (j != ax) perm.push_back(j);
  return View::compose(v, w.permuted(perm));
}
}  // namespace

bool split_long_matmuls(IrGraph& g) {
  bool changed = false;
  const size_t n0 = g.size();
  for (NodeId id = 0; id < n0; ++id) {
    Node mm = g[id];
    if (!mm.alive || mm.op != Op::MatMul || mm.shape.rank() >= kMaxRank) continue;
    const Shape& a = mm.args[0].view.output;
    int64_t k = a[-1], outputs = mm.shape.element_count();
    if (k < kMinK || outputs > kMaxOutputs) continue;
    int64_t s = std::clamp<int64_t>(kTargetWork / outputs, 2, std::min(k / kMinChunk, kMaxChunks));
    int64_t c = (k + s - 1) / s;
    s = (k + c - 1) / c;
    auto va = chunked(mm.args[0].view, 1, s, c);
    auto vb = chunked(mm.args[1].view, 2, s, c);
    if (!va || !vb) continue;
    Node part = mm;
    part.shape = mm.shape.insert_axis(0, s);
    part.args = {Arg{mm.args[0].node, *va}, Arg{mm.args[1].node, *vb}};
    NodeId p = g.add(part);
    Node sum;
    sum.op = Op::ReduceSum;
    sum.axis = 0;
    sum.shape = part.shape.with_axis(0, 1);
    sum.args = {Arg{p, View::identity(part.shape)}};
    sum.colour = mm.colour;
    NodeId r = g.add(sum);
    // The original node becomes a reshape of the sum ([1, ..] -> [..]).
    Node& orig = g[id];
    orig.op = Op::Mov;
    orig.args = {Arg{r, *View::identity(g[r].shape).reshaped(orig.shape)}};
    orig.axis = 0;
    changed = true;
  }
  return changed;
}

}  // namespace descent::detail
