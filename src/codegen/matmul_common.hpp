// Declarations shared by the matmul generators (matmul.cpp: big GPU tiles, CPU kernel, coopmat;
// matmul_narrow.cpp: small tiles for products with few rows or columns). Writes GLSL only.
#pragma once
#include "codegen/body.hpp"

namespace descent::codegen::internal {

/// Extents of a matmul kernel: output rows M, columns N, inner K, B batches of shape `batch`.
struct MatMulDims {
  int64_t M, N, K, B;
  Shape batch;
};

MatMulDims dims_of(const KernelSpec& k);
/// GLSL function `float load_<name>(int b, int r, int c)`: operand element at batch b, row r,
/// column c, read through its view (zero outside zero padding).
void load_function(GlslWriter& w, const char* name, int input, const View& v, const Shape& batch);
/// True when consecutive elements along output axis `axis` of `v` are adjacent in memory.
bool unit_stride(const View& v, int axis);

/// GPU products with at most 32 rows or columns: 16x16 threads over 16..64-wide tiles, so few
/// threads idle on masked outputs (conv weight gradients, narrow layers).
bool use_narrow_tiles(const KernelSpec& k, const Target& t);
GeneratedKernel matmul_narrow(const KernelSpec& k, const Target& t);

}  // namespace descent::codegen::internal
