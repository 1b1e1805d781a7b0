// Pass rule: a reduction with few outputs over a long axis becomes two reductions (chunks of about
// sqrt(length), then the chunk results), so the work spreads over many threads. The chunking is
// a windowed view (zero padding for sums, edge replication for max): no copy. The summation order
// this defines is part of the graph, so fused and unfused runs still agree bit for bit.
#include <cmath>

#include "graph/passes/passes.hpp"

namespace descent::detail {

namespace {
constexpr int64_t kMinLength = 4096;   // shorter axes: one pass is fine
constexpr int64_t kMaxOutputs = 4096;  // more outputs already give enough parallelism
}  // namespace

bool split_long_reductions(IrGraph& g) {
  bool changed = false;
  const size_t n0 = g.size();
  for (NodeId id = 0; id < n0; ++id) {
    Node r = g[id];
    if (!r.alive || !is_reduce(r.op)) continue;
    const Arg& a = r.args[0];
    const Shape& in = a.view.output;
    int ax = r.axis;
    int64_t len = in[ax];
    if (len < kMinLength || r.shape.element_count() > kMaxOutputs || in.rank() >= kMaxRank) continue;
    int64_t chunk = 1;
    while (chunk * chunk < len) chunk *= 2;
    int64_t chunks = (len + chunk - 1) / chunk;
    PadMode mode = r.op == Op::ReduceMax ? PadMode::kClamp : PadMode::kZero;
    auto padded = View::identity(in).padded(ax, 0, chunks * chunk - len, mode);
    if (!padded) continue;
    View windows = padded->windowed(ax, chunks, chunk, chunk);
    auto first_view = View::compose(a.view, windows);
    if (!first_view) continue;
    Node s1;
    s1.op = r.op;
    s1.axis = ax + 1;
    s1.shape = windows.output.with_axis(ax + 1, 1);
    s1.args = {Arg{a.node, *first_view}};
    s1.colour = r.colour;
    NodeId n1 = g.add(s1);
    Node s2;
    s2.op = r.op;
    s2.axis = ax;
    s2.shape = s1.shape.with_axis(ax, 1);
    s2.args = {Arg{n1, View::identity(s1.shape)}};
    s2.colour = r.colour;
    NodeId n2 = g.add(s2);
    // The original node becomes a reshape of the second stage ([.., 1, 1, ..] -> [.., 1, ..]).
    Node& orig = g[id];
    orig.op = Op::Mov;
    orig.args = {Arg{n2, *View::identity(s2.shape).reshaped(orig.shape)}};
    orig.axis = 0;
    changed = true;
  }
  return changed;
}

}  // namespace descent::detail
