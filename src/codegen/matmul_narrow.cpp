// GLSL for GPU matrix products that would leave 128 x 128 tiles mostly masked or the card mostly
// idle (few rows or columns, few tiles): 256 threads as 16 x 16, each owning (TM / 16) x (TN / 16)
// outputs of a TM x TN tile, TM and TN multiples of 16 up to 80, chosen by an occupancy/waste estimate. Same summation order as every matmul kernel (k = 0..K-1, fma, precise),
// so results are bit-identical to the other variants. Writes GLSL only.
#include "codegen/matmul.hpp"

namespace descent::codegen::internal {

namespace {
struct Tiles {
  int tm, tn;
  double speed;  // rough relative throughput per useful output (register reuse per tile shape)
};

constexpr double kFullGpu = 264;  // workgroups for two per SM on a 132-SM card: enough to fill it

/// The tile with the lowest estimated cost: padded output area / (speed x occupancy), where
/// occupancy is the fraction of the card a grid of that many workgroups fills. 128 x 128 is the
/// big kernel in matmul.cpp.
Tiles choose(int64_t M, int64_t N, int64_t B) {
  // 80 and 48 fit products of 72 or 40 rows (convolution weight gradients: 9 x channels) with
  // little masking where 64 would need two mostly empty tiles.
  const Tiles candidates[] = {{128, 128, 1.0}, {64, 64, 0.75}, {64, 32, 0.55}, {32, 64, 0.55},
                              {32, 32, 0.4},   {80, 16, 0.38}, {16, 80, 0.38}, {64, 16, 0.35},
                              {16, 64, 0.35},  {48, 16, 0.3},  {16, 48, 0.3},  {16, 16, 0.15}};
  Tiles best = candidates[0];
  double best_cost = -1;
  for (Tiles c : candidates) {
    int64_t tiles_m = (M + c.tm - 1) / c.tm, tiles_n = (N + c.tn - 1) / c.tn;
    double area = static_cast<double>(tiles_m * c.tm) * static_cast<double>(tiles_n * c.tn) * B;
    double occupancy = std::min(1.0, static_cast<double>(tiles_m * tiles_n * B) / kFullGpu);
    double cost = area / (c.speed * occupancy);
    if (best_cost < 0 || cost < best_cost) {
      best = c;
      best_cost = cost;
    }
  }
  return best;
}

Tiles choose(const KernelSpec& k, const Target& t) {
  MatMulDims d = dims_of(k);
  if (t.matmul_tile > 0) return Tiles{std::min(t.matmul_tile, 128), std::min(t.matmul_tile, 128), 1.0};
  return choose(d.M, d.N, d.B);
}
}  // namespace

bool use_narrow_tiles(const KernelSpec& k, const Target& t) {
  return !t.cpu && choose(k, t).tm != 128;
}

GeneratedKernel matmul_narrow(const KernelSpec& k, const Target& t) {
  const auto [M, N, K, B, batch] = dims_of(k);
  const Tiles tiles = choose(k, t);
  const int tm = tiles.tm, tn = tiles.tn, rm = tm / 16, rn = tn / 16, bk = 16;
  GeneratedKernel g;
  g.groups_x = static_cast<uint32_t>((N + tn - 1) / tn);
  g.groups_y = static_cast<uint32_t>((M + tm - 1) / tm);
  g.groups_z = static_cast<uint32_t>(std::min<int64_t>(B, 65535));
  GlslWriter w;
  header(w, k, t, 256);
  load_function(w, k, 0, batch);
  load_function(w, k, 1, batch);
  w.line("shared float As[{}][{}];", bk, tm);
  w.line("shared float Bs[{}][{}];", bk, tn);
  w.open("void main()");
  w.line("int lid = int(gl_LocalInvocationID.x), tx = lid % 16, ty = lid / 16;");
  w.line("int n0 = int(gl_WorkGroupID.x) * {}, m0 = int(gl_WorkGroupID.y) * {};", tn, tm);
  w.open(fmt::format("for (int b = int(gl_WorkGroupID.z); b < {}; b += {})", B, g.groups_z));
  w.line("precise float acc[{}][{}];", rm, rn);
  w.line("for (int i = 0; i < {}; ++i) for (int j = 0; j < {}; ++j) acc[i][j] = 0.0;", rm, rn);
  const int r = k.matmul_shape.rank();
  // Consecutive threads load along each operand's contiguous axis (coalesced global reads).
  bool a_k_fast = operand_unit_stride(k, 0, r - 1);
  bool b_n_fast = operand_unit_stride(k, 1, r - 1) || !operand_unit_stride(k, 1, r - 2);
  w.open(fmt::format("for (int k0 = 0; k0 < {}; k0 += {})", K, bk));
  w.open(fmt::format("for (int i = 0; i < {}; ++i)", rm));
  w.line("int e = lid + 256 * i;");
  if (a_k_fast) w.line("int kk = e % {0}, mm = e / {0};", bk);
  else w.line("int mm = e % {0}, kk = e / {0};", tm);
  w.line("int m = m0 + mm, kq = k0 + kk;");
  w.line("As[kk][mm] = (m < {} && kq < {}) ? load_a(b, m, kq) : 0.0;", M, K);
  w.close();
  w.open(fmt::format("for (int j = 0; j < {}; ++j)", rn));
  w.line("int e = lid + 256 * j;");
  if (b_n_fast) w.line("int nn = e % {0}, kk = e / {0};", tn);
  else w.line("int kk = e % {0}, nn = e / {0};", bk);
  w.line("int n = n0 + nn, kq = k0 + kk;");
  w.line("Bs[kk][nn] = (n < {} && kq < {}) ? load_b(b, kq, n) : 0.0;", N, K);
  w.close();
  w.line("barrier();");
  // Exactly K terms per output (no padded fma on the last block): the order of every variant.
  w.line("int kmax = min({}, {} - k0);", bk, K);
  w.open("for (int kk = 0; kk < kmax; ++kk)");
  w.line("float av[{}], bv[{}];", rm, rn);
  w.line("for (int i = 0; i < {}; ++i) av[i] = As[kk][ty + 16 * i];", rm);
  w.line("for (int j = 0; j < {}; ++j) bv[j] = Bs[kk][tx + 16 * j];", rn);
  w.line("for (int i = 0; i < {}; ++i) for (int j = 0; j < {}; ++j) acc[i][j] = fma(av[i], bv[j], acc[i][j]);", rm, rn);
  w.close();
  w.line("barrier();");
  w.close();
  tile_epilogue(w, k, M, N, rm, rn, "m0 + ty + 16 * i", "n0 + tx + 16 * j");
  w.close();
  w.close();
  g.source = w.str();
  return g;
}

}  // namespace descent::codegen::internal
