// Generates GLSL for elementwise and reduction kernels (matrix products: matmul*.cpp; the
// CPU-device shapes: cpu_kernels.cpp). All shapes, strides and literals are
// baked in as constants. Every value is a `precise float` so fused and unfused kernels round
// identically.
#include "codegen/generate.hpp"

#include "codegen/body.hpp"
#include "codegen/matmul.hpp"
#include "util/assert.hpp"

namespace descent::codegen {

using namespace internal;

namespace {

GeneratedKernel elementwise(const KernelSpec& k, const Target& t) {
  if (t.cpu) {
    GeneratedKernel c;
    if (elementwise_cpu(k, t, c)) return c;
  }
  GlslWriter w;
  const int local = 64;
  GeneratedKernel g;
  g.groups_x = groups_for(k.count, local, t.max_groups_x);
  header(w, k, t, local);
  w.open("void main()");
  if (k.count % 4 == 0) {
    // Four consecutive elements per step: identity loads and all stores move as vec4 (16-byte
    // aligned: every buffer starts 256-byte aligned). Each lane computes exactly what the scalar
    // kernel computes, so results are bit-identical to it.
    int64_t steps = k.count / 4;
    g.groups_x = groups_for(steps, local, t.max_groups_x);
    w.open(fmt::format("for (int l4 = int(gl_GlobalInvocationID.x); l4 < {}; l4 += {})", steps,
                       int64_t{g.groups_x} * local));
    std::vector<bool> vec_in(k.inputs.size(), false);
    for (const Instr& in : k.body)
      if (in.kind == Instr::Kind::Load && in.view.is_identity()) vec_in[in.input] = true;
    for (size_t b = 0; b < vec_in.size(); ++b)
      if (vec_in[b]) w.line("vec4 vin{0} = DescentIn4(uint64_t(pc.in{0})).v[l4];", b);
    for (int lane = 0; lane < 4; ++lane) {
      w.line("int l_{} = l4 * 4 + {};", lane, lane);
      BodyWriter(w, k, fmt::format("l_{}", lane), lane).emit_all();
    }
    for (size_t o = 0; o < k.outputs.size(); ++o) {
      int r = k.outputs[o].first;
      w.line("DescentOut4(uint64_t(pc.out{0})).v[l4] = vec4(t{1}_0, t{1}_1, t{1}_2, t{1}_3);", o, r);
    }
    w.close();
  } else {
    w.open(fmt::format("for (int l = int(gl_GlobalInvocationID.x); l < {}; l += {})", k.count,
                       int64_t{g.groups_x} * local));
    BodyWriter(w, k, "l").emit_all();
    store_outputs(w, k, "l");
    w.close();
  }
  w.close();
  g.source = w.str();
  return g;
}

/// The end of a reduction at output index `m`: the epilogue ops on `value`, then every output
/// (instruction -1 is the reduced value itself).
void store_reduction(GlslWriter& w, const KernelSpec& k, const std::string& value) {
  KernelSpec epi = k;
  epi.body = k.epilogue;
  BodyWriter body(w, epi, "m");
  body.set_acc(value);
  if (k.epilogue.size() > 1) body.emit_all();
  for (size_t o = 0; o < k.outputs.size(); ++o) {
    int r = k.outputs[o].first;
    w.line("pc.out{}.v[m] = {};", o, r < 0 ? value : fmt::format("t{}", r));
  }
}

/// Threads that cooperate on one reduced row: 1 on CPUs and for strided (column) reductions
/// (adjacent threads then read adjacent columns); otherwise a power of two giving each thread
/// about 8 vec4 steps, at most 256.
int reduce_threads(const KernelSpec& k, int64_t inner, const Target& t) {
  if (t.reduce_threads > 0) {  // forced (tests, tuning): rounded down to a power of two <= 256
    int th = 1;
    while (th * 2 <= std::min(t.reduce_threads, 256)) th *= 2;
    return th;
  }
  if (t.cpu || inner != 1) return 1;
  int64_t steps = k.reduce_input[k.axis] / (k.reduce_input[k.axis] % 4 == 0 ? 4 : 1);
  int th = 1;
  while (th < 256 && th * 8 < steps) th *= 2;
  return th;
}

/// One reduced row per `th` threads. Summation order is fixed by (length, th, subgroup size):
/// thread tr accumulates its elements in increasing order (four lanes per vec4 step, lane order),
/// then a butterfly of subgroupShuffleXor steps combines threads within a subgroup (every lane
/// ends with the same bits, as a + b == b + a), then thread 0 of the row adds the subgroup results
/// in increasing order. No atomics; nothing depends on scheduling.
GeneratedKernel reduce(const KernelSpec& k, const Target& t) {
  if (t.cpu && t.reduce_threads == 0) {
    GeneratedKernel c;
    if (reduce_cpu(k, t, c)) return c;
  }
  const Shape& s = k.reduce_input;
  int64_t len = s[k.axis], inner = 1;
  for (int j = k.axis + 1; j < s.rank(); ++j) inner *= s[j];
  int th = reduce_threads(k, inner, t);
  int sg = std::max(1, std::min<int>(th, static_cast<int>(t.subgroup_size)));  // shuffle width
  if (t.subgroup_size == 0) sg = 1;
  int local = th > 1 ? std::max(128, th) : 64;
  int rows = local / th;  // outputs per workgroup per grid-stride step
  bool vec = th > 1 && inner == 1 && len % 4 == 0;
  bool is_max = k.reduce_op == detail::Op::ReduceMax;
  std::string init = is_max ? "uintBitsToFloat(0xff800000u)" : "pc.run.zero";  // -inf for max
  auto combine = [&](const std::string& acc, const std::string& v) {
    return is_max ? fmt::format("descent_max({}, {})", acc, v) : fmt::format("{} + {}", acc, v);
  };
  GeneratedKernel g;
  g.groups_x = groups_for(k.count, rows, t.max_groups_x);
  GlslWriter w;
  header(w, k, t, local, sg > 1);
  if (th > sg) w.line("shared float partial[{}];", local / sg);
  w.open("void main()");
  w.line("int lid = int(gl_LocalInvocationID.x);");
  w.open(fmt::format("for (int m0 = int(gl_WorkGroupID.x) * {}; m0 < {}; m0 += {})", rows, k.count,
                     int64_t{g.groups_x} * rows));
  w.line("int m = m0 + lid / {};", th);
  w.line("int tr = lid % {};", th);
  w.line("precise float acc = {};", init);
  w.open(fmt::format("if (m < {})", k.count));
  if (vec) {
    std::vector<bool> vec_in(k.inputs.size(), false);
    for (const Instr& in : k.body)
      if (in.kind == Instr::Kind::Load && in.view.is_identity()) vec_in[in.input] = true;
    w.open(fmt::format("for (int r4 = tr; r4 < {}; r4 += {})", len / 4, th));
    w.line("int l4 = m * {} + r4;", len / 4);
    for (size_t b = 0; b < vec_in.size(); ++b)
      if (vec_in[b]) w.line("vec4 vin{0} = DescentIn4(uint64_t(pc.in{0})).v[l4];", b);
    for (int lane = 0; lane < 4; ++lane) {
      w.line("int l_{} = l4 * 4 + {};", lane, lane);
      BodyWriter(w, k, fmt::format("l_{}", lane), lane).emit_all();
      w.line("acc = {};", combine("acc", fmt::format("t{}_{}", k.value, lane)));
    }
    w.close();
  } else {
    w.line("int outer = m / {};", inner);
    w.line("int inner = m % {};", inner);
    w.open(fmt::format("for (int r = tr; r < {}; r += {})", len, th));
    w.line("int l = (outer * {} + r) * {} + inner;", len, inner);
    BodyWriter(w, k, "l").emit_all();
    w.line("acc = {};", combine("acc", fmt::format("t{}", k.value)));
    w.close();
  }
  w.close();
  for (int step = 1; step < sg; step *= 2) {
    w.line("precise float o{0} = subgroupShuffleXor(acc, {0}u);", step);
    w.line("acc = {};", combine("acc", fmt::format("o{}", step)));
  }
  if (th > sg) {
    // Subgroup results of this row, added by its first thread in increasing order.
    w.line("if (lid % {} == 0) partial[lid / {}] = acc;", sg, sg);
    w.line("barrier();");
    w.open(fmt::format("if (tr == 0 && m < {})", k.count));
    w.line("precise float r = partial[lid / {}];", sg);
    for (int i = 1; i < th / sg; ++i) w.line("r = {};", combine("r", fmt::format("partial[lid / {} + {}]", sg, i)));
    store_reduction(w, k, "r");
    w.close();
    w.line("barrier();");
  } else {
    w.open(fmt::format("if (tr == 0 && m < {})", k.count));
    store_reduction(w, k, "acc");
    w.close();
  }
  w.close();
  w.close();
  g.source = w.str();
  return g;
}


}  // namespace

GeneratedKernel matmul_for(const KernelSpec& k, const Target& t) {
  if (k.packed_halves) return matmul_coopmat2(k, t);
  if (k.fp16_inputs && (t.coopmat_nv || t.coopmat_emulate)) {
    DESCENT_ASSERT(k.a_prologue.empty() && k.b_prologue.empty(), "float16 matmul with a computed operand");
    return matmul_coopmat(k, t);
  }
  if (t.cpu && k.a_prologue.empty() && k.b_prologue.empty()) {  // CPU kernels read memory directly
    GeneratedKernel g;
    if (matmul_cpu_unrolled(k, t, g)) return g;
    if (t.subgroup_broadcast && t.subgroup_size >= 4) return matmul_cpu(k, t);
  }
  return use_narrow_tiles(k, t) ? matmul_narrow(k, t) : matmul(k, t);
}

GeneratedKernel generate(const KernelSpec& k, const Target& t) {
  GeneratedKernel g = k.type == KernelSpec::Type::Reduce   ? reduce(k, t)
                      : k.type == KernelSpec::Type::MatMul ? matmul_for(k, t)
                                                           : elementwise(k, t);
  g.push_bytes = static_cast<uint32_t>(8 * (1 + k.inputs.size() + k.outputs.size()));
  return g;
}

}  // namespace descent::codegen
