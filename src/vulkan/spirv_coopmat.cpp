// NV -> KHR cooperative-matrix SPIR-V rewrite (see spirv_coopmat.hpp). Opcode and enum values are
// those of the SPIR-V registry; glslang 12's spirv.hpp supplies the NV ones and the table of
// which opcodes have result types. Touches only cooperative-matrix words (plus, for
// tensor-addressed loads, the address arithmetic and tensor layouts each load needs).
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
// SPV_NV_cooperative_matrix2 / SPV_NV_tensor_addressing (glslang 12 predates both).
constexpr uint32_t kOpLoadTensorNv = 5367, kOpTypeTensorLayoutNv = 5370, kOpTypeTensorViewNv = 5371,
                   kOpCreateTensorLayoutNv = 5372, kOpTensorLayoutSetDimensionNv = 5373,
                   kOpTensorLayoutSliceNv = 5375, kOpCreateTensorViewNv = 5377,
                   kCapCoopMatTensorAddressingNv = 5433, kCapTensorAddressingNv = 5439;
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

/// Writes the tensor-addressed form of the NV load `w` (rt id pointer stride colmajor [access]):
/// the slice [row, row + span0) x [col, col + span1) of the 2D tensor `t`, where row and column
/// come from the pointer's last access-chain index, read through a transposing view when the
/// load was column-major (the slice is then the matrix's columns x rows in memory).
template <class Constant>
void emit_tensor_load(std::vector<uint32_t>& out, uint32_t& bound, const std::vector<uint32_t>& in, const uint32_t* w,
                      const std::unordered_map<uint32_t, uint32_t>& access_chain_at,
                      const std::unordered_map<uint32_t, uint32_t>& type_of, uint32_t uint_type, const TensorLoad& t,
                      const std::map<uint32_t, uint32_t>& uint_id, std::pair<uint32_t, uint32_t> dims,
                      const Constant& constant, bool col_major, uint32_t layout_type, uint32_t view_type,
                      uint32_t undef) {
  auto chain = access_chain_at.find(w[3]);
  if (chain == access_chain_at.end()) fail("tensor-addressed load whose pointer is not an access chain");
  const uint32_t* ac = &in[chain->second];
  const uint32_t ac_wc = ac[0] >> 16;
  if (ac_wc < 5) fail("tensor-addressed load through an access chain without an index");
  const uint32_t offset = ac[ac_wc - 1];
  if (t.cols % t.per_index != 0 || constant(w[4]) * t.per_index != t.cols)
    fail("tensor-addressed load whose stride is not the tensor's row length");
  // The array's first element: the same chain with the last index 0.
  const uint32_t base = bound++;
  const size_t at = out.size();
  out.push_back((ac_wc << 16) | spv::OpAccessChain);
  out.insert(out.end(), ac + 1, ac + ac_wc - 1);  // result type, id, base, all indices but the last
  out[at + 2] = base;
  out.push_back(uint_id.at(0));
  uint32_t flat = offset;
  if (type_of.at(offset) != uint_type) {
    flat = bound++;
    out.insert(out.end(), {(4u << 16) | spv::OpBitcast, uint_type, flat, offset});
  }
  if (t.per_index != 1) {
    const uint32_t scaled = bound++;
    out.insert(out.end(), {(5u << 16) | spv::OpIMul, uint_type, scaled, flat, uint_id.at(t.per_index)});
    flat = scaled;
  }
  const uint32_t row = bound++, col = bound++, l0 = bound++, l1 = bound++, l2 = bound++;
  out.insert(out.end(), {(5u << 16) | spv::OpUDiv, uint_type, row, flat, uint_id.at(t.cols)});
  out.insert(out.end(), {(5u << 16) | spv::OpUMod, uint_type, col, flat, uint_id.at(t.cols)});
  uint32_t span0 = uint_id.at(constant(dims.first)), span1 = uint_id.at(constant(dims.second));
  if (col_major) std::swap(span0, span1);
  out.insert(out.end(), {(3u << 16) | kOpCreateTensorLayoutNv, layout_type, l0});
  out.insert(out.end(), {(6u << 16) | kOpTensorLayoutSetDimensionNv, layout_type, l1, l0, uint_id.at(t.rows),
                         uint_id.at(t.cols)});
  out.insert(out.end(), {(8u << 16) | kOpTensorLayoutSliceNv, layout_type, l2, l1, row, span0, col, span1});
  uint32_t view = 0;
  if (col_major) {
    view = bound++;
    out.insert(out.end(), {(3u << 16) | kOpCreateTensorViewNv, view_type, view});
  }
  const uint32_t wc = w[0] >> 16;
  std::vector<uint32_t> memory(w + 6, w + wc);
  if (memory.empty()) memory.push_back(0);  // None
  std::vector<uint32_t> addressing = col_major ? std::vector<uint32_t>{1u, view} : std::vector<uint32_t>{0u};
  const uint32_t words = static_cast<uint32_t>(6 + memory.size() + addressing.size());
  out.insert(out.end(), {(words << 16) | kOpLoadTensorNv, w[1], w[2], base, undef, l2});
  out.insert(out.end(), memory.begin(), memory.end());
  out.insert(out.end(), addressing.begin(), addressing.end());
}

}  // namespace

std::vector<uint32_t> nv_coopmat_to_khr(const std::vector<uint32_t>& in, const std::vector<TensorLoad>& tensor_loads) {
  if (in.size() < 5 || in[0] != spv::MagicNumber) fail("not a SPIR-V module");
  const size_t n = in.size();
  const bool tensor = !tensor_loads.empty();
  // Pass 1: result types, 32-bit integer and bool constants, NV matrix types (and their shapes),
  // access chains, and how multiply-adds use the matrix types.
  std::unordered_map<uint32_t, uint32_t> type_of, int_value, access_chain_at;
  std::unordered_map<uint32_t, bool> bool_value;
  std::set<uint32_t> int_types;
  std::map<uint32_t, int> use;  // NV type id -> 0 A, 1 B, 2 accumulator
  std::map<uint32_t, std::pair<uint32_t, uint32_t>> nv_types;  // id -> (rows id, cols id)
  std::vector<size_t> muladds;
  uint32_t uint_type = 0, bool_type = 0;
  size_t loads = 0;
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
    if (op == spv::OpTypeBool) bool_type = in[i + 1];
    if (op == spv::OpConstantTrue) bool_value[in[i + 2]] = true;
    if (op == spv::OpConstantFalse) bool_value[in[i + 2]] = false;
    if (op == spv::OpConstant && wc == 4 && int_types.count(in[i + 1])) int_value[in[i + 2]] = in[i + 3];
    if (op == spv::OpAccessChain || op == spv::OpInBoundsAccessChain) access_chain_at[in[i + 2]] = static_cast<uint32_t>(i);
    if (op == spv::OpTypeCooperativeMatrixNV) {
      nv_types[in[i + 1]] = {in[i + 4], in[i + 5]};
      auto s = int_value.find(in[i + 3]);
      workgroup |= s != int_value.end() && s->second == kScopeWorkgroup;
    }
    if (op == spv::OpCooperativeMatrixMulAddNV) muladds.push_back(i);
    if (op == spv::OpCooperativeMatrixLoadNV) ++loads;
    i += wc;
  }
  if (nv_types.empty()) return in;
  if (uint_type == 0) fail("no 32-bit unsigned integer type");
  if (tensor && loads != tensor_loads.size())
    fail("tensor-addressed loads: " + std::to_string(tensor_loads.size()) + " descriptions for " +
         std::to_string(loads) + " loads");
  if (tensor && bool_type == 0) fail("no bool type");
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
  for (auto& [type, dims] : nv_types)
    if (!use.count(type)) fail("a matrix type is never multiplied, so its use is unknown");
  auto constant = [&](uint32_t id) {
    auto v = int_value.find(id);
    if (v == int_value.end()) fail("matrix shape or stride is not a 32-bit integer constant");
    return v->second;
  };

  // Pass 2: rewrite. Fresh constants (uses, layouts, tensor shapes) go right before the first
  // matrix type (existing ones may be declared after it; duplicate constants are valid SPIR-V),
  // the tensor layout and view types right before the first function.
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
  uint32_t layout_type = 0, view_type = 0;
  std::vector<uint32_t> tensor_types;
  if (tensor) {  // 2D row-major layouts, out-of-bounds undefined; a view that swaps the two axes
    for (const TensorLoad& t : tensor_loads) {
      if (t.rows == 0 || t.cols == 0 || t.per_index == 0) fail("tensor-addressed load with an empty shape");
      uint_const(t.rows), uint_const(t.cols), uint_const(t.per_index);
    }
    for (auto& [type, dims] : nv_types) uint_const(constant(dims.first)), uint_const(constant(dims.second));
    // These go right before the first function: the bool type may be declared after the matrices.
    const uint32_t no_dims = bound++;
    layout_type = bound++, view_type = bound++;
    tensor_types = {(3u << 16) | spv::OpConstantFalse, bool_type, no_dims,
                    (4u << 16) | kOpTypeTensorLayoutNv, layout_type, uint_id[2], uint_id[0],
                    (6u << 16) | kOpTypeTensorViewNv, view_type, uint_id[2], no_dims, uint_id[1], uint_id[0]};
  }
  auto layout_of = [&](uint32_t col_major_id) {
    auto b = bool_value.find(col_major_id);
    if (b == bool_value.end()) fail("column-major flag is not a constant");
    return b->second;
  };
  std::map<uint32_t, uint32_t> undef_of;  // matrix type -> OpUndef id (initial value of tensor loads)
  size_t load_index = 0;
  for (size_t i = 5; i < n;) {
    const uint32_t op = in[i] & 0xffff, wc = in[i] >> 16;
    const uint32_t* w = &in[i];
    if (op == spv::OpCapability && w[1] == spv::CapabilityCooperativeMatrixNV) {
      out.insert(out.end(), {w[0], kCapCoopMatKhr});
      if (tensor) out.insert(out.end(), {(2u << 16) | spv::OpCapability, kCapCoopMatTensorAddressingNv,
                                         (2u << 16) | spv::OpCapability, kCapTensorAddressingNv});
    } else if (op == spv::OpExtension && decode_string(w + 1, wc - 1) == "SPV_NV_cooperative_matrix") {
      emit_extension(out, "SPV_KHR_cooperative_matrix");
      if (workgroup || tensor) emit_extension(out, "SPV_NV_cooperative_matrix2");
      if (tensor) emit_extension(out, "SPV_NV_tensor_addressing");
    } else if (op == spv::OpTypeCooperativeMatrixNV) {
      out.insert(out.end(), new_constants.begin(), new_constants.end());
      new_constants.clear();
      out.insert(out.end(), {(7u << 16) | kOpTypeCoopMatKhr, w[1], w[2], w[3], w[4], w[5],
                             uint_id.at(static_cast<uint32_t>(use.at(w[1])))});
      if (tensor) out.insert(out.end(), {(3u << 16) | spv::OpUndef, w[1], undef_of[w[1]] = bound++});
    } else if (op == spv::OpFunction && !tensor_types.empty()) {
      out.insert(out.end(), tensor_types.begin(), tensor_types.end());
      tensor_types.clear();
      out.insert(out.end(), w, w + wc);
    } else if (op == spv::OpCooperativeMatrixLoadNV && tensor) {  // rt id pointer stride colmajor [access]
      emit_tensor_load(out, bound, in, w, access_chain_at, type_of, uint_type, tensor_loads[load_index++], uint_id,
                       nv_types.at(w[1]), constant, layout_of(w[5]), layout_type, view_type, undef_of.at(w[1]));
    } else if (op == spv::OpCooperativeMatrixLoadNV) {
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
  if ((workgroup || tensor) && out[1] < 0x00010600u) out[1] = 0x00010600u;  // SPV_NV_cooperative_matrix2 needs 1.6
  return out;
}

}  // namespace descent::vk
