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
///
/// With `tensor_loads` (one entry per load, in module order) every load instead becomes a
/// tensor-addressed load (SPV_NV_tensor_addressing, OpCooperativeMatrixLoadTensorNV) of a slice
/// of the 2D row-major tensor the entry describes: the load's pointer must be an access chain
/// whose last index is the element offset; that offset (times `per_index`) is split into the
/// slice's row and column, the pointer becomes the array's first element, and a column-major load
/// reads the slice through a transposing tensor view. Same values, other hardware paths.
struct TensorLoad {
  uint32_t rows = 0, cols = 0;  // the tensor's shape in matrix elements (row-major, no padding)
  uint32_t per_index = 1;       // matrix elements per array element of the load's pointer
};
std::vector<uint32_t> nv_coopmat_to_khr(const std::vector<uint32_t>& nv,
                                        const std::vector<TensorLoad>& tensor_loads = {});

}  // namespace descent::vk
