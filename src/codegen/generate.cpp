// Generates GLSL for elementwise, reduction and matmul kernels. All shapes, strides and literals are baked
// in as constants. Every value is a `precise float` so fused and unfused kernels round identically.
#include "codegen/generate.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <map>

#include "codegen/writer.hpp"
#include "util/assert.hpp"

namespace descent::detail {
std::string_view embedded_shader(std::string_view name);
}

namespace descent::codegen {

using detail::Instr;
using detail::KernelSpec;
using detail::PadMode;
using detail::View;

namespace {

std::string float_literal(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  if (std::isfinite(v) && std::fabs(v) < 1e6f && v == std::floor(v) && !(v == 0 && std::signbit(v)))
    return fmt::format("{}.0", static_cast<int>(v));
  return fmt::format("uintBitsToFloat(0x{:08x}u)", bits);  // exact, whatever the value
}

/// Flat source index of view `v` at output coordinates `c` (GLSL int expressions). For axes that
/// can leave the source, a clamped coordinate is used and, for zero padding, `cond` receives the
/// in-bounds test (empty when the read is always in bounds). Temporaries are named `prefix<i>`.
std::string index_at(GlslWriter& w, const View& v, const std::vector<std::string>& c,
                     std::string* cond, const std::string& prefix) {
  cond->clear();
  if (!v.any_bounds()) {
    int64_t base = 0;
    auto st = v.output_strides(&base);
    std::string e = fmt::format("{}", base);
    for (int j = 0; j < v.output.rank(); ++j)
      if (st[j] != 0 && v.output[j] != 1) e += fmt::format(" + {} * {}", c[j], st[j]);
    return e;
  }
  auto in_st = v.input.strides();
  std::string flat = "0";
  for (int i = 0; i < v.input.rank(); ++i) {
    std::string ci = fmt::format("{}", v.offset[i]);
    for (int j = 0; j < v.output.rank(); ++j)
      if (v.map[j].input_axis == i && v.output[j] != 1) ci += fmt::format(" + {} * {}", c[j], v.map[j].step);
    if (v.needs_bounds(i)) {
      std::string name = fmt::format("{}{}", prefix, i);
      w.line("int {} = {};", name, ci);
      if (v.pad[i] == PadMode::kZero)
        *cond += fmt::format("{}uint({}) < {}u", cond->empty() ? "" : " && ", name, v.input[i]);
      ci = fmt::format("clamp({}, 0, {})", name, v.input[i] - 1);
    } else {
      ci = "(" + ci + ")";
    }
    if (in_st[i] != 0 && v.input[i] != 1) flat += fmt::format(" + {} * {}", ci, in_st[i]);
  }
  return flat;
}

/// Emits the body instructions of one kernel at linear index variable `l`.
class BodyWriter {
 public:
  /// `lane` >= 0: one of four lanes of a vec4 step; identity loads then come from the preloaded
  /// `vin<K>` vectors and every name gets a `_<lane>` suffix.
  BodyWriter(GlslWriter& w, const KernelSpec& k, std::string l, int lane = -1)
      : w_(w), k_(k), l_(std::move(l)), lane_(lane), sfx_(lane >= 0 ? fmt::format("_{}", lane) : "") {}

  void set_acc(std::string acc) { acc_ = std::move(acc); }  // matmul epilogue: the product

  void emit_all() {
    for (size_t i = 0; i < k_.body.size(); ++i) emit(static_cast<int>(i));
  }

 private:
  std::string coord(const Shape& s, int j) {
    auto key = std::make_pair(s.str(), j);
    auto it = coords_.find(key);
    if (it != coords_.end()) return it->second;
    auto ds = s.strides();
    std::string e = l_;
    if (ds[j] != 1) e = fmt::format("({} / {})", e, ds[j]);
    if (j > 0) e = fmt::format("({} % {})", e, s[j]);
    std::string name = fmt::format("c{}_{}{}", shape_id(s), j, sfx_);
    w_.line("int {} = {};", name, e);
    coords_[key] = name;
    return name;
  }
  int shape_id(const Shape& s) {
    auto it = std::find(shapes_.begin(), shapes_.end(), s.str());
    if (it != shapes_.end()) return static_cast<int>(it - shapes_.begin());
    shapes_.push_back(s.str());
    return static_cast<int>(shapes_.size() - 1);
  }

  /// Flat source index of a view at this kernel's coordinates; `cond` gets the in-bounds test for
  /// zero padding ("" when always in bounds).
  std::string index(const View& v, std::string* cond) {
    cond->clear();
    if (v.is_identity() && v.output.element_count() > 0) return l_;
    std::vector<std::string> c;
    for (int j = 0; j < v.output.rank(); ++j)
      c.push_back(v.output[j] == 1 ? std::string("0") : coord(v.output, j));
    return index_at(w_, v, c, cond, fmt::format("p{}{}_", pad_count_++, sfx_));
  }

  void emit(int i) {
    const Instr& in = k_.body[i];
    std::string cond;
    std::string value;
    switch (in.kind) {
      case Instr::Kind::Load:
        if (lane_ >= 0 && in.view.is_identity())
          value = fmt::format("vin{}[{}]", in.input, lane_);
        else
          value = fmt::format("pc.in{}.v[{}]", in.input, index(in.view, &cond));
        break;
      case Instr::Kind::Literal:
        if (in.view.any_bounds()) index(in.view, &cond);
        // +-0.0 come from the run info so no driver can fold x + 0.0 or x - (-0.0) into x (both
        // wrong for x = -0); lavapipe does fold them even under NoContraction.
        value = in.literal == 0.0f ? (std::signbit(in.literal) ? "(-pc.run.zero)" : "pc.run.zero")
                                   : float_literal(in.literal);
        break;
      case Instr::Kind::Coord:
        value = fmt::format("float({})", index(in.view, &cond));
        break;
      case Instr::Kind::Rand:
        value = fmt::format("descent_rand(pc.run.seed, {}u, uint({}))", in.uid, index(in.view, &cond));
        break;
      case Instr::Kind::Acc:
        value = acc_;
        break;
      case Instr::Kind::Gather: {
        // Out-of-range indices are clamped (the read stays in bounds) and flagged for the host.
        int64_t extent = in.view.output[in.axis];
        std::string gi = fmt::format("g{}{}", i, sfx_);
        w_.line("uint {} = floatBitsToUint(t{}{});", gi, in.a, sfx_);
        w_.open(fmt::format("if ({} >= {}u)", gi, extent));
        w_.line("atomicOr(DescentStatus(uint64_t(pc.run)).flags, 1u);");
        w_.line("{} = {}u;", gi, extent - 1);
        w_.close();
        std::vector<std::string> c;
        for (int j = 0; j < in.view.output.rank(); ++j)
          c.push_back(j == in.axis ? fmt::format("int({})", gi)
                                   : (in.view.output[j] == 1 ? std::string("0") : coord(in.shape, j)));
        std::string idx = index_at(w_, in.view, c, &cond, fmt::format("p{}{}_", pad_count_++, sfx_));
        value = fmt::format("pc.in{}.v[{}]", in.input, idx);
        break;
      }
      case Instr::Kind::Op: {
        std::string t(detail::info(in.op).glsl);
        std::string r;
        auto word = [](char x) { return std::isalnum(static_cast<unsigned char>(x)) || x == '_'; };
        for (size_t p = 0; p < t.size(); ++p) {
          char ch = t[p];
          if (ch == 'a' || ch == 'b' || ch == 'c') {
            int operand = ch == 'a' ? in.a : ch == 'b' ? in.b : in.c;
            // Only single letters are operands; identifiers such as "abs" or "descent_tanh" are not.
            bool ident = (p > 0 && word(t[p - 1])) || (p + 1 < t.size() && word(t[p + 1]));
            if (!ident && operand >= 0) {
              r += fmt::format("t{}{}", operand, sfx_);
              continue;
            }
          }
          r += ch;
        }
        value = r;
        break;
      }
    }
    if (!cond.empty()) value = fmt::format("(({}) ? {} : 0.0)", cond, value);
    w_.line("precise float t{}{} = {};", i, sfx_, value);
  }

  GlslWriter& w_;
  const KernelSpec& k_;
  std::string l_;
  int lane_;
  std::string sfx_;
  std::string acc_;
  std::map<std::pair<std::string, int>, std::string> coords_;
  std::vector<std::string> shapes_;
  int pad_count_ = 0;
};

void header(GlslWriter& w, const KernelSpec& k, const Target& t, int local_size, bool subgroup = false,
            bool coopmat = false) {
  w.line("#version 460");
  // Float controls where the device offers them: keep denormals, NaN, Inf and -0 exact, so the
  // driver may not flush or rewrite selects into NaN-ignoring min/max (the reference assumes IEEE).
  if (t.denorm_preserve || t.nan_preserve) w.line("#extension GL_EXT_spirv_intrinsics : require");
  if (t.denorm_preserve)
    w.line("spirv_execution_mode(extensions = [\"SPV_KHR_float_controls\"], capabilities = [4464], 4459, 32);");
  if (t.nan_preserve)
    w.line("spirv_execution_mode(extensions = [\"SPV_KHR_float_controls\"], capabilities = [4466], 4461, 32);");
  w.line("#extension GL_EXT_buffer_reference : require");
  w.line("#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require");
  if (subgroup) w.line("#extension GL_KHR_shader_subgroup_shuffle : require");
  if (coopmat) {
    w.line("#extension GL_NV_cooperative_matrix : require");
    w.line("#extension GL_KHR_memory_scope_semantics : require");
    w.line("#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require");
    w.line("#extension GL_KHR_shader_subgroup_basic : require");
  }
  w.line("// descent kernel: {}", k.label);
  w.raw(std::string(detail::embedded_shader("common.glsl")));
  w.line("layout(local_size_x = {}) in;", local_size);
  std::string push = "DescentRunInfo run;";
  for (size_t i = 0; i < k.inputs.size(); ++i) push += fmt::format(" DescentIn in{};", i);
  for (size_t i = 0; i < k.outputs.size(); ++i) push += fmt::format(" DescentOut out{};", i);
  w.line("layout(push_constant) uniform Push {{ {} }} pc;", push);
}

uint32_t groups_for(int64_t items, int64_t per_group, uint32_t max_groups) {
  int64_t g = (items + per_group - 1) / per_group;
  return static_cast<uint32_t>(std::clamp<int64_t>(g, 1, std::min<int64_t>(max_groups, 65535)));
}

GeneratedKernel elementwise(const KernelSpec& k, const Target& t) {
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
    for (size_t o = 0; o < k.outputs.size(); ++o) w.line("pc.out{}.v[l] = t{};", o, k.outputs[o].first);
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


/// GLSL function `float load_<name>(int b, int r, int c)`: operand element at batch b, row r,
/// column c, read through its view (zero outside zero padding).
void load_function(GlslWriter& w, const char* name, int input, const View& v, const Shape& batch) {
  w.open(fmt::format("float load_{}(int b, int r, int c)", name));
  std::vector<std::string> coords;
  auto ds = batch.strides();
  for (int j = 0; j < batch.rank(); ++j) {
    std::string e = "b";
    if (ds[j] != 1) e = fmt::format("(b / {})", ds[j]);
    if (j > 0) e = fmt::format("({} % {})", e, batch[j]);
    coords.push_back(batch[j] == 1 ? "0" : e);
  }
  coords.push_back("r");
  coords.push_back("c");
  std::string cond;
  std::string idx = index_at(w, v, coords, &cond, "q");
  if (cond.empty()) w.line("return pc.in{}.v[{}];", input, idx);
  else w.line("return ({}) ? pc.in{}.v[{}] : 0.0;", cond, input, idx);
  w.close();
}

/// True when consecutive elements along output axis `axis` of `v` are adjacent in memory.
bool unit_stride(const View& v, int axis) {
  if (v.any_bounds()) return false;
  int64_t base = 0;
  return v.output_strides(&base)[static_cast<size_t>(axis)] == 1;
}

/// Matrix product with fused epilogue. Every output element is one thread's sum over k = 0..K-1
/// in increasing order with fused multiply-adds (`precise`), whatever the tile shapes: results
/// depend only on K, never on the schedule. GPUs: 128x128 tiles staged in shared memory, 256
/// threads of 8x8 outputs, loads arranged along each operand's contiguous axis. CPU devices:
/// no shared memory (slow on lavapipe), 64 threads of 4x4 outputs reading memory directly.
GeneratedKernel matmul(const KernelSpec& k, const Target& t) {
  const Shape& s = k.matmul_shape;
  int r = s.rank();
  int64_t M = s[r - 2], N = s[r - 1], K = k.a_view.output[r - 1];
  Shape batch = s;
  batch = batch.remove_axis(-1).remove_axis(-1);
  int64_t B = batch.element_count();
  bool gpu = !t.cpu;
  int tm = gpu ? 8 : 4, tn = tm, tile = gpu ? 128 : 32, bk = 16;
  int local = gpu ? 256 : 64;
  GeneratedKernel g;
  g.groups_x = static_cast<uint32_t>((N + tile - 1) / tile);
  g.groups_y = static_cast<uint32_t>((M + tile - 1) / tile);
  g.groups_z = static_cast<uint32_t>(std::min<int64_t>(B, 65535));
  GlslWriter w;
  header(w, k, t, local);
  load_function(w, "a", k.a_input, k.a_view, batch);
  load_function(w, "b", k.b_input, k.b_view, batch);
  if (gpu) {
    // [k][m] and [k][n] tiles as vec4 rows (128 floats + 4 padding) for 128-bit shared reads.
    w.line("shared vec4 As[{}][{}];", bk, tile / 4 + 1);
    w.line("shared vec4 Bs[{}][{}];", bk, tile / 4 + 1);
  }
  w.open("void main()");
  w.line("int lid = int(gl_LocalInvocationID.x);");
  w.line("int tx = lid % {0}, ty = lid / {0};", gpu ? 16 : 8);
  w.line("int n0 = int(gl_WorkGroupID.x) * {}, m0 = int(gl_WorkGroupID.y) * {};", tile, tile);
  w.open(fmt::format("for (int b = int(gl_WorkGroupID.z); b < {}; b += {})", B, g.groups_z));
  w.line("precise float acc[{}][{}];", tm, tn);
  w.line("for (int i = 0; i < {}; ++i) for (int j = 0; j < {}; ++j) acc[i][j] = 0.0;", tm, tn);
  // GPUs: thread (tx, ty) owns rows ty*4 + {0..3} and 64 + ty*4 + {0..3}, and the same for
  // columns with tx, so each k step reads two vec4 of A and two of B from shared memory.
  // CPUs: rows ty * 4 + i and columns tx + 8 j, so the SIMD lanes (consecutive tx) read one
  // broadcast A element and consecutive B elements instead of gathering.
  std::string row = gpu ? "m0 + (i >> 2) * 64 + ty * 4 + (i & 3)" : "m0 + ty * 4 + i";
  std::string col = gpu ? "n0 + (j >> 2) * 64 + tx * 4 + (j & 3)" : "n0 + tx + 8 * j";
  if (gpu) {
    bool a_m_fast = !unit_stride(k.a_view, r - 1) && unit_stride(k.a_view, r - 2);
    bool b_k_fast = !unit_stride(k.b_view, r - 1) && unit_stride(k.b_view, r - 2);
    w.open(fmt::format("for (int k0 = 0; k0 < {}; k0 += {})", K, bk));
    // A tile [128 x 16]: 8 elements per thread, consecutive threads along A's contiguous axis.
    w.open("for (int i = 0; i < 8; ++i)");
    if (a_m_fast) w.line("int mm = lid % 128, kk = lid / 128 + 2 * i;");
    else w.line("int mm = lid / 16 + 16 * i, kk = lid % 16;");
    w.line("int m = m0 + mm, kq = k0 + kk;");
    w.line("As[kk][mm >> 2][mm & 3] = (m < {} && kq < {}) ? load_a(b, m, kq) : 0.0;", M, K);
    w.close();
    w.open("for (int i = 0; i < 8; ++i)");
    if (b_k_fast) w.line("int nn = lid / 16 + 16 * i, kk = lid % 16;");
    else w.line("int nn = lid % 128, kk = lid / 128 + 2 * i;");
    w.line("int n = n0 + nn, kq = k0 + kk;");
    w.line("Bs[kk][nn >> 2][nn & 3] = (n < {} && kq < {}) ? load_b(b, kq, n) : 0.0;", N, K);
    w.close();
    w.line("barrier();");
    w.open(fmt::format("for (int kk = 0; kk < {}; ++kk)", bk));
    w.line("vec4 a0 = As[kk][ty], a1 = As[kk][16 + ty], b0 = Bs[kk][tx], b1 = Bs[kk][16 + tx];");
    w.line("float av[8] = float[8](a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w);");
    w.line("float bv[8] = float[8](b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w);");
    w.line("for (int i = 0; i < 8; ++i) for (int j = 0; j < 8; ++j) acc[i][j] = fma(av[i], bv[j], acc[i][j]);");
    w.close();
    w.line("barrier();");
    w.close();
  } else {
    w.open(fmt::format("for (int kq = 0; kq < {}; ++kq)", K));
    w.line("float av[4], bv[4];");
    w.line("for (int i = 0; i < 4; ++i) {{ int m = {}; av[i] = m < {} ? load_a(b, m, kq) : 0.0; }}", row, M);
    w.line("for (int j = 0; j < 4; ++j) {{ int n = {}; bv[j] = n < {} ? load_b(b, kq, n) : 0.0; }}", col, N);
    w.line("for (int i = 0; i < 4; ++i) for (int j = 0; j < 4; ++j) acc[i][j] = fma(av[i], bv[j], acc[i][j]);");
    w.close();
  }
  // Epilogue: the fused per-element ops, once per output element, then the stores.
  w.open(fmt::format("for (int i = 0; i < {}; ++i)", tm));
  w.open(fmt::format("for (int j = 0; j < {}; ++j)", tn));
  w.line("int m = {}, n = {};", row, col);
  w.open(fmt::format("if (m < {} && n < {})", M, N));
  w.line("int l = (b * {} + m) * {} + n;", M, N);
  BodyWriter body(w, k, "l");
  body.set_acc("acc[i][j]");
  body.emit_all();
  for (size_t o = 0; o < k.outputs.size(); ++o) w.line("pc.out{}.v[l] = t{};", o, k.outputs[o].first);
  w.close();
  w.close();
  w.close();
  w.close();
  w.close();
  g.source = w.str();
  return g;
}

/// Float16-input matmul on tensor cores (VK_NV_cooperative_matrix, 16x16x16 fp16 x fp16 + fp32).
/// 64x64 output tiles, BK 32, 128 threads = 4 subgroups of 32, each owning a 32x32 block as 2x2
/// accumulator fragments. Operands are read through their views as float32, rounded to float16
/// into shared memory; the fp32 results go through shared memory to the per-element epilogue.
/// The hardware's summation order inside a fragment product is fixed, so results are
/// deterministic run to run on one device (not bit-identical to the float32 kernel).
GeneratedKernel matmul_coopmat(const KernelSpec& k, const Target& t) {
  const Shape& s = k.matmul_shape;
  int r = s.rank();
  int64_t M = s[r - 2], N = s[r - 1], K = k.a_view.output[r - 1];
  Shape batch = s;
  batch = batch.remove_axis(-1).remove_axis(-1);
  int64_t B = batch.element_count();
  const int tile = 64, bk = 32, sa = bk + 8, sb = tile + 8, sc = tile + 4;  // padded strides
  GeneratedKernel g;
  g.groups_x = static_cast<uint32_t>((N + tile - 1) / tile);
  g.groups_y = static_cast<uint32_t>((M + tile - 1) / tile);
  g.groups_z = static_cast<uint32_t>(std::min<int64_t>(B, 65535));
  GlslWriter w;
  header(w, k, t, 128, false, true);
  load_function(w, "a", k.a_input, k.a_view, batch);
  load_function(w, "b", k.b_input, k.b_view, batch);
  w.line("shared float16_t As[{}];", tile * sa);  // [m][k]
  w.line("shared float16_t Bs[{}];", bk * sb);    // [k][n]
  w.line("shared float Cs[{}];", tile * sc);      // [m][n] results for the epilogue
  w.line("#define FRAG fcoopmatNV<16, gl_ScopeSubgroup, 16, 16>");
  w.line("#define ACC fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>");
  w.open("void main()");
  w.line("int lid = int(gl_LocalInvocationID.x);");
  w.line("int sg = int(gl_SubgroupID), wm = sg / 2, wn = sg % 2;");
  w.line("int n0 = int(gl_WorkGroupID.x) * {}, m0 = int(gl_WorkGroupID.y) * {};", tile, tile);
  w.open(fmt::format("for (int b = int(gl_WorkGroupID.z); b < {}; b += {})", B, g.groups_z));
  w.line("ACC c00 = ACC(0.0), c01 = ACC(0.0), c10 = ACC(0.0), c11 = ACC(0.0);");
  w.open(fmt::format("for (int k0 = 0; k0 < {}; k0 += {})", K, bk));
  w.open(fmt::format("for (int e = lid; e < {}; e += 128)", tile * bk));
  w.line("int mm = e / {0}, kk = e % {0}, m = m0 + mm, kq = k0 + kk;", bk);
  w.line("As[mm * {}u + kk] = float16_t((m < {} && kq < {}) ? load_a(b, m, kq) : 0.0);", sa, M, K);
  w.close();
  w.open(fmt::format("for (int e = lid; e < {}; e += 128)", tile * bk));
  w.line("int kk = e / {0}, nn = e % {0}, n = n0 + nn, kq = k0 + kk;", tile);
  w.line("Bs[kk * {}u + nn] = float16_t((n < {} && kq < {}) ? load_b(b, kq, n) : 0.0);", sb, N, K);
  w.close();
  w.line("barrier();");
  w.open(fmt::format("for (int kk = 0; kk < {}; kk += 16)", bk));
  w.line("FRAG a0, a1, b0, b1;");
  w.line("coopMatLoadNV(a0, As, uint((wm * 32) * {0} + kk), {0}u, false);", sa);
  w.line("coopMatLoadNV(a1, As, uint((wm * 32 + 16) * {0} + kk), {0}u, false);", sa);
  w.line("coopMatLoadNV(b0, Bs, uint(kk * {0} + wn * 32), {0}u, false);", sb);
  w.line("coopMatLoadNV(b1, Bs, uint(kk * {0} + wn * 32 + 16), {0}u, false);", sb);
  w.line("c00 = coopMatMulAddNV(a0, b0, c00);");
  w.line("c01 = coopMatMulAddNV(a0, b1, c01);");
  w.line("c10 = coopMatMulAddNV(a1, b0, c10);");
  w.line("c11 = coopMatMulAddNV(a1, b1, c11);");
  w.close();
  w.line("barrier();");
  w.close();
  w.line("coopMatStoreNV(c00, Cs, uint((wm * 32) * {0} + wn * 32), {0}u, false);", sc);
  w.line("coopMatStoreNV(c01, Cs, uint((wm * 32) * {0} + wn * 32 + 16), {0}u, false);", sc);
  w.line("coopMatStoreNV(c10, Cs, uint((wm * 32 + 16) * {0} + wn * 32), {0}u, false);", sc);
  w.line("coopMatStoreNV(c11, Cs, uint((wm * 32 + 16) * {0} + wn * 32 + 16), {0}u, false);", sc);
  w.line("barrier();");
  w.open(fmt::format("for (int e = lid; e < {}; e += 128)", tile * tile));
  w.line("int mm = e / {0}, nn = e % {0}, m = m0 + mm, n = n0 + nn;", tile);
  w.open(fmt::format("if (m < {} && n < {})", M, N));
  w.line("int l = (b * {} + m) * {} + n;", M, N);
  BodyWriter body(w, k, "l");
  body.set_acc(fmt::format("Cs[mm * {} + nn]", sc));
  body.emit_all();
  for (size_t o = 0; o < k.outputs.size(); ++o) w.line("pc.out{}.v[l] = t{};", o, k.outputs[o].first);
  w.close();
  w.close();
  w.line("barrier();");
  w.close();
  w.close();
  g.source = w.str();
  return g;
}

}  // namespace

GeneratedKernel generate(const KernelSpec& k, const Target& t) {
  GeneratedKernel g = k.type == KernelSpec::Type::Reduce   ? reduce(k, t)
                      : k.type == KernelSpec::Type::MatMul
                          ? (k.fp16_inputs && t.coopmat_nv ? matmul_coopmat(k, t) : matmul(k, t))
                                                           : elementwise(k, t);
  g.push_bytes = static_cast<uint32_t>(8 * (1 + k.inputs.size() + k.outputs.size()));
  return g;
}

}  // namespace descent::codegen
