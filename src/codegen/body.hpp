// Internal pieces shared by the GLSL generators (generate.cpp: elementwise and reductions;
// matmul*.cpp: matrix products): the per-element body writer, view index expressions, the kernel
// header. Not part of any public interface; writes GLSL text only, never touches Vulkan.
#pragma once
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "codegen/generate.hpp"
#include "codegen/writer.hpp"
#include "graph/device_checks.hpp"

namespace descent::detail {
std::string_view embedded_shader(std::string_view name);
}

namespace descent::codegen::internal {

using detail::Instr;
using detail::KernelSpec;
using detail::PadMode;
using detail::View;


inline std::string float_literal(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  if (std::isfinite(v) && std::fabs(v) < 1e6f && v == std::floor(v) && !(v == 0 && std::signbit(v)))
    return fmt::format("{}.0", static_cast<int>(v));
  return fmt::format("uintBitsToFloat(0x{:08x}u)", bits);  // exact, whatever the value
}

/// Flat source index of view `v` at output coordinates `c` (GLSL int expressions). For axes that
/// can leave the source, a clamped coordinate is used and, for zero padding, `cond` receives the
/// in-bounds test (empty when the read is always in bounds). Temporaries are named `prefix<i>`.
inline std::string index_at(GlslWriter& w, const View& v, const std::vector<std::string>& c,
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

/// Coordinates on each input axis of view `v` at output coordinates `c` (GLSL int expressions,
/// clamped where the axis can leave the source); `cond` as in index_at.
inline std::vector<std::string> input_coords(GlslWriter& w, const View& v, const std::vector<std::string>& c,
                                             std::string* cond, const std::string& prefix) {
  cond->clear();
  std::vector<std::string> q;
  for (int i = 0; i < v.input.rank(); ++i) {
    std::string ci = fmt::format("{}", v.offset[i]);
    for (int j = 0; j < v.output.rank(); ++j)
      if (v.map[j].input_axis == i && v.output[j] != 1) ci += fmt::format(" + {} * {}", c[j], v.map[j].step);
    std::string name = fmt::format("{}{}", prefix, i);
    w.line("int {} = {};", name, ci);
    if (v.needs_bounds(i)) {
      if (v.pad[i] == PadMode::kZero)
        *cond += fmt::format("{}uint({}) < {}u", cond->empty() ? "" : " && ", name, v.input[i]);
      name = fmt::format("clamp({}, 0, {})", name, v.input[i] - 1);
    }
    q.push_back(name);
  }
  return q;
}

/// Emits the body instructions of one kernel at linear index variable `l`.
class BodyWriter {
 public:
  /// `lane` >= 0: one of four lanes of a vec4 step, whose index is l = 4q + lane; identity loads
  /// then come from the preloaded `vin<K>` vectors, every name gets a `_<lane>` suffix, and lanes
  /// 1-3 reuse what lane 0 (emitted first, in the same scope) computed where it cannot differ.
  BodyWriter(GlslWriter& w, const KernelSpec& k, std::string l, int lane = -1) : BodyWriter(w, k.body, std::move(l), lane) {}
  /// Any instruction list, e.g. a matmul operand's prologue.
  BodyWriter(GlslWriter& w, const std::vector<Instr>& body, std::string l, int lane = -1)
      : w_(w), body_(body), l_(std::move(l)), lane_(lane), sfx_(lane >= 0 ? fmt::format("_{}", lane) : "") {}

  /// CPU devices: zero-padded reads become an unconditional load of the clamped (always valid)
  /// address followed by a select, so no branch surrounds the load (lavapipe runs every memory
  /// access inside control flow through a slower masked path). Same values either way.
  void set_branch_free_loads(bool on) { branch_free_ = on; }
  /// Outside lane mode: a suffix for every declared name, so two bodies can share one scope.
  void set_name_suffix(std::string sfx) {
    if (lane_ < 0) sfx_ = std::move(sfx);
  }
  /// The linear index is l = q * n + c with `c` a compile-time constant in [0, n) (a matmul
  /// output column): coordinates whose axis lies within the last n elements become constants,
  /// and the rest are computed from q alone, so reads that depend only on the column (a bias)
  /// have constant addresses.
  void set_split(std::string q, int64_t n, int64_t c) {
    split_q_ = std::move(q);
    split_n_ = n;
    split_c_ = c;
  }
  /// Name prefix of the preloaded identity vectors (lane mode), "vin" by default.
  void set_vector_prefix(std::string p) { vin_ = std::move(p); }

  void set_acc(std::string acc) { acc_ = std::move(acc); }  // matmul epilogue: the product
  /// Coordinate j of shape s is the GLSL expression `name` instead of one derived from l.
  void preset_coord(const Shape& s, int j, std::string name) { coords_[std::make_pair(s.str(), j)] = std::move(name); }

  void emit_all() {
    for (size_t i = 0; i < body_.size(); ++i) emit(static_cast<int>(i));
  }

 private:
  std::string coord(const Shape& s, int j) {
    auto key = std::make_pair(s.str(), j);
    auto it = coords_.find(key);
    if (it != coords_.end()) return it->second;
    auto ds = s.strides();
    int id = shape_id(s);
    if (lane_ > 0 && ds[j] % 4 == 0) {
      // (4q + lane) / ds == 4q / ds when 4 divides ds: lane 0's coordinate.
      std::string name = fmt::format("c{}_{}_0", id, j);
      coords_[key] = name;
      return name;
    }
    std::string e = l_;
    if (lane_ > 0 && ds[j] == 1 && s[j] % 4 == 0) e = fmt::format("c{}_{}_0 + {}", id, j, lane_);
    else if (split_n_ > 0 && split_n_ % (ds[j] * s[j]) == 0) {
      e = fmt::format("{}", (split_c_ / ds[j]) % s[j]);  // inside one output row: a constant
    } else if (split_n_ > 0 && ds[j] % split_n_ == 0) {
      e = split_q_;
      if (ds[j] != split_n_) e = fmt::format("({} / {})", e, ds[j] / split_n_);
      if (j > 0) e = fmt::format("({} % {})", e, s[j]);
    } else {
      if (ds[j] != 1) e = fmt::format("({} / {})", e, ds[j]);
      if (j > 0) e = fmt::format("({} % {})", e, s[j]);
    }
    std::string name = fmt::format("c{}_{}{}", id, j, sfx_);
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
    const Instr& in = body_[i];
    std::string cond;
    std::string value;
    switch (in.kind) {
      case Instr::Kind::Load:
        if (lane_ >= 0 && in.view.is_identity()) {
          value = fmt::format("{}{}[{}]", vin_, in.input, lane_);
        } else if (lane_ >= 0 && lane_contiguous(in.view)) {
          // The four lanes read four consecutive source elements under one bounds test: lane 0
          // names its index and test, the others add their lane number.
          bool pairs = branch_free_ && pair_aligned(in.view);
          if (lane_ == 0) {
            std::string idx = index(in.view, &cond);
            w_.line("int x{}_idx = {};", i, idx);
            if (!cond.empty()) w_.line("bool x{}_ok = {};", i, cond);
            // CPU: the four values as two 64-bit words (x{i}_idx is even, see pair_aligned).
            for (int h = 0; pairs && h < 2; ++h)
              w_.line("vec2 x{0}_{1} = uintBitsToFloat(unpackUint2x32(DescentIn8(uint64_t(pc.in{2})).v[(x{0}_idx >> 1) + {1}]));",
                      i, h, in.input);
          }
          cond = never_zero_padded(in.view) ? "" : fmt::format("x{}_ok", i);
          value = pairs ? fmt::format("x{}_{}.{}", i, lane_ / 2, lane_ % 2 == 0 ? "x" : "y")
                        : fmt::format("pc.in{}.v[x{}_idx + {}]", in.input, i, lane_);
        } else {
          value = fmt::format("pc.in{}.v[{}]", in.input, index(in.view, &cond));
        }
        if (branch_free_ && !cond.empty()) {
          w_.line("float r{}{} = {};", i, sfx_, value);
          value = fmt::format("r{}{}", i, sfx_);
        }
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
        // The clamp is a min() outside the branch, so only the (rare) flag write is conditional
        // and the gathered read needs no value merged from control flow.
        w_.line("uint {} = floatBitsToUint(t{}{});", gi, in.a, sfx_);
        w_.line("if ({} >= {}u) descent_fail(0u, {}u, pc.run);", gi, extent, detail::kGatherCheckBit);
        w_.line("{0} = min({0}, {1}u);", gi, extent - 1);
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

  /// At four consecutive output elements from a multiple of 4, `v` reads four consecutive source
  /// elements under one bounds test: the last output axis (extent a multiple of 4) walks the
  /// dense innermost source axis with step 1, and that axis never leaves the source.
  static bool lane_contiguous(const View& v) {
    const int r = v.output.rank();
    if (r == 0 || v.output[r - 1] % 4 != 0) return false;
    const detail::AxisMap& m = v.map[static_cast<size_t>(r - 1)];
    if (m.input_axis < 0 || m.step != 1 || v.needs_bounds(m.input_axis)) return false;
    return v.input.strides()[static_cast<size_t>(m.input_axis)] == 1;
  }
  /// For a lane_contiguous view: lane 0's source index is always even (so the four values are two
  /// aligned 64-bit words): every term of the flat index other than the lane axis is even.
  static bool pair_aligned(const View& v) {
    const int r = v.output.rank();
    const int a = v.map[static_cast<size_t>(r - 1)].input_axis;
    auto in_st = v.input.strides();
    for (int i = 0; i < v.input.rank(); ++i) {
      if (v.input[i] == 1 || i == a) continue;
      if (in_st[static_cast<size_t>(i)] % 2 != 0) return false;
    }
    if (v.offset[static_cast<size_t>(a)] % 2 != 0) return false;
    for (int j = 0; j + 1 < r; ++j)
      if (v.map[static_cast<size_t>(j)].input_axis == a && v.output[j] > 1 &&
          v.map[static_cast<size_t>(j)].step % 2 != 0)
        return false;
    return true;
  }
  /// No read of `v` can land in zero padding (index_at then returns no bounds test).
  static bool never_zero_padded(const View& v) {
    for (int a = 0; a < v.input.rank(); ++a)
      if (v.needs_bounds(a) && v.pad[static_cast<size_t>(a)] == PadMode::kZero) return false;
    return true;
  }

  GlslWriter& w_;
  const std::vector<Instr>& body_;
  std::string l_;
  int lane_;
  std::string sfx_;
  std::string acc_;
  std::map<std::pair<std::string, int>, std::string> coords_;
  std::vector<std::string> shapes_;
  int pad_count_ = 0;
  bool branch_free_ = false;
  std::string vin_ = "vin";
  std::string split_q_;
  int64_t split_n_ = 0, split_c_ = 0;
};

inline void header(GlslWriter& w, const KernelSpec& k, const Target& t, int local_size, bool subgroup = false,
            bool coopmat = false, const char* extension = nullptr, bool broadcast = false) {
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
  if (broadcast) w.line("#extension GL_KHR_shader_subgroup_ballot : require");
  if (coopmat) {
    w.line("#extension GL_NV_cooperative_matrix : require");
    w.line("#extension GL_KHR_memory_scope_semantics : require");
    w.line("#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require");
    w.line("#extension GL_KHR_shader_subgroup_basic : require");
  }
  if (extension) w.line("#extension {} : require", extension);
  w.line("// descent kernel: {}", k.label);
  w.raw(std::string(detail::embedded_shader("common.glsl")));
  w.line("layout(local_size_x = {}) in;", local_size);
  std::string push = "DescentRunInfo run;";
  for (size_t i = 0; i < k.inputs.size(); ++i) push += fmt::format(" DescentIn in{};", i);
  for (size_t i = 0; i < k.outputs.size(); ++i) push += fmt::format(" DescentOut out{};", i);
  w.line("layout(push_constant) uniform Push {{ {} }} pc;", push);
}

/// Whether a CPU kernel stores pairs of adjacent outputs as one 64-bit word rather than two 32-bit
/// ones. Measured on lavapipe with the conv-net's kernels (same process, alternating builds): 64-bit
/// stores win by 15-30% for kernels writing two outputs or reading one input (copies), and lose by
/// 25-30% for single-output kernels reading three inputs; other kernels do not care.
inline bool pair_stores(const KernelSpec& k) { return k.outputs.size() >= 2 || k.inputs.size() <= 1; }

/// Every output store of a kernel at linear index `l`: output o takes the body's register t<r>
/// (after BodyWriter::emit_all in the same scope).
inline void store_outputs(GlslWriter& w, const KernelSpec& k, const std::string& l) {
  for (size_t o = 0; o < k.outputs.size(); ++o) w.line("pc.out{}.v[{}] = t{};", o, l, k.outputs[o].first);
}

inline uint32_t groups_for(int64_t items, int64_t per_group, uint32_t max_groups) {
  int64_t g = (items + per_group - 1) / per_group;
  return static_cast<uint32_t>(std::clamp<int64_t>(g, 1, std::min<int64_t>(max_groups, 65535)));
}

// CPU-device (lavapipe) shapes of elementwise and reduction kernels (cpu_kernels.cpp): false when
// the kernel does not fit them and the generic generator should run.
bool elementwise_cpu(const KernelSpec& k, const Target& t, GeneratedKernel& g);
bool reduce_cpu(const KernelSpec& k, const Target& t, GeneratedKernel& g);

}  // namespace descent::codegen::internal
