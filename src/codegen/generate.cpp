// Generates GLSL for elementwise and reduction kernels. All shapes, strides and literals are baked
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
  if (v == static_cast<float>(static_cast<int>(v)) && std::abs(v) < 1e6f && !(v == 0 && std::signbit(v)))
    return fmt::format("{}.0", static_cast<int>(v));
  return fmt::format("uintBitsToFloat(0x{:08x}u)", bits);  // exact, whatever the value
}

/// Emits the body instructions of one kernel at linear index variable `l`.
class BodyWriter {
 public:
  BodyWriter(GlslWriter& w, const KernelSpec& k, std::string l) : w_(w), k_(k), l_(std::move(l)) {}

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
    std::string name = fmt::format("c{}_{}", shape_id(s), j);
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
    if (!v.any_bounds()) {
      int64_t base = 0;
      auto st = v.output_strides(&base);
      std::string e = fmt::format("{}", base);
      for (int j = 0; j < v.output.rank(); ++j)
        if (st[j] != 0 && v.output[j] != 1) e += fmt::format(" + {} * {}", coord(v.output, j), st[j]);
      return e;
    }
    auto in_st = v.input.strides();
    std::string flat = "0";
    for (int i = 0; i < v.input.rank(); ++i) {
      std::string c = fmt::format("{}", v.offset[i]);
      for (int j = 0; j < v.output.rank(); ++j)
        if (v.map[j].input_axis == i && v.output[j] != 1) c += fmt::format(" + {} * {}", coord(v.output, j), v.map[j].step);
      if (v.needs_bounds(i)) {
        std::string name = fmt::format("p{}", pad_count_++);
        w_.line("int {} = {};", name, c);
        if (v.pad[i] == PadMode::kZero)
          *cond += fmt::format("{}uint({}) < {}u", cond->empty() ? "" : " && ", name, v.input[i]);
        c = fmt::format("clamp({}, 0, {})", name, v.input[i] - 1);
      } else {
        c = "(" + c + ")";
      }
      if (in_st[i] != 0 && v.input[i] != 1) flat += fmt::format(" + {} * {}", c, in_st[i]);
    }
    return flat;
  }

  void emit(int i) {
    const Instr& in = k_.body[i];
    std::string cond;
    std::string value;
    switch (in.kind) {
      case Instr::Kind::Load:
        value = fmt::format("pc.in{}.v[{}]", in.input, index(in.view, &cond));
        break;
      case Instr::Kind::Literal:
        if (in.view.any_bounds()) index(in.view, &cond);
        value = float_literal(in.literal);
        break;
      case Instr::Kind::Coord:
        value = fmt::format("float({})", index(in.view, &cond));
        break;
      case Instr::Kind::Rand:
        value = fmt::format("descent_rand(pc.run.seed, {}u, uint({}))", in.uid, index(in.view, &cond));
        break;
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
              r += fmt::format("t{}", operand);
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
    w_.line("precise float t{} = {};", i, value);
  }

  GlslWriter& w_;
  const KernelSpec& k_;
  std::string l_;
  std::map<std::pair<std::string, int>, std::string> coords_;
  std::vector<std::string> shapes_;
  int pad_count_ = 0;
};

void header(GlslWriter& w, const KernelSpec& k, int local_size) {
  w.line("#version 460");
  w.line("#extension GL_EXT_buffer_reference : require");
  w.line("#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require");
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
  header(w, k, local);
  w.open("void main()");
  w.open(fmt::format("for (int l = int(gl_GlobalInvocationID.x); l < {}; l += {})", k.count,
                     int64_t{g.groups_x} * local));
  BodyWriter(w, k, "l").emit_all();
  for (size_t o = 0; o < k.outputs.size(); ++o) w.line("pc.out{}.v[l] = t{};", o, k.outputs[o].first);
  w.close();
  w.close();
  g.source = w.str();
  return g;
}

/// Threads that cooperate on one reduced row: 1 on CPUs and for strided (column) reductions,
/// otherwise a power of two that gives each thread about 8 elements, at most 256.
int reduce_threads(const KernelSpec& k, int64_t inner, const Target& t) {
  if (t.reduce_threads > 0) return t.reduce_threads;
  if (t.cpu || inner != 1) return 1;
  int64_t len = k.reduce_input[k.axis];
  int th = 1;
  while (th < 256 && th * 8 < len) th *= 2;
  return th;
}

GeneratedKernel reduce(const KernelSpec& k, const Target& t) {
  const Shape& s = k.reduce_input;
  int64_t len = s[k.axis], inner = 1;
  for (int j = k.axis + 1; j < s.rank(); ++j) inner *= s[j];
  int th = reduce_threads(k, inner, t);
  int local = std::max(64, th);
  int rows = local / th;  // outputs per workgroup (per grid-stride step)
  bool is_max = k.reduce_op == detail::Op::ReduceMax;
  std::string init = is_max ? "uintBitsToFloat(0xff800000u)" : "0.0";  // -inf for max
  auto combine = [&](const std::string& acc, const std::string& v) {
    return is_max ? fmt::format("({1} > {0} ? {1} : {0})", acc, v) : fmt::format("{} + {}", acc, v);
  };
  GeneratedKernel g;
  g.groups_x = groups_for(k.count, rows, t.max_groups_x);
  GlslWriter w;
  header(w, k, local);
  if (th > 1) w.line("shared float partial[{}];", local);
  w.open("void main()");
  w.line("int lid = int(gl_LocalInvocationID.x);");
  w.open(fmt::format("for (int m0 = int(gl_WorkGroupID.x) * {}; m0 < {}; m0 += {})", rows, k.count,
                     int64_t{g.groups_x} * rows));
  w.line("int m = m0 + lid / {};", th);
  w.line("int tr = lid % {};", th);
  w.line("precise float acc = {};", init);
  w.open(fmt::format("if (m < {})", k.count));
  w.line("int outer = m / {};", inner);
  w.line("int inner = m % {};", inner);
  // Fixed order: thread tr sums elements tr, tr+th, tr+2th, ... in increasing order.
  w.open(fmt::format("for (int r = tr; r < {}; r += {})", len, th));
  w.line("int l = (outer * {} + r) * {} + inner;", len, inner);
  BodyWriter(w, k, "l").emit_all();
  w.line("acc = {};", combine("acc", fmt::format("t{}", k.value)));
  w.close();
  w.close();
  if (th > 1) {
    // Fixed pairwise tree over the th partial results of a row (deterministic order).
    w.line("partial[lid] = acc;");
    w.line("barrier();");
    for (int step = th / 2; step >= 1; step /= 2) {
      w.open(fmt::format("if (tr < {})", step));
      w.line("precise float other = partial[lid + {}];", step);
      w.line("precise float mine = partial[lid];");
      w.line("partial[lid] = {};", combine("mine", "other"));
      w.close();
      w.line("barrier();");
    }
    w.line("if (tr == 0 && m < {}) pc.out0.v[m] = partial[lid];", k.count);
    w.line("barrier();");
  } else {
    w.line("if (m < {}) pc.out0.v[m] = acc;", k.count);
  }
  w.close();
  w.close();
  g.source = w.str();
  return g;
}

}  // namespace

GeneratedKernel generate(const KernelSpec& k, const Target& t) {
  GeneratedKernel g = k.type == KernelSpec::Type::Reduce ? reduce(k, t) : elementwise(k, t);
  g.push_bytes = static_cast<uint32_t>(8 * (1 + k.inputs.size() + k.outputs.size()));
  return g;
}

}  // namespace descent::codegen
