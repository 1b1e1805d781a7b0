// NV -> KHR cooperative-matrix SPIR-V rewrite (see spirv_coopmat.hpp). Opcode and enum values are
// those of the SPIR-V registry; glslang 12's spirv.hpp supplies the NV ones and the table of
// which opcodes have result types. Touches only cooperative-matrix words.
#include "vulkan/spirv_coopmat.hpp"

#define SPV_ENABLE_UTILITY_CODE
#include <glslang/SPIRV/spirv.hpp>

#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <unordered_map>

namespace descent::vk {
namespace {

constexpr uint32_t kOpTypeCoopMatKhr = 4456, kOpCoopMatLoadKhr = 4457, kOpCoopMatStoreKhr = 4458,
                   kOpCoopMatMulAddKhr = 4459, kOpCoopMatLengthKhr = 4460, kCapCoopMatKhr = 6022;
constexpr uint32_t kScopeWorkgroup = 2;

std::string decode_string(const uint32_t* w, size_t words) {
  std::string s;
  for (size_t i = 0; i < words; ++i)
    for (int b = 0; b < 4; ++b) {
      char c = static_cast<char>((w[i] >> (8 * b)) & 0xff);
      if (c == 0) return s;
      s += c;
    }
  return s;
}

void emit_extension(std::vector<uint32_t>& out, const std::string& name) {
  std::vector<uint32_t> words((name.size() + 4) / 4, 0);
  for (size_t i = 0; i < name.size(); ++i) words[i / 4] |= static_cast<uint32_t>(static_cast<uint8_t>(name[i])) << (8 * (i % 4));
  out.push_back(static_cast<uint32_t>((words.size() + 1) << 16) | spv::OpExtension);
  out.insert(out.end(), words.begin(), words.end());
}

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error("cooperative-matrix SPIR-V rewrite: " + what);
}

}  // namespace

std::vector<uint32_t> nv_coopmat_to_khr(const std::vector<uint32_t>& in) {
  if (in.size() < 5 || in[0] != spv::MagicNumber) fail("not a SPIR-V module");
  const size_t n = in.size();
  // Pass 1: result types, 32-bit integer and bool constants, NV matrix types, and how
  // multiply-adds use the matrix types.
  std::unordered_map<uint32_t, uint32_t> type_of, int_value;
  std::unordered_map<uint32_t, bool> bool_value;
  std::set<uint32_t> int_types;
  std::map<uint32_t, int> use;  // NV type id -> 0 A, 1 B, 2 accumulator
  std::set<uint32_t> nv_types;
  std::vector<size_t> muladds;
  uint32_t uint_type = 0;
  bool workgroup = false;
  for (size_t i = 5; i < n;) {
    const uint32_t op = in[i] & 0xffff, wc = in[i] >> 16;
    if (wc == 0 || i + wc > n) fail("malformed instruction");
    bool has_result = false, has_type = false;
    spv::HasResultAndType(static_cast<spv::Op>(op), &has_result, &has_type);
    if (has_result && has_type) type_of[in[i + 2]] = in[i + 1];
    if (op == spv::OpTypeInt && in[i + 2] == 32) {
      int_types.insert(in[i + 1]);
      if (in[i + 3] == 0) uint_type = in[i + 1];
    }
    if (op == spv::OpConstantTrue) bool_value[in[i + 2]] = true;
    if (op == spv::OpConstantFalse) bool_value[in[i + 2]] = false;
    if (op == spv::OpConstant && wc == 4 && int_types.count(in[i + 1])) int_value[in[i + 2]] = in[i + 3];
    if (op == spv::OpTypeCooperativeMatrixNV) {
      nv_types.insert(in[i + 1]);
      auto s = int_value.find(in[i + 3]);
      workgroup |= s != int_value.end() && s->second == kScopeWorkgroup;
    }
    if (op == spv::OpCooperativeMatrixMulAddNV) muladds.push_back(i);
    i += wc;
  }
  if (nv_types.empty()) return in;
  if (uint_type == 0) fail("no 32-bit unsigned integer type");
  auto set_use = [&](uint32_t type, int u) {
    auto [it, fresh] = use.emplace(type, u);
    if (!fresh && it->second != u)
      fail("one matrix type is used as two different operands (A, B, accumulator); give each its own shape");
  };
  for (size_t i : muladds) {
    set_use(type_of.at(in[i + 3]), 0);
    set_use(type_of.at(in[i + 4]), 1);
    set_use(in[i + 1], 2);
    set_use(type_of.at(in[i + 5]), 2);
  }
  for (uint32_t type : nv_types)
    if (!use.count(type)) fail("a matrix type is never multiplied, so its use is unknown");

  // Pass 2: rewrite. Fresh constants (uses, layouts) go right before the first matrix type
  // (existing ones may be declared after it; duplicate constants are valid SPIR-V).
  std::vector<uint32_t> out(in.begin(), in.begin() + 5);
  uint32_t bound = in[3];
  std::vector<uint32_t> new_constants;
  std::map<uint32_t, uint32_t> uint_id;  // value -> the new constant's id
  auto uint_const = [&](uint32_t v) {
    auto [it, fresh] = uint_id.emplace(v, 0);
    if (fresh) {
      it->second = bound++;
      new_constants.insert(new_constants.end(), {(4u << 16) | spv::OpConstant, uint_type, it->second, v});
    }
    return it->second;
  };
  for (uint32_t v : {0u, 1u, 2u}) uint_const(v);
  auto layout_of = [&](uint32_t col_major_id) {
    auto b = bool_value.find(col_major_id);
    if (b == bool_value.end()) fail("column-major flag is not a constant");
    return b->second;
  };
  for (size_t i = 5; i < n;) {
    const uint32_t op = in[i] & 0xffff, wc = in[i] >> 16;
    const uint32_t* w = &in[i];
    if (op == spv::OpCapability && w[1] == spv::CapabilityCooperativeMatrixNV) {
      out.insert(out.end(), {w[0], kCapCoopMatKhr});
    } else if (op == spv::OpExtension && decode_string(w + 1, wc - 1) == "SPV_NV_cooperative_matrix") {
      emit_extension(out, "SPV_KHR_cooperative_matrix");
      if (workgroup) emit_extension(out, "SPV_NV_cooperative_matrix2");
    } else if (op == spv::OpTypeCooperativeMatrixNV) {
      out.insert(out.end(), new_constants.begin(), new_constants.end());
      new_constants.clear();
      out.insert(out.end(), {(7u << 16) | kOpTypeCoopMatKhr, w[1], w[2], w[3], w[4], w[5],
                             uint_id.at(static_cast<uint32_t>(use.at(w[1])))});
    } else if (op == spv::OpCooperativeMatrixLoadNV) {  // rt id pointer stride colmajor [access]
      out.insert(out.end(), {(wc << 16) | kOpCoopMatLoadKhr, w[1], w[2], w[3], uint_id[layout_of(w[5]) ? 1 : 0], w[4]});
      out.insert(out.end(), w + 6, w + wc);
    } else if (op == spv::OpCooperativeMatrixStoreNV) {  // pointer object stride colmajor [access]
      out.insert(out.end(), {(wc << 16) | kOpCoopMatStoreKhr, w[1], w[2], uint_id[layout_of(w[4]) ? 1 : 0], w[3]});
      out.insert(out.end(), w + 5, w + wc);
    } else if (op == spv::OpCooperativeMatrixMulAddNV || op == spv::OpCooperativeMatrixLengthNV) {
      out.push_back((wc << 16) | (op == spv::OpCooperativeMatrixMulAddNV ? kOpCoopMatMulAddKhr : kOpCoopMatLengthKhr));
      out.insert(out.end(), w + 1, w + wc);
    } else {
      out.insert(out.end(), w, w + wc);
    }
    i += wc;
  }
  out[3] = bound;
  if (workgroup && out[1] < 0x00010600u) out[1] = 0x00010600u;  // SPV_NV_cooperative_matrix2 needs 1.6
  return out;
}

}  // namespace descent::vk
