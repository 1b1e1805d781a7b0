// GLSL generation for KernelSpecs. The only C++ that writes GLSL; knows nothing about Vulkan
// objects: the runtime binds buffers in the order `GeneratedKernel` states.
#pragma once
#include <cstdint>
#include <string>

#include "fuse/kernel_spec.hpp"

namespace descent::codegen {

/// Device facts that shape the generated code (the same facts give the same code).
struct Target {
  bool cpu = false;                 // lavapipe & co: serial reductions win
  bool coopmat_nv = false;          // VK_NV_cooperative_matrix with 32-wide subgroups
  uint32_t max_groups_x = 65535;    // maxComputeWorkGroupCount[0]
  bool denorm_preserve = false;     // request SPIR-V DenormPreserve (float32) in every kernel
  bool nan_preserve = false;        // request SignedZeroInfNanPreserve (float32)
  uint32_t subgroup_size = 0;       // 0: no subgroup shuffles (reductions use shared memory only)
  bool subgroup_broadcast = false;  // subgroupBroadcast in compute shaders (CPU matmul kernel)
  int reduce_threads = 0;           // >0: force threads per reduced row (DESCENT_REDUCE_THREADS)
  uint32_t max_shared_memory = 16384;  // maxComputeSharedMemorySize, bytes (16 KiB: the minimum)
  int coopmat_variant = 0;          // 0: automatic; n > 0: tile configuration n (DESCENT_COOPMAT_VARIANT)
  bool coopmat_emulate = false;     // tests: without coopmat_nv, the coopmat kernel in plain GLSL
  int matmul_tile = 0;              // tests: 0 automatic; 128 the big GPU kernel; 16/32/64 narrow
                                    // tiles of that size (GPU code paths only)
  int matmul_prologue = 0;          // 1: inline single-node elementwise producers into matmul
                                    // operand loads (DESCENT_MATMUL_PROLOGUE; tests)
  bool coopmat2 = false;            // VK_NV_cooperative_matrix2 workgroup-scope matrices: float16
                                    // matmuls take packed operands (passes/pack_operands.cpp)
};

struct GeneratedKernel {
  std::string source;         // complete GLSL compute shader
  uint32_t groups_x = 1;      // vkCmdDispatch(groups_x, groups_y, groups_z)
  uint32_t groups_y = 1;
  uint32_t groups_z = 1;
  uint32_t push_bytes = 0;    // 8 bytes: run info address, then 8 per input, then per output
  bool khr_coopmat = false;   // SPIR-V must be rewritten to KHR cooperative matrices
                              // (vk::nv_coopmat_to_khr) before the pipeline is built
};

GeneratedKernel generate(const detail::KernelSpec& k, const Target& target);

/// Number of tile configurations of the cooperative-matrix kernel (valid coopmat_variant: 1..n).
int coopmat_variant_count();

}  // namespace descent::codegen
