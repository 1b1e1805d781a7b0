// Pieces shared by the matrix-product generators (matmul.cpp: float32 kernels; matmul_narrow.cpp:
// small tiles; matmul_coopmat.cpp: float16 inputs on cooperative matrices; matmul_cpu.cpp: CPU
// devices). Internal to codegen: writes GLSL text only, never touches Vulkan.
#pragma once
#include "codegen/body.hpp"

namespace descent::codegen::internal {

/// Extents of a matmul kernel: output rows M, columns N, inner K, B batches of shape `batch`.
struct MatMulDims {
  int64_t M, N, K, B;
  Shape batch;
};

MatMulDims dims_of(const KernelSpec& k);

/// GLSL expressions for the coordinates of batch index `b` along each axis of `batch`.
std::vector<std::string> batch_coords(const Shape& batch);

/// GLSL function `float load_<name>(int b, int r, int c)`: operand element at batch b, row r,
/// column c, read through its view (zero outside zero padding).
void load_function(GlslWriter& w, const char* name, int input, const View& v, const Shape& batch);

/// GLSL function `int index_<name>(int b, int r, int c)`: flat source index of a view without
/// bounds (see load_function).
void index_function(GlslWriter& w, const char* name, const View& v, const Shape& batch);

/// load_function for operand 0 (A, "load_a") or 1 (B, "load_b") of `k`, including operands
/// computed by a prologue (KernelSpec::a_prologue).
void load_function(GlslWriter& w, const KernelSpec& k, int operand, const Shape& batch);

/// View::unit_stride for an operand of `k`; a computed operand is judged by the buffer its single load
/// reads (sampled in the middle of the operand), otherwise false.
bool operand_unit_stride(const KernelSpec& k, int operand, int axis);

/// A view (batch + [rows, cols]) read two elements at a time along `axis` (its last or second
/// to last) as aligned 64-bit words: no bounds, unit stride on `axis`, every other stride and the
/// base even, and an even extent along `axis`.
bool pairs_along(const View& v, int axis);

/// GPU products for which 16..64-wide tiles beat 128 x 128 ones (few rows or columns, or too few
/// tiles to fill the card): 16 x 16 threads, so few threads idle on masked outputs.
bool use_narrow_tiles(const KernelSpec& k, const Target& t);
GeneratedKernel matmul_narrow(const KernelSpec& k, const Target& t);

/// The end of a register-tiled product (inside the batch loop over `b`): for each accumulator
/// acc[i][j] (i < rows, j < cols) at output row `row`, column `col` (GLSL expressions in i, j),
/// inside the M x N bounds, the fused per-element ops and every output store.
void tile_epilogue(GlslWriter& w, const KernelSpec& k, int64_t M, int64_t N, int rows, int cols,
                   const std::string& row, const std::string& col);

GeneratedKernel matmul(const KernelSpec& k, const Target& t);
GeneratedKernel matmul_coopmat(const KernelSpec& k, const Target& t);
/// Packed float16 operands (KernelSpec::packed_halves) on workgroup-scope matrices
/// (matmul_coopmat2.cpp); the SPIR-V needs vk::nv_coopmat_to_khr (GeneratedKernel::khr_coopmat).
GeneratedKernel matmul_coopmat2(const KernelSpec& k, const Target& t);

/// CPU devices (lavapipe; matmul_cpu.cpp): output rows on SIMD lanes, the other operand's values
/// shared through subgroupBroadcast; and a straight-line kernel for small products.
GeneratedKernel matmul_cpu(const KernelSpec& k, const Target& t);
bool matmul_cpu_unrolled(const KernelSpec& k, const Target& t, GeneratedKernel& g);

}  // namespace descent::codegen::internal
