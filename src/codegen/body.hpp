// Internal pieces shared by the GLSL generators (generate.cpp: elementwise and reductions;
// matmul*.cpp: matrix products): the per-element body writer, view index expressions, the kernel
// header. Not part of any public interface; writes GLSL text only, never touches Vulkan.
#pragma once
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "codegen/generate.hpp"
#include "codegen/writer.hpp"

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

inline void header(GlslWriter& w, const KernelSpec& k, const Target& t, int local_size, bool subgroup = false,
            bool coopmat = false, const char* extension = nullptr) {
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
  if (extension) w.line("#extension {} : require", extension);
  w.line("// descent kernel: {}", k.label);
  w.raw(std::string(detail::embedded_shader("common.glsl")));
  w.line("layout(local_size_x = {}) in;", local_size);
  std::string push = "DescentRunInfo run;";
  for (size_t i = 0; i < k.inputs.size(); ++i) push += fmt::format(" DescentIn in{};", i);
  for (size_t i = 0; i < k.outputs.size(); ++i) push += fmt::format(" DescentOut out{};", i);
  w.line("layout(push_constant) uniform Push {{ {} }} pc;", push);
}

inline uint32_t groups_for(int64_t items, int64_t per_group, uint32_t max_groups) {
  int64_t g = (items + per_group - 1) / per_group;
  return static_cast<uint32_t>(std::clamp<int64_t>(g, 1, std::min<int64_t>(max_groups, 65535)));
}

}  // namespace descent::codegen::internal
