// GLSL for matrix products with few rows or columns on GPUs: 256 threads as 16 x 16, each owning
// (TM / 16) x (TN / 16) outputs of a TM x TN tile, TM and TN in {16, 32, 64} chosen to waste the
// fewest masked outputs. Same summation order as every matmul kernel (k = 0..K-1, fma, precise),
// so results are bit-identical to the other variants. Writes GLSL only.
#include "codegen/matmul_common.hpp"

namespace descent::codegen::internal {

namespace {
struct Tiles {
  int tm, tn;
};

Tiles choose(int64_t M, int64_t N) {
  const Tiles candidates[] = {{64, 16}, {64, 32}, {32, 64}, {16, 64}, {16, 16}};
  Tiles best{16, 16};
  int64_t best_area = -1;
  for (Tiles c : candidates) {
    int64_t area = (M + c.tm - 1) / c.tm * c.tm * ((N + c.tn - 1) / c.tn * c.tn);
    if (best_area < 0 || area < best_area || (area == best_area && c.tm * c.tn > best.tm * best.tn)) {
      best = c;
      best_area = area;
    }
  }
  return best;
}
}  // namespace

bool use_narrow_tiles(const KernelSpec& k, const Target& t) {
  if (t.cpu) return false;
  MatMulDims d = dims_of(k);
  return d.M <= 32 || d.N <= 32;
}

GeneratedKernel matmul_narrow(const KernelSpec& k, const Target& t) {
  const auto [M, N, K, B, batch] = dims_of(k);
  const Tiles tiles = choose(M, N);
  const int tm = tiles.tm, tn = tiles.tn, rm = tm / 16, rn = tn / 16, bk = 16;
  GeneratedKernel g;
  g.groups_x = static_cast<uint32_t>((N + tn - 1) / tn);
  g.groups_y = static_cast<uint32_t>((M + tm - 1) / tm);
  g.groups_z = static_cast<uint32_t>(std::min<int64_t>(B, 65535));
  GlslWriter w;
  header(w, k, t, 256);
  load_function(w, "a", k.a_input, k.a_view, batch);
  load_function(w, "b", k.b_input, k.b_view, batch);
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
  bool a_k_fast = unit_stride(k.a_view, r - 1);
  bool b_n_fast = unit_stride(k.b_view, r - 1) || !unit_stride(k.b_view, r - 2);
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
  w.open(fmt::format("for (int i = 0; i < {}; ++i)", rm));
  w.open(fmt::format("for (int j = 0; j < {}; ++j)", rn));
  w.line("int m = m0 + ty + 16 * i, n = n0 + tx + 16 * j;");
  w.open(fmt::format("if (m < {} && n < {})", M, N));
  w.line("int l = (b * {} + m) * {} + n;", M, N);
  BodyWriter body(w, k, "l");
  body.set_acc("acc[i][j]");
  body.emit_all();
  for (size_t o = 0; o < k.outputs.size(); ++o) w.line("pc.out{}.v[l] = t{};", o, k.outputs[o].first);
  w.close();
  w.close();
  w.close();
  w.close();
  w.close();
  g.source = w.str();
  return g;
}

}  // namespace descent::codegen::internal
