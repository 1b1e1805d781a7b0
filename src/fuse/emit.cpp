// Emission of KernelSpecs (see emit.hpp). Operands inside the cluster become registers; literals,
// coordinates and random numbers are inlined; everything else is a Load through the edge's view.
#include "fuse/emit.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>

#include "graph/passes/passes.hpp"
#include "util/assert.hpp"

namespace descent::detail {

namespace {

class Emitter {
 public:
  /// Instructions go to `body` (the kernel's body, or a reduction's epilogue); bindings are the
  /// kernel's.
  Emitter(const IrGraph& g, KernelSpec& k, std::vector<Instr>& body) : g_(g), k_(k), body_(body) {}

  int operand(const Arg& a, const std::map<NodeId, int>& regs) {
    auto it = regs.find(a.node);
    if (it != regs.end()) {
      DESCENT_ASSERT(a.view.is_identity(), "register operand through a non-identity view");
      return it->second;
    }
    const Node& src = g_[a.node];
    Instr in;
    in.view = a.view;
    in.shape = a.view.output;
    if (src.op == Op::Literal) {
      in.kind = Instr::Kind::Literal;
      in.literal = src.literal;  // a zero-padded literal still needs its bounds test: keep the view
    } else if (src.op == Op::Coord) {
      in.kind = Instr::Kind::Coord;
    } else if (src.op == Op::Rand) {
      in.kind = Instr::Kind::Rand;
      in.uid = src.uid;
      k_.uses_rand = true;
    } else {  // a stored value
      in.kind = Instr::Kind::Load;
      in.input = binding(a.node);
    }
    // Reuse an identical instruction (same source and view) within the kernel.
    for (size_t i = 0; i < body_.size(); ++i) {
      const Instr& o = body_[i];
      if (o.kind == in.kind && o.kind != Instr::Kind::Op && o.input == in.input &&
          o.uid == in.uid && std::memcmp(&o.literal, &in.literal, 4) == 0 && o.view == in.view )
        return static_cast<int>(i);
    }
    body_.push_back(in);
    return static_cast<int>(body_.size() - 1);
  }

  int binding(NodeId node) {
    auto it = std::find(k_.inputs.begin(), k_.inputs.end(), node);
    if (it != k_.inputs.end()) return static_cast<int>(it - k_.inputs.begin());
    k_.inputs.push_back(node);
    return static_cast<int>(k_.inputs.size() - 1);
  }

  int op(const Node& n, const std::map<NodeId, int>& regs) {
    if (n.op == Op::Gather) {
      // The values are read from memory at a data-dependent coordinate: never a register.
      Instr in;
      in.kind = Instr::Kind::Gather;
      in.input = binding(n.args[0].node);
      in.view = n.args[0].view;
      in.axis = n.axis;
      in.shape = n.shape;
      in.a = operand(n.args[1], regs);
      body_.push_back(in);
      return static_cast<int>(body_.size() - 1);
    }
    Instr in;
    in.kind = Instr::Kind::Op;
    in.op = n.op;
    in.shape = n.shape;
    int ops[3] = {-1, -1, -1};
    for (size_t i = 0; i < n.args.size(); ++i) ops[i] = operand(n.args[i], regs);
    in.a = ops[0];
    in.b = ops[1];
    in.c = ops[2];
    body_.push_back(in);
    return static_cast<int>(body_.size() - 1);
  }

 private:
  const IrGraph& g_;
  KernelSpec& k_;
  std::vector<Instr>& body_;
};

}  // namespace

KernelSpec emit_kernel(const IrGraph& g, const std::vector<std::vector<NodeId>>& users,
                       const std::vector<NodeId>& members, const std::vector<int>& cluster_of,
                       int cluster, NodeId anchor, std::array<NodeId, 2> prologue_of) {
  KernelSpec k;
  k.members = members;
  Emitter e(g, k, k.body);
  std::map<NodeId, int> regs;
  int ops = 0, epi_ops = 0;
  bool mm = anchor != kNoNode && is_matmul(g[anchor].op);
  bool red = anchor != kNoNode && !mm;
  // For a reduction: which members feed it (prologue) and which consume it (epilogue).
  std::set<NodeId> prologue;
  if (red) {
    std::vector<NodeId> stack{anchor};
    std::set<NodeId> in(members.begin(), members.end());
    while (!stack.empty()) {
      NodeId x = stack.back();
      stack.pop_back();
      for (const Arg& a : g[x].args)
        if (in.count(a.node) && prologue.insert(a.node).second) stack.push_back(a.node);
    }
  }
  if (mm) {
    const Node& m = g[anchor];
    k.type = KernelSpec::Type::MatMul;
    k.matmul_shape = m.shape;
    k.a_view = m.args[0].view;
    k.b_view = m.args[1].view;
    for (int ai = 0; ai < 2; ++ai) {
      NodeId p = prologue_of[static_cast<size_t>(ai)];
      if (p == kNoNode) {
        (ai == 0 ? k.a_input : k.b_input) = e.binding(m.args[static_cast<size_t>(ai)].node);
        continue;
      }
      // The producer's instructions, evaluated at its own linear index inside the loads.
      std::vector<Instr>& body = ai == 0 ? k.a_prologue : k.b_prologue;
      (ai == 0 ? k.a_value : k.b_value) = Emitter(g, k, body).op(g[p], {});
      if (std::find(k.members.begin(), k.members.end(), p) == k.members.end()) k.members.push_back(p);
    }
    k.fp16_inputs = m.axis == 1;
    k.packed_halves = is_packed_matmul(m.axis);
    k.packed_a_along_m = k.packed_halves && (m.axis - kPackedMatMul) & kPackedAlongM;
    k.packed_b_along_n = k.packed_halves && (m.axis - kPackedMatMul) & kPackedAlongN;
    Instr acc;
    acc.kind = Instr::Kind::Acc;
    acc.shape = m.shape;
    k.body.push_back(acc);
    regs[anchor] = 0;
  }
  for (NodeId m : members) {
    if (m == anchor || (red && !prologue.count(m))) continue;
    regs[m] = e.op(g[m], regs);
    ++ops;
  }
  std::map<NodeId, int> epi_regs;
  if (red) {
    const Node& r = g[anchor];
    k.type = KernelSpec::Type::Reduce;
    k.reduce_op = r.op;
    k.axis = r.axis;
    k.reduce_input = r.args[0].view.output;
    k.value = e.operand(r.args[0], regs);
    k.count = r.shape.element_count();
    Instr acc;
    acc.kind = Instr::Kind::Acc;
    acc.shape = r.shape;
    k.epilogue.push_back(acc);
    epi_regs[anchor] = 0;
    Emitter ee(g, k, k.epilogue);
    for (NodeId m : members) {
      if (m == anchor || prologue.count(m)) continue;
      epi_regs[m] = ee.op(g[m], epi_regs);
      ++epi_ops;
    }
    bool external = false;
    for (NodeId u : users[anchor]) external = external || cluster_of[u] != cluster;
    if (external) k.outputs.push_back({-1, anchor});  // -1: the reduction result
    k.label = fmt::format("{} axis {} {}{}{}", info(r.op).name, r.axis, k.reduce_input.str(),
                          ops ? fmt::format(" + {} ops", ops) : "",
                          epi_ops ? fmt::format(" + {} epilogue ops", epi_ops) : "");
  } else if (mm) {
    const Shape& s = k.matmul_shape;
    k.count = s.element_count();
    k.label = fmt::format("matmul {}x{}x{}{}{}{}", s[-2], g[anchor].args[0].view.output[-1], s[-1],
                          s.rank() > 2 ? fmt::format(" batch {}", k.count / (s[-2] * s[-1])) : "",
                          ops ? fmt::format(" + {} ops", ops) : "",
                          !k.a_prologue.empty() || !k.b_prologue.empty()
                              ? fmt::format(" ({}{}{} computed in loads)", k.a_prologue.empty() ? "" : "A",
                                            !k.a_prologue.empty() && !k.b_prologue.empty() ? ", " : "",
                                            k.b_prologue.empty() ? "" : "B")
                              : "");
  } else {
    k.type = KernelSpec::Type::Elementwise;
    k.count = g[members.front()].shape.element_count();
    k.label = fmt::format("elementwise {} op{} [{}]", ops, ops == 1 ? "" : "s", k.count);
  }
  for (NodeId m : members) {
    if (m == anchor && !mm) continue;
    if (red && prologue.count(m)) continue;
    bool external = false;
    for (NodeId u : users[m]) external = external || cluster_of[u] != cluster;
    if (external) k.outputs.push_back({red ? epi_regs[m] : regs[m], m});
  }
  return k;
}

}  // namespace descent::detail
