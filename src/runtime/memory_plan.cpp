// Memory plan (see memory_plan.hpp). Arena placement is greedy first-fit by decreasing size over
// lifetimes [producing kernel, last reading kernel]; deterministic for a given kernel list.
#include "runtime/memory_plan.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "util/assert.hpp"

namespace descent::detail {

namespace {
constexpr uint64_t kAlign = 256;
uint64_t align(uint64_t x) { return (x + kAlign - 1) / kAlign * kAlign; }

/// A kernel may write parameter p in place when every other kernel reading p's old value runs
/// before it, and it reads p itself only element-for-element (same linear index, elementwise).
bool can_write_in_place(const IrGraph& g, const std::vector<KernelSpec>& ks, size_t writer,
                        uint32_t p) {
  for (size_t k = 0; k < ks.size(); ++k) {
    for (size_t b = 0; b < ks[k].inputs.size(); ++b) {
      const Node& in = g[ks[k].inputs[b]];
      if (in.op != Op::Input || in.param != p) continue;
      if (k > writer) return false;
      if (k == writer) {
        if (ks[k].type != KernelSpec::Type::Elementwise) return false;
        for (const Instr& i : ks[k].body)
          if (i.kind == Instr::Kind::Load && i.input == static_cast<int>(b) && !i.view.is_identity())
            return false;
      }
    }
  }
  return true;
}

/// A kernel copying `node` (a temporary) into the parameter written by Output node `out`.
KernelSpec copy_kernel(const IrGraph& g, NodeId node, NodeId out) {
  KernelSpec c;
  c.type = KernelSpec::Type::Elementwise;
  c.count = g[node].shape.element_count();
  Instr load;
  load.kind = Instr::Kind::Load;
  load.input = 0;
  load.view = View::identity(g[node].shape);
  load.shape = g[node].shape;
  c.body.push_back(load);
  c.inputs.push_back(node);
  c.outputs.push_back({0, out});
  c.members.push_back(out);
  c.label = fmt::format("copy to parameter {} [{}]", g[out].param, c.count);
  return c;
}
}  // namespace

MemoryPlan plan_memory(const IrGraph& g, std::vector<KernelSpec>& kernels) {
  MemoryPlan plan;
  auto users = g.users();
  for (NodeId id = 0; id < g.size(); ++id)
    if (g[id].op == Op::Input) plan.storage[id] = Storage{true, g[id].param, 0, 0};

  // Kernel outputs that feed an Output node: in place or through a copy kernel at the end.
  std::vector<KernelSpec> copies;
  const size_t n = kernels.size();
  for (size_t k = 0; k < n; ++k) {
    for (auto& [instr, node] : kernels[k].outputs) {
      for (NodeId u : users[node]) {
        if (g[u].op != Op::Output) continue;
        uint32_t p = g[u].param;
        plan.storage[u] = Storage{true, p, 0, 0};
        if (can_write_in_place(g, kernels, k, p)) {
          plan.storage[node] = Storage{true, p, 0, 0};
        } else {
          copies.push_back(copy_kernel(g, node, u));
        }
      }
    }
  }
  for (auto& c : copies) kernels.push_back(std::move(c));

  // Lifetimes of the remaining (temporary) outputs.
  struct Temp {
    NodeId node;
    uint64_t bytes;
    size_t first, last;
  };
  std::vector<Temp> temps;
  std::map<NodeId, size_t> index;
  for (size_t k = 0; k < kernels.size(); ++k)
    for (auto& [instr, node] : kernels[k].outputs) {
      if (plan.storage.count(node)) continue;
      index[node] = temps.size();
      temps.push_back({node, align(4 * static_cast<uint64_t>(g[node].shape.element_count())), k, k});
    }
  for (size_t k = 0; k < kernels.size(); ++k)
    for (NodeId in : kernels[k].inputs) {
      auto it = index.find(in);
      if (it != index.end()) temps[it->second].last = std::max(temps[it->second].last, k);
    }
  std::vector<size_t> order(temps.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return temps[a].bytes > temps[b].bytes; });
  struct Placed {
    uint64_t off, bytes;
    size_t first, last;
  };
  std::vector<Placed> placed;
  for (size_t i : order) {
    const Temp& t = temps[i];
    // Candidate offsets: 0 and the end of every placed range that overlaps in time.
    std::vector<uint64_t> cands{0};
    for (const Placed& p : placed)
      if (p.first <= t.last && t.first <= p.last) cands.push_back(p.off + p.bytes);
    std::sort(cands.begin(), cands.end());
    uint64_t chosen = 0;
    for (uint64_t off : cands) {
      bool ok = true;
      for (const Placed& p : placed)
        if (p.first <= t.last && t.first <= p.last && off < p.off + p.bytes && p.off < off + t.bytes)
          ok = false;
      if (ok) {
        chosen = off;
        break;
      }
    }
    placed.push_back({chosen, t.bytes, t.first, t.last});
    plan.storage[t.node] = Storage{false, 0, chosen, t.bytes};
    plan.arena_bytes = std::max(plan.arena_bytes, chosen + t.bytes);
  }
  return plan;
}

}  // namespace descent::detail
