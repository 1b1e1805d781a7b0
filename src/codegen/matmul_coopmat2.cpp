// GLSL for matrix products over packed float16 operands on workgroup-scope cooperative matrices
// (VK_NV_cooperative_matrix2): one 128x128 fp32 accumulator per workgroup of 128 invocations, A
// and B loaded 64 K-indices at a time straight from the packed buffers; staging and the mapping
// to tensor-core instructions are the driver's. Written with the NV GLSL extension (Debian 12's
// glslang has no other) at workgroup scope; the runtime rewrites the SPIR-V to KHR. Writes GLSL only.
#include "codegen/body.hpp"
#include "codegen/matmul.hpp"
#include "graph/passes/passes.hpp"
#include "util/assert.hpp"

namespace descent::codegen {
namespace internal {

using detail::kPackedK;
using detail::kPackedTile;

/// Summation order: each output is the fp32 accumulation of the driver's products over K in
/// steps of 64, increasing; fixed for a device and driver, so results are deterministic run to
/// run. No epilogue: the accumulator is stored whole (the fusion pass gives such a kernel none).
/// With B packed along N the kernel computes C^T = B^T A^T (both operands then load column-major,
/// which the H100 runs at 298-317 TFLOP/s against 267-282 for row-major A with row-major B;
/// docs/perf/HISTORY.md) and stores the accumulator column-major, so C is still row-major.
GeneratedKernel matmul_coopmat2(const KernelSpec& k, const Target& t) {
  const Shape& s = k.matmul_shape;
  DESCENT_ASSERT(s.rank() >= 2, "packed matmul rank");
  const int64_t M = s[-2], N = s[-1], B = s.element_count() / (M * N);
  const bool a_m = k.packed_a_along_m, b_n = k.packed_b_along_n;
  // Padded K from A's packed shape: [.., Kp, M/2] or [.., M, Kp/2].
  const int64_t Kp = a_m ? k.a_view.output[-2] : 2 * k.a_view.output[-1];
  DESCENT_ASSERT(M % kPackedTile == 0 && N % kPackedTile == 0 && Kp % kPackedK == 0,
                 "packed matmul: M, N not multiples of the tile or K not padded");
  DESCENT_ASSERT(k.outputs.size() == 1 && k.body.size() == 1 && k.a_view.is_identity() && k.b_view.is_identity(),
                 "packed matmul: kernel with an epilogue or a view on the packed operands");
  DESCENT_ASSERT(b_n ? k.b_view.output[-2] == Kp && 2 * k.b_view.output[-1] == N
                     : k.b_view.output[-2] == N && 2 * k.b_view.output[-1] == Kp,
                 "packed matmul: B shape");
  GeneratedKernel g;
  const int64_t gm = M / kPackedTile, gn = N / kPackedTile;
  g.groups_x = static_cast<uint32_t>(gm * gn);
  g.groups_z = static_cast<uint32_t>(std::min<int64_t>(B, 65535));
  g.khr_coopmat = true;
  GlslWriter w;
  // No float-control execution modes: the kernel has no float32 arithmetic of its own (only the
  // matrix products, whose rounding the hardware fixes), and without them the H100 ran the
  // products a few percent faster (docs/perf/HISTORY.md).
  Target plain = t;
  plain.denorm_preserve = plain.nan_preserve = false;
  header(w, k, plain, 128, false, true);
  w.line("layout(buffer_reference, std430, buffer_reference_align = 16) readonly buffer DescentHalf8 {{ uvec4 v[]; }};");
  w.line("#define MA fcoopmatNV<16, gl_ScopeWorkgroup, {}, {}>", kPackedTile, kPackedK);
  w.line("#define MB fcoopmatNV<16, gl_ScopeWorkgroup, {}, {}>", kPackedK, kPackedTile);
  w.line("#define MC fcoopmatNV<32, gl_ScopeWorkgroup, {}, {}>", kPackedTile, kPackedTile);
  w.open("void main()");
  // Grouped launch order: 8 tile rows sweep the tile columns together, so the panels in flight
  // stay in L2.
  w.line("int pid = int(gl_WorkGroupID.x), first = pid / {0} * 8, q = pid % {0};", 8 * gn);
  w.line("int rows = min({} - first, 8);", gm);
  w.line("uint m0 = uint((first + q % rows) * {}), n0 = uint((q / rows) * {});", kPackedTile, kPackedTile);
  w.open(fmt::format("for (uint b = gl_WorkGroupID.z; b < {}u; b += {}u)", B, g.groups_z));
  w.line("MC acc = MC(0.0);");
  // Offsets in uvec4 (8 halves), at K index `kv`. Row-major A [M, Kp]: (m, k) at m Kp + k;
  // column-major A [Kp, M]: at k M + m. Row-major B [Kp, N]: (k, n) at k N + n; column-major
  // B [N, Kp]: n Kp + k.
  const bool swap = b_n;
  auto load_a = [&](const std::string& kv) {
    std::string base = a_m ? fmt::format("(b * {}u + {}) * {}u + m0", Kp, kv, M) : fmt::format("(b * {}u + m0) * {}u + {}", M, Kp, kv);
    return fmt::format("DescentHalf8(uint64_t(pc.in{})).v, ({}) / 8u, {}u, {}", k.a_input, base, (a_m ? M : Kp) / 8,
                       a_m != swap ? "true" : "false");
  };
  auto load_b = [&](const std::string& kv) {
    std::string base = b_n ? fmt::format("(b * {}u + {}) * {}u + n0", Kp, kv, N) : fmt::format("(b * {}u + n0) * {}u + {}", N, Kp, kv);
    return fmt::format("DescentHalf8(uint64_t(pc.in{})).v, ({}) / 8u, {}u, {}", k.b_input, base, (b_n ? N : Kp) / 8,
                       b_n == swap ? "true" : "false");
  };
  // Operands of step u at K index kv: x (MA) and y (MB); swapped, x is B^T and y is A^T.
  auto load = [&](int u, const std::string& kv) {
    w.line("MA x{0}; coopMatLoadNV(x{0}, {1});", u, swap ? load_b(kv) : load_a(kv));
    w.line("MB y{0}; coopMatLoadNV(y{0}, {1});", u, swap ? load_a(kv) : load_b(kv));
  };
  // Two K steps per iteration, both steps' operands loaded before the products (H100: +1-2%),
  // then the odd step when Kp / 64 is odd. The products still add in increasing K order.
  const int64_t body = Kp / (2 * kPackedK) * (2 * kPackedK);
  if (body > 0) {
    w.open(fmt::format("for (uint k = 0u; k < {}u; k += {}u)", body, 2 * kPackedK));
    load(0, "k");
    load(1, fmt::format("k + {}u", kPackedK));
    w.line("acc = coopMatMulAddNV(x0, y0, acc);");
    w.line("acc = coopMatMulAddNV(x1, y1, acc);");
    w.close();
  }
  if (body < Kp) {
    load(2, fmt::format("{}u", body));
    w.line("acc = coopMatMulAddNV(x2, y2, acc);");
  }
  w.line("coopMatStoreNV(acc, pc.out0.v, (b * {}u + m0) * {}u + n0, {}u, {});", M, N, N, swap ? "true" : "false");
  w.close();
  w.close();
  g.source = w.str();
  const std::string version = "#version 460\n";
  DESCENT_ASSERT(g.source.rfind(version, 0) == 0, "GLSL header");
  // Workgroup-scope matrices need the Vulkan memory model.
  g.source.insert(version.size(), "#pragma use_vulkan_memory_model\n");
  return g;
}

}  // namespace internal
}  // namespace descent::codegen
