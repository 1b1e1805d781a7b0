// Fusion (see cluster.hpp). Three steps: candidate search over producers (`try_join_producer`),
// the legality tests (`can_join`, `try_merge`: no cycle between kernels), and emission (emit.cpp).
#include "fuse/cluster.hpp"

#include <algorithm>
#include <array>
#include <queue>

#include "fuse/emit.hpp"
#include "graph/passes/passes.hpp"
#include "util/assert.hpp"

namespace descent::detail {

namespace {

/// Fixed-size bitset over node ids, for ancestor sets.
struct Bits {
  std::vector<uint64_t> w;
  explicit Bits(size_t n = 0) : w((n + 63) / 64, 0) {}
  void set(size_t i) { w[i / 64] |= uint64_t{1} << (i % 64); }
  bool test(size_t i) const { return (w[i / 64] >> (i % 64)) & 1; }
  void merge(const Bits& o) {
    for (size_t i = 0; i < w.size(); ++i) w[i] |= o.w[i];
  }
  bool intersects(const Bits& o) const {
    for (size_t i = 0; i < w.size(); ++i)
      if (w[i] & o.w[i]) return true;
    return false;
  }
};

struct Cluster {
  KernelSpec::Type type = KernelSpec::Type::Elementwise;
  int64_t count = 0;          // elementwise count (reduce: input element count of the prologue)
  std::vector<NodeId> members;
  Bits bits;
  NodeId reduce = kNoNode;    // the reduce or matmul node the kernel is built around
  int64_t out_count = 0;      // elements the anchor produces (epilogue members have this count)
  bool absorbed = false;      // merged into another cluster
  // Matmul: the producers of operands A and B computed in its loads (kNoNode: read from memory).
  std::array<NodeId, 2> prologue{kNoNode, kNoNode};
};

class Fuser {
 public:
  Fuser(const IrGraph& g, const FusionOptions& o) : g_(g), opt_(o), users_(g.users()) {
    anc_.assign(g.size(), Bits(g.size()));
    for (NodeId id = 0; id < g.size(); ++id)
      for (const Arg& a : g[id].args) {
        anc_[id].set(a.node);
        anc_[id].merge(anc_[a.node]);
      }
    cluster_of_.assign(g.size(), -1);
    inliners_.assign(g.size(), {});
  }

  std::vector<KernelSpec> run() {
    for (NodeId id = 0; id < g_.size(); ++id) {
      switch (info(g_[id].op).kind) {
        case OpKind::Elementwise:
        case OpKind::Gather:
          if (!opt_.enabled || !try_join_producer(id)) new_cluster(id, KernelSpec::Type::Elementwise);
          break;
        case OpKind::Reduce: {
          int c = new_cluster(id, KernelSpec::Type::Reduce);
          clusters_[c].reduce = id;
          if (opt_.enabled) absorb_prologue(c);
          break;
        }
        case OpKind::MatMul: {
          int c = new_cluster(id, KernelSpec::Type::MatMul);
          clusters_[c].reduce = id;
          if (opt_.enabled && opt_.matmul_prologue) inline_operands(c);
          break;
        }
        case OpKind::Leaf:
        case OpKind::Sink:
          break;
      }
    }
    if (opt_.enabled) merge_siblings();
    return emit();
  }

 private:
  bool is_buffer_source(NodeId s) const { return !is_inline_leaf(g_[s].op); }

  /// Kernels that compute node u: its cluster, or the matmuls that inline it in their loads.
  std::vector<int> kernels_of(NodeId u) const {
    if (cluster_of_[u] >= 0) return {cluster_of_[u]};
    return inliners_[u];
  }

  /// A producer computed inside the operand loads of every matmul using it: one elementwise node
  /// with a kernel of its own, read only by float32 matmuls (a convolution's im2col copy).
  bool inlinable(NodeId p) const {
    if (!inliners_[p].empty()) return true;
    const Node& n = g_[p];
    if (!is_elementwise(n.op)) return false;
    int pc = cluster_of_[p];
    if (pc < 0 || clusters_[pc].absorbed || clusters_[pc].members.size() != 1) return false;
    for (NodeId u : users_[p])
      if (!is_matmul(g_[u].op) || g_[u].axis != 0) return false;
    return true;
  }

  void inline_operands(int c) {
    NodeId mm = clusters_[c].reduce;
    if (g_[mm].axis != 0) return;  // float16 operands are staged by the cooperative-matrix kernel
    for (int ai = 0; ai < 2; ++ai) {
      NodeId p = g_[mm].args[static_cast<size_t>(ai)].node;
      if (!inlinable(p)) continue;
      int pc = cluster_of_[p];
      if (pc >= 0) {
        clusters_[pc].members.clear();
        clusters_[pc].absorbed = true;
        cluster_of_[p] = -1;
      }
      clusters_[c].prologue[static_cast<size_t>(ai)] = p;
      if (std::find(inliners_[p].begin(), inliners_[p].end(), c) == inliners_[p].end()) inliners_[p].push_back(c);
    }
  }

  int new_cluster(NodeId id, KernelSpec::Type type) {
    Cluster c;
    c.type = type;
    c.count = type == KernelSpec::Type::Reduce ? g_[g_[id].args[0].node].shape.element_count()
                                               : g_[id].shape.element_count();  // matmul: output
    c.out_count = g_[id].shape.element_count();
    c.bits = Bits(g_.size());
    clusters_.push_back(std::move(c));
    add_member(static_cast<int>(clusters_.size() - 1), id);
    return static_cast<int>(clusters_.size() - 1);
  }

  void add_member(int c, NodeId id) {
    clusters_[c].members.push_back(id);
    clusters_[c].bits.set(id);
    cluster_of_[id] = c;
  }

  /// Candidate search: the first producer kernel (in argument order) that `id` may join.
  /// After joining, the other producer kernels it reads element by element merge in too. A
  /// matmul kernel takes consumers as its epilogue (bias, scale, activation).
  bool try_join_producer(NodeId id) {
    const Node& n = g_[id];
    int joined = -1;
    for (size_t ai = 0; ai < n.args.size(); ++ai) {
      const Arg& a = n.args[ai];
      if (n.op == Op::Gather && ai == 0) continue;  // gathered values are read from memory
      int c = cluster_of_[a.node];
      if (c < 0 || clusters_[c].absorbed) continue;
      const Cluster& pc = clusters_[c];
      // A reduction's epilogue reads its result (or other epilogue members) at output size;
      // its prologue members are never read from outside.
      bool epilogue = pc.type == KernelSpec::Type::Reduce;
      if (epilogue && (a.node != pc.reduce && anc_[pc.reduce].test(a.node))) continue;
      int64_t count = epilogue ? pc.out_count : pc.count;
      if (!a.view.is_identity() || count != n.shape.element_count()) continue;
      if (joined < 0) {
        if (can_join(c, id)) {
          add_member(c, id);
          joined = c;
        }
      } else if (c != joined) {
        try_merge(joined, c);
      }
    }
    return joined >= 0;
  }

  /// Merges cluster b into a when no path leaves one and enters the other through a node outside
  /// both (that would make the merged kernel depend on itself).
  bool try_merge(int ai, int bi) {
    Cluster& a = clusters_[ai];
    Cluster& b = clusters_[bi];
    if (b.type != KernelSpec::Type::Elementwise || whole_store(a)) return false;
    // A matmul's or reduction's epilogue cannot contain anything its input is computed from, and
    // runs at the anchor's output size.
    if (a.type != KernelSpec::Type::Elementwise &&
        (anc_[a.reduce].intersects(b.bits) || b.count != a.out_count))
      return false;
    // Gathered values must come from memory, so their producer stays in another kernel.
    for (const Cluster* x : {&a, &b})
      for (NodeId m : x->members)
        if (g_[m].op == Op::Gather && (a.bits.test(g_[m].args[0].node) || b.bits.test(g_[m].args[0].node)))
          return false;
    // Inside one kernel an operand is a register, read at the user's own element: an edge
    // between the two through any other view (a shift, a broadcast) needs memory.
    for (const Cluster* x : {&a, &b})
      for (NodeId m : x->members)
        for (const Arg& arg : g_[m].args)
          if ((a.bits.test(arg.node) || b.bits.test(arg.node)) && !arg.view.is_identity())
            return false;
    if (through_outside(a, b) || through_outside(b, a)) return false;
    // Kernel-level paths too: a -> other kernel(s) -> b (or back) would make the merge a cycle.
    if (reaches(ai, bi, bi) || reaches(bi, ai, ai)) return false;
    std::vector<NodeId> all = a.members;
    all.insert(all.end(), b.members.begin(), b.members.end());
    if (bindings(all) > opt_.max_bindings) return false;
    for (NodeId m : b.members) {
      a.bits.set(m);
      cluster_of_[m] = ai;
    }
    std::sort(all.begin(), all.end());
    a.members = all;
    b.members.clear();
    b.absorbed = true;
    return true;
  }

  /// True if kernel `to` is reachable from kernel `from` along node edges between kernels,
  /// ignoring direct edges from `from` into `skip_direct` (-1: none ignored).
  bool reaches(int from, int to, int skip_direct) const {
    std::vector<uint8_t> seen(clusters_.size(), 0);
    std::vector<int> stack;
    auto push_succ = [&](int c, bool first) {
      for (NodeId m : clusters_[c].members)
        for (NodeId u : users_[m])
          for (int x : kernels_of(u)) {
            if (x == c || seen[x]) continue;
            if (first && x == skip_direct) continue;
            seen[x] = 1;
            stack.push_back(x);
          }
    };
    push_succ(from, true);
    while (!stack.empty()) {
      int c = stack.back();
      stack.pop_back();
      if (c == to) return true;
      push_succ(c, false);
    }
    return false;
  }

  bool through_outside(const Cluster& from, const Cluster& to) const {
    for (NodeId x = 0; x < g_.size(); ++x) {
      if (from.bits.test(x) || to.bits.test(x) || !anc_[x].intersects(from.bits)) continue;
      for (NodeId t : to.members)
        if (anc_[t].test(x)) return true;
    }
    return false;
  }

  /// A matmul over packed float16 operands stores its workgroup-scope accumulator whole: it has
  /// no per-element epilogue (codegen/matmul_coopmat2.cpp).
  bool whole_store(const Cluster& c) const {
    return c.type == KernelSpec::Type::MatMul && is_packed_matmul(g_[c.reduce].axis);
  }

  /// Legality: no argument of `id` from outside the cluster depends on the cluster (that path would
  /// leave and re-enter it: a cycle), and the kernel stays within its binding budget.
  bool can_join(int c, NodeId id) const {
    const Cluster& cl = clusters_[c];
    if (whole_store(cl)) return false;
    if (g_[id].op == Op::Gather && cl.bits.test(g_[id].args[0].node)) return false;
    for (const Arg& a : g_[id].args) {
      if (cl.bits.test(a.node)) {
        if (!a.view.is_identity()) return false;  // must be read as a register
        continue;
      }
      if (anc_[a.node].intersects(cl.bits)) return false;
      // The argument's kernel must not depend on this cluster through other kernels either.
      int x = cluster_of_[a.node];
      if (x >= 0 && x != c && reaches(c, x, -1)) return false;
    }
    std::vector<NodeId> m = cl.members;
    m.push_back(id);
    return bindings(m) <= opt_.max_bindings;
  }

  /// Buffers a kernel made of `members` binds: distinct buffer inputs + members used outside.
  /// Linear in the members (bitsets for membership and distinct inputs): called on every join,
  /// so a linear scan per lookup made building a long chain cubic.
  int bindings(const std::vector<NodeId>& members) const {
    Bits in(g_.size()), seen(g_.size());
    for (NodeId m : members) in.set(m);
    int ins = 0, outs = 0;
    auto inside = [&](NodeId x) { return in.test(x); };
    auto add_input = [&](NodeId x) {
      if (is_buffer_source(x) && !seen.test(x)) {
        seen.set(x);
        ++ins;
      }
    };
    for (NodeId m : members) {
      for (const Arg& a : g_[m].args) {
        if (inside(a.node)) continue;
        if (inliners_[a.node].empty()) add_input(a.node);
        else for (const Arg& b : g_[a.node].args) add_input(b.node);  // computed in the loads
      }
      bool external = false;
      for (NodeId u : users_[m]) external = external || !inside(u);
      outs += external ? 1 : 0;
    }
    return ins + outs;
  }

  /// A reduction absorbs the elementwise kernel producing its input when that kernel feeds
  /// nothing else, reads nothing through a gather, and matches the input element by element.
  void absorb_prologue(int rc) {
    NodeId r = clusters_[rc].reduce;
    const Arg& a = g_[r].args[0];
    int c = cluster_of_[a.node];
    if (c < 0 || clusters_[c].type != KernelSpec::Type::Elementwise || clusters_[c].absorbed) return;
    if (!a.view.is_identity() || clusters_[c].count != clusters_[rc].count) return;
    for (NodeId m : clusters_[c].members)
      for (NodeId u : users_[m])
        if (u != r && cluster_of_[u] != c) return;
    if (users_[a.node].size() != 1) return;
    std::vector<NodeId> all = clusters_[c].members;
    all.push_back(r);
    if (bindings(all) > opt_.max_bindings) return;
    Cluster& rcl = clusters_[rc];
    for (NodeId m : clusters_[c].members) {
      rcl.members.insert(rcl.members.end() - 1, m);
      rcl.bits.set(m);
      cluster_of_[m] = rc;
    }
    clusters_[c].members.clear();
    clusters_[c].absorbed = true;
  }

  /// Independent elementwise kernels of equal size that read a common buffer become one kernel:
  /// the shared input is read once and one dispatch is saved.
  void merge_siblings() {
    for (size_t i = 0; i < clusters_.size(); ++i) {
      Cluster& a = clusters_[i];
      if (a.absorbed || a.type != KernelSpec::Type::Elementwise) continue;
      for (size_t j = i + 1; j < clusters_.size(); ++j) {
        Cluster& b = clusters_[j];
        if (b.absorbed || b.type != KernelSpec::Type::Elementwise || b.count != a.count) continue;
        if (!share_input(a, b) || depends(a, b) || depends(b, a)) continue;
        try_merge(static_cast<int>(i), static_cast<int>(j));
      }
    }
  }

  bool share_input(const Cluster& a, const Cluster& b) const {
    for (NodeId m : a.members)
      for (const Arg& x : g_[m].args) {
        if (a.bits.test(x.node) || !is_buffer_source(x.node)) continue;
        for (NodeId k : b.members)
          for (const Arg& y : g_[k].args)
            if (y.node == x.node) return true;
      }
    return false;
  }

  bool depends(const Cluster& a, const Cluster& b) const {  // some member of a needs b
    for (NodeId m : a.members)
      if (anc_[m].intersects(b.bits)) return true;
    return false;
  }

  std::vector<KernelSpec> emit() {
    // Order kernels: Kahn's algorithm over cluster dependencies, smallest first member first.
    std::vector<int> live;
    for (size_t i = 0; i < clusters_.size(); ++i)
      if (!clusters_[i].absorbed) live.push_back(static_cast<int>(i));
    std::vector<std::vector<int>> succ(clusters_.size());
    std::vector<int> indeg(clusters_.size(), 0);
    for (int c : live) {
      std::vector<NodeId> reads = clusters_[c].members;
      for (NodeId q : clusters_[c].prologue)
        if (q != kNoNode) reads.push_back(q);
      for (NodeId m : reads)
        for (const Arg& a : g_[m].args) {
          int p = cluster_of_[a.node];
          if (p >= 0 && p != c && std::find(succ[p].begin(), succ[p].end(), c) == succ[p].end()) {
            succ[p].push_back(c);
            ++indeg[c];
          }
        }
    }
    // Write-after-read: kernels reading a parameter's old value run before the kernel writing its
    // new value, where that adds no cycle; otherwise the runtime writes via a copy instead.
    auto with_war = succ;
    auto indeg_war = indeg;
    for (NodeId o = 0; o < g_.size(); ++o) {
      if (g_[o].op != Op::Output) continue;
      int cw = cluster_of_[g_[o].args[0].node];
      if (cw < 0) continue;
      for (NodeId in = 0; in < g_.size(); ++in) {
        if (g_[in].op != Op::Input || g_[in].param != g_[o].param) continue;
        for (NodeId u : users_[in])
          for (int cr : kernels_of(u)) {
            if (cr == cw || depends(clusters_[cr], clusters_[cw])) continue;
            if (std::find(with_war[cr].begin(), with_war[cr].end(), cw) != with_war[cr].end()) continue;
            with_war[cr].push_back(cw);
            ++indeg_war[cw];
          }
      }
    }
    auto order = kahn(live, with_war, indeg_war);
    if (order.size() != live.size()) order = kahn(live, succ, indeg);
    DESCENT_ASSERT(order.size() == live.size(), "kernel dependency cycle after fusion");
    std::vector<KernelSpec> out;
    for (int c : order) {
      const Cluster& cl = clusters_[c];
      out.push_back(emit_kernel(g_, users_, cl.members, cluster_of_, c,
                                cl.type == KernelSpec::Type::Elementwise ? kNoNode : cl.reduce, cl.prologue));
    }
    return out;
  }

  std::vector<int> kahn(const std::vector<int>& live, const std::vector<std::vector<int>>& succ,
                        std::vector<int> indeg) const {
    auto first = [&](int c) { return *std::min_element(clusters_[c].members.begin(), clusters_[c].members.end()); };
    std::priority_queue<std::pair<NodeId, int>, std::vector<std::pair<NodeId, int>>, std::greater<>> ready;
    for (int c : live)
      if (indeg[c] == 0) ready.push({first(c), c});
    std::vector<int> out;
    while (!ready.empty()) {
      int c = ready.top().second;
      ready.pop();
      out.push_back(c);
      for (int s : succ[c])
        if (--indeg[s] == 0) ready.push({first(s), s});
    }
    return out;
  }

  const IrGraph& g_;
  FusionOptions opt_;
  std::vector<std::vector<NodeId>> users_;
  std::vector<Bits> anc_;
  std::vector<int> cluster_of_;
  std::vector<std::vector<int>> inliners_;  // per node: matmul kernels computing it in their loads
  std::vector<Cluster> clusters_;
};

}  // namespace

std::vector<KernelSpec> build_kernels(const IrGraph& g, const FusionOptions& options) {
  return Fuser(g, options).run();
}

}  // namespace descent::detail
