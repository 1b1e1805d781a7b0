// GLSL for CPU devices (lavapipe): elementwise and reduction kernels shaped for a driver that
// runs invocations as SIMD lanes and turns every lane-dependent memory access into a scalar loop
// over the lanes (dearer inside control flow; a 64-bit load costs about what a 32-bit one does).
// The measurements behind these choices: docs/perf/HISTORY.md, "Lavapipe" (made with a probe
// since removed; git history has it). Writes GLSL only; every element is computed exactly as by
// the general kernels in generate.cpp (bit-identical).
#include "codegen/body.hpp"

namespace descent::codegen::internal {

namespace {

/// Dispatch of a loop-free CPU kernel: `steps` invocations in workgroups of `local`, on an exact
/// 2-D grid where one exists (then no bounds test), else on a covering grid with a bounds test.
struct CpuGrid {
  int local = 64;
  uint32_t gx = 0, gy = 0;
  bool exact = false;
};

/// groups = gx * gy with gx <= max_x, when such a factorisation exists.
bool exact_grid(int64_t groups, uint32_t max_x, uint32_t* gx, uint32_t* gy) {
  const int64_t lim_x = std::min<int64_t>(max_x, 65535);
  for (int64_t y = std::max<int64_t>(1, (groups + lim_x - 1) / lim_x); y <= 65535 && y <= groups; ++y) {
    if (groups % y == 0 && groups / y <= lim_x) {
      *gx = static_cast<uint32_t>(groups / y);
      *gy = static_cast<uint32_t>(y);
      return true;
    }
    if (y > 4096) break;  // give up on awkward counts: a guarded grid will do
  }
  return false;
}

/// False when even a covering grid does not fit the limits (tiny limits in tests).
bool cpu_grid(int64_t steps, const Target& t, CpuGrid* g) {
  for (int l : {64, 32, 16, 8})
    if (steps % l == 0) {
      g->local = l;
      break;
    }
  const int64_t groups = (steps + g->local - 1) / g->local;
  g->exact = steps % g->local == 0 && exact_grid(groups, t.max_groups_x, &g->gx, &g->gy);
  if (!g->exact) {
    g->gx = static_cast<uint32_t>(std::min<int64_t>({groups, t.max_groups_x, 65535}));
    g->gy = static_cast<uint32_t>((groups + g->gx - 1) / g->gx);
  }
  return g->gy <= 65535;
}

/// Opens main() with the step index `s` (and the bounds test of a guarded grid).
void open_main(GlslWriter& w, const CpuGrid& g, int64_t steps) {
  w.open("void main()");
  w.line("int s = (int(gl_WorkGroupID.y) * {} + int(gl_WorkGroupID.x)) * {} + int(gl_LocalInvocationID.x);",
         g.gx, g.local);
  if (!g.exact) w.open(fmt::format("if (s < {})", steps));
}

void close_main(GlslWriter& w, const CpuGrid& g) {
  if (!g.exact) w.close();
  w.close();
}

/// `vec4 <prefix><b>` for every input read through the identity view in `body`, from two 64-bit
/// words at float index 4 * `l4` (see DescentIn8).
void preload_pairs(GlslWriter& w, const KernelSpec& k, const std::vector<Instr>& body,
                   const std::string& prefix, const std::string& l4) {
  std::vector<bool> vec_in(k.inputs.size(), false);
  for (const Instr& in : body)
    if (in.kind == Instr::Kind::Load && in.view.is_identity()) vec_in[in.input] = true;
  for (size_t b = 0; b < vec_in.size(); ++b)
    if (vec_in[b])
      w.line("vec4 {0}{1} = vec4(uintBitsToFloat(unpackUint2x32(DescentIn8(uint64_t(pc.in{1})).v[{2} * 2])), "
             "uintBitsToFloat(unpackUint2x32(DescentIn8(uint64_t(pc.in{1})).v[{2} * 2 + 1])));",
             prefix, b, l4);
}

/// Stores output `o` of a four-element step: `value(lane)` at index `index(lane)` = 4 s + lane.
template <typename Value, typename Index>
void store_step(GlslWriter& w, const KernelSpec& k, size_t o, Value value, Index index) {
  if (pair_stores(k)) {
    for (int h = 0; h < 2; ++h)
      w.line("DescentOut8(uint64_t(pc.out{})).v[s * 2 + {}] = packUint2x32(floatBitsToUint(vec2({}, {})));", o, h,
             value(2 * h), value(2 * h + 1));
  } else {
    for (int lane = 0; lane < 4; ++lane) w.line("pc.out{}.v[{}] = {};", o, index(lane), value(lane));
  }
}

/// One element of a reduction row (all lanes of the step): the body at input index `l0` (+ lane),
/// folded into acc_<lane>.
void reduce_element(GlslWriter& w, const KernelSpec& k, int per, const std::string& l0,
                    const std::function<std::string(const std::string&, const std::string&)>& combine) {
  w.open("");
  if (per == 4) {
    w.line("int l4 = ({}) >> 2;", l0);
    preload_pairs(w, k, k.body, "vin", "l4");
  } else {
    w.line("int l = {};", l0);
  }
  for (int lane = 0; lane < per; ++lane) {
    std::string sfx = per == 4 ? fmt::format("_{}", lane) : "";
    if (per == 4) w.line("int l_{} = l4 * 4 + {};", lane, lane);
    BodyWriter body(w, k, "l" + sfx, per == 4 ? lane : -1);
    body.set_branch_free_loads(true);
    body.emit_all();
    w.line("acc_{0} = {1};", lane, combine(fmt::format("acc_{}", lane), fmt::format("t{}{}", k.value, sfx)));
  }
  w.close();
}

/// The end of a CPU reduction step: epilogue ops at the outputs m_<lane> = m0 + lane, then the
/// stores (instruction -1 is the reduced value itself).
void reduce_epilogue(GlslWriter& w, const KernelSpec& k, int per) {
  KernelSpec epi = k;
  epi.body = k.epilogue;
  if (per == 4) preload_pairs(w, epi, k.epilogue, "ein", "s");
  for (int lane = 0; lane < per; ++lane) {
    std::string sfx = per == 4 ? fmt::format("_{}", lane) : "";
    w.line("int m{} = m0 + {};", sfx, lane);
    BodyWriter body(w, epi, "m" + sfx, per == 4 ? lane : -1);
    body.set_vector_prefix("ein");
    body.set_branch_free_loads(true);
    body.set_acc(fmt::format("acc_{}", lane));
    if (k.epilogue.size() > 1) body.emit_all();
  }
  for (size_t o = 0; o < k.outputs.size(); ++o) {
    int r = k.outputs[o].first;
    auto value = [&](int lane) {
      return r < 0 ? fmt::format("acc_{}", lane) : fmt::format("t{}{}", r, per == 4 ? fmt::format("_{}", lane) : "");
    };
    if (per == 4) store_step(w, k, o, value, [](int lane) { return fmt::format("m_{}", lane); });
    else w.line("pc.out{}.v[m] = {};", o, value(0));
  }
}

}  // namespace

/// Every invocation computes one step (four consecutive elements when the count allows, else one)
/// with no loop and, where the grid covers the count exactly, no bounds test. Identity operands
/// are read as two 64-bit words per step; stores are two 64-bit or four 32-bit words
/// (pair_stores). Returns false when the grid cannot cover the count (tiny limits).
bool elementwise_cpu(const KernelSpec& k, const Target& t, GeneratedKernel& g) {
  const int per = k.count % 4 == 0 ? 4 : 1;
  const int64_t steps = k.count / per;
  CpuGrid grid;
  if (!cpu_grid(steps, t, &grid)) return false;
  g.groups_x = grid.gx;
  g.groups_y = grid.gy;
  GlslWriter w;
  header(w, k, t, grid.local);
  open_main(w, grid, steps);
  if (per == 4) {
    preload_pairs(w, k, k.body, "vin", "s");
    for (int lane = 0; lane < 4; ++lane) {
      w.line("int l_{} = s * 4 + {};", lane, lane);
      BodyWriter body(w, k, fmt::format("l_{}", lane), lane);
      body.set_branch_free_loads(true);
      body.emit_all();
    }
    for (size_t o = 0; o < k.outputs.size(); ++o) {
      int r = k.outputs[o].first;
      store_step(w, k, o, [&](int lane) { return fmt::format("t{}_{}", r, lane); },
                 [](int lane) { return fmt::format("l_{}", lane); });
    }
  } else {
    w.line("int l = s;");
    BodyWriter body(w, k, "l");
    body.set_branch_free_loads(true);
    body.emit_all();
    store_outputs(w, k, "l");
  }
  close_main(w, grid);
  g.source = w.str();
  return true;
}

/// One invocation per output, or per four consecutive outputs when they read four consecutive
/// input elements (innermost extent a multiple of 4: identity reads then move as 64-bit pairs and
/// the lanes share index math); no grid-stride loop or bounds test where the grid fits exactly;
/// rows of up to 32 elements fully unrolled. Each output is combined serially in increasing r, as
/// by the general kernel with one thread per row. Returns false when the grid cannot cover it.
bool reduce_cpu(const KernelSpec& k, const Target& t, GeneratedKernel& g) {
  const Shape& s = k.reduce_input;
  int64_t len = s[k.axis], inner = 1;
  for (int j = k.axis + 1; j < s.rank(); ++j) inner *= s[j];
  const int per = inner % 4 == 0 && k.count % 4 == 0 ? 4 : 1;
  const int64_t steps = k.count / per;
  CpuGrid grid;
  if (!cpu_grid(steps, t, &grid)) return false;
  g.groups_x = grid.gx;
  g.groups_y = grid.gy;
  const bool is_max = k.reduce_op == detail::Op::ReduceMax;
  std::string init = is_max ? "uintBitsToFloat(0xff800000u)" : "pc.run.zero";  // -inf for max
  auto combine = [is_max](const std::string& acc, const std::string& v) {
    return is_max ? fmt::format("descent_max({}, {})", acc, v) : fmt::format("{} + {}", acc, v);
  };
  GlslWriter w;
  header(w, k, t, grid.local);
  open_main(w, grid, steps);
  // Output m = s * per + lane sits at (outer, inner) with inner = m % inner; lane 0's input index
  // for row element r is (outer * len + r) * inner + inner0, the other lanes follow it.
  w.line("int m0 = s * {};", per);
  w.line("int base = (m0 / {}) * {} + m0 % {};", inner, len * inner, inner);
  for (int lane = 0; lane < per; ++lane) w.line("precise float acc_{} = {};", lane, init);
  if (len <= 32) {
    for (int64_t r = 0; r < len; ++r) reduce_element(w, k, per, fmt::format("base + {}", r * inner), combine);
  } else {
    w.open(fmt::format("for (int r = 0; r < {}; ++r)", len));
    reduce_element(w, k, per, fmt::format("base + r * {}", inner), combine);
    w.close();
  }
  reduce_epilogue(w, k, per);
  close_main(w, grid);
  g.source = w.str();
  return true;
}

}  // namespace descent::codegen::internal
