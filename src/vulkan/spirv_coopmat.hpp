// Rewrites SPIR-V that uses SPV_NV_cooperative_matrix (what Debian 12's glslang 12 can emit) into
// SPV_KHR_cooperative_matrix, the form VK_NV_cooperative_matrix2's workgroup-scope and
// flexible-size matrices need. A word-level pass over a module; it must not change anything else.
#pragma once
#include <cstdint>
#include <vector>

namespace descent::vk {

/// Returns `nv` with every NV cooperative-matrix type and instruction replaced by its KHR
/// equivalent: types gain a Use operand (A, B or accumulator, read from how each type is used by
/// the multiply-adds; a type that is none of them is rejected), loads and stores get a layout
/// constant instead of the column-major flag, the capability and extension are renamed. When any
/// matrix has Workgroup scope the module also declares SPV_NV_cooperative_matrix2 and SPIR-V 1.6.
/// Throws std::runtime_error on a module it cannot rewrite (e.g. A and B operands of one type).
std::vector<uint32_t> nv_coopmat_to_khr(const std::vector<uint32_t>& nv);

}  // namespace descent::vk
