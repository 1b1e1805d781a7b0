// GLSL generation for matrix products with float16 inputs on cooperative matrices
// (VK_NV_cooperative_matrix: 16x16x16 fragments, fp16 x fp16 + fp32 accumulators). Operands are
// read as float32 through their views, rounded to float16 in registers and staged in shared
// memory; the fp32 results go through shared memory to the per-element epilogue. Writes GLSL only.
// The tile table `kVariants` is the one place to tune it (DESCENT_COOPMAT_VARIANT picks an entry).
#include "codegen/matmul.hpp"
#include "util/assert.hpp"

namespace descent::codegen {
namespace internal {
namespace {

/// One tile configuration. A workgroup computes a bm x bn output tile with wm x wn subgroups of
/// 32 invocations, each owning a (bm / wm) x (bn / wn) block of 16x16 accumulator fragments.
/// K advances bk at a time. stages = 2: two shared buffers, the next step's global loads are in
/// flight (in registers) during this step's fragment products, one barrier per step. stages = 1:
/// the same register prefetch into one buffer, two barriers per step (vk_cooperative_matrix_perf's
/// shmem.comp scheme).
struct Variant {
  int bm, bn, bk, wm, wn, stages;
};

constexpr Variant kVariants[] = {
    {128, 128, 32, 2, 4, 2},  // 1: 256 threads, subgroup tiles 64x32
    {128, 128, 16, 2, 4, 2},  // 2: as 1 with half the shared memory (fits 32 KiB)
    {256, 128, 16, 4, 2, 2},  // 3: 256 threads, subgroup tiles 64x64
    {128, 256, 16, 2, 4, 2},  // 4: 256 threads, subgroup tiles 64x64
    {128, 128, 32, 2, 2, 2},  // 5: 128 threads, subgroup tiles 64x64
    {256, 128, 32, 4, 2, 1},  // 6: 256 threads, subgroup tiles 64x64, one buffer
    {64, 64, 32, 2, 2, 2},    // 7: 128 threads, subgroup tiles 32x32, for small products
    // Tried on the H100 and dropped (docs/perf/HISTORY.md): 512 threads with 64x32 subgroup tiles
    // (256x128x32 and 128x256x32, one stage; 128x128x32 with 32x32 tiles): 120-139 TFLOP/s.
};
constexpr int kVariantCount = static_cast<int>(sizeof(kVariants) / sizeof(kVariants[0]));

/// Workgroups that roughly fill an H100/H200 (132 SMs) once; below it a smaller tile is chosen.
constexpr int64_t kFullGrid = 128;
/// Tile rows that sweep the tile columns together (grouped launch order, see main()).
constexpr int kGroupRows = 8;

/// How one operand is staged: `rows` x `cols` float16 values per stage, `cols` running along the
/// operand's contiguous axis so each thread loads runs of 8 elements (two vec4) and stores them as
/// one uvec4. Rows are padded by 16 bytes: the 8 rows of 16 bytes a fragment load reads per phase
/// then fall in distinct banks (row pitches of 48, 80, 144, 272 or 528 bytes).
struct Panel {
  std::string name;     // "a" or "b"
  bool transposed;      // cols run along the operand's first axis (A: m, B: k): column-major frags
  bool rows_k;          // rows run along K
  bool vec;             // 16-byte global loads (contiguous, 16-byte aligned, extent % 4 == 0)
  int rows, cols;       // halves
  int stride;           // uvec4 per shared row
  int64_t row_extent, col_extent;
  int size() const { return rows * stride; }
};

/// 16-byte loads need unit stride along `fast`, every other stride and the base a multiple of 4
/// elements (buffers start 256-byte aligned) and an extent that is a multiple of 4, so a vec4 is
/// either wholly inside the operand or wholly outside.
bool vec_loads(const View& v, int fast, int64_t fast_extent) {
  if (v.any_bounds() || fast_extent % 4 != 0) return false;
  int64_t base = 0;
  auto st = v.output_strides(&base);
  if (base % 4 != 0 || st[static_cast<size_t>(fast)] != 1) return false;
  for (int j = 0; j < v.output.rank(); ++j)
    if (j != fast && v.output[j] != 1 && st[static_cast<size_t>(j)] % 4 != 0) return false;
  return true;
}

struct Layout {
  Panel a, b;
  int stage;  // uvec4 per stage (A panel then B panel)
};

Layout layout_of(const KernelSpec& k, const Variant& v) {
  const auto [M, N, K, B, batch] = dims_of(k);
  const int r = k.matmul_shape.rank();
  Layout L;
  // A [M, K]: contiguous along K unless only M is; B [K, N]: along N unless only K is.
  bool a_t = !k.a_view.unit_stride(r - 1) && k.a_view.unit_stride(r - 2);
  bool b_t = !k.b_view.unit_stride(r - 1) && k.b_view.unit_stride(r - 2);
  L.a = {"a", a_t, a_t, false, a_t ? v.bk : v.bm, a_t ? v.bm : v.bk, 0, a_t ? K : M, a_t ? M : K};
  L.b = {"b", b_t, !b_t, false, b_t ? v.bn : v.bk, b_t ? v.bk : v.bn, 0, b_t ? N : K, b_t ? K : N};
  L.a.vec = vec_loads(k.a_view, a_t ? r - 2 : r - 1, L.a.col_extent);
  L.b.vec = vec_loads(k.b_view, b_t ? r - 2 : r - 1, L.b.col_extent);
  for (Panel* p : {&L.a, &L.b}) p->stride = p->cols / 8 + 1;
  L.stage = L.a.size() + L.b.size();
  return L;
}

/// Epilogue staging: each subgroup writes `ef` accumulator fragments (16 rows x 16 ef floats,
/// rows padded by 16 bytes) to its own slice of shared memory at a time.
int scratch_u4(int ef) { return 16 * (16 * ef + 4) / 4; }

/// Shared memory (uvec4 units) of variant `v` staging `ef` fragments per subgroup in the epilogue;
/// the staging area reuses the operand buffers.
int shared_u4(const Layout& L, const Variant& v, int ef) {
  return std::max(v.stages * L.stage, v.wm * v.wn * scratch_u4(ef));
}

/// The variant to generate (1-based), or 0 when none fits the device's shared memory. A forced
/// variant that does not fit falls back to the automatic choice.
int choose_variant(const KernelSpec& k, const Target& t) {
  const auto [M, N, K, B, batch] = dims_of(k);
  auto fits = [&](int i) {
    const Variant& v = kVariants[i - 1];
    const Layout L = layout_of(k, v);
    const int threads = 32 * v.wm * v.wn;
    for (const Panel* p : {&L.a, &L.b})
      if (threads % (p->cols / 8) != 0 || (p->rows * p->cols / 8) % threads != 0) return false;
    return 16 * shared_u4(L, v, 1) <= static_cast<int64_t>(t.max_shared_memory);
  };
  auto tiles = [&](int i) {
    const Variant& v = kVariants[i - 1];
    return B * ((M + v.bm - 1) / v.bm) * ((N + v.bn - 1) / v.bn);
  };
  if (t.coopmat_variant >= 1 && t.coopmat_variant <= kVariantCount && fits(t.coopmat_variant))
    return t.coopmat_variant;
  // The H100 benchmark of every variant (docs/perf/HISTORY.md, session 4, with the GPU warmed up):
  // 256x128x32 with one buffer (6) best at 2048-8192, 128x256 (4) next; 256x128x16 (3) for
  // products too narrow for 256 columns. Largest tiles that still fill the card.
  for (int i : {6, N >= 256 ? 4 : 3, 1})
    if (fits(i) && tiles(i) >= kFullGrid) return i;
  for (int i : {7, 2})
    if (fits(i)) return i;
  return 0;
}

/// `vec4 load4_<x>(int b, int r, int c)`: panel elements (r, c .. c + 3) of batch b, c % 4 == 0,
/// zero outside the operand. Bounds tests are emitted only where a tile can cross the edge.
void load4_function(GlslWriter& w, const Panel& p, int input, const View& view, const Shape& batch) {
  w.open(fmt::format("vec4 load4_{}(int b, int r, int c)", p.name));
  std::string out;
  if (p.row_extent % p.rows != 0) out = fmt::format("r >= {}", p.row_extent);
  if (p.vec) {
    if (p.col_extent % p.cols != 0) out += fmt::format("{}c >= {}", out.empty() ? "" : " || ", p.col_extent);
    if (!out.empty()) w.line("if ({}) return vec4(0.0);", out);
    std::vector<std::string> coords = batch_coords(batch);
    coords.push_back(p.transposed ? "c" : "r");
    coords.push_back(p.transposed ? "r" : "c");
    std::string cond;
    std::string idx = index_at(w, view, coords, &cond, "q");
    DESCENT_ASSERT(cond.empty(), "vectorised operand loads need a view without padding");
    w.line("return DescentIn4(uint64_t(pc.in{})).v[({}) >> 2];", input, idx);
  } else {
    w.line("vec4 v = vec4(0.0);");
    if (!out.empty()) w.line("if ({}) return v;", out);
    w.line("for (int i = 0; i < 4; ++i) if (c + i < {}) v[i] = load_{}(b, {}, {});", p.col_extent, p.name,
           p.transposed ? "c + i" : "r", p.transposed ? "r" : "c + i");
    w.line("return v;");
  }
  w.close();
}

/// Fragment operations in one of two spellings: the NV extension, or (tests on devices without
/// it) plain GLSL in which a "subgroup" is 32 consecutive invocations, lane l holds accumulator
/// elements 8l .. 8l + 7 of the row-major 16x16 fragment, and an A/B fragment is only its address
/// in shared memory (the kernel never overwrites a panel between loading and using a fragment).
struct Frags {
  GlslWriter& w;
  bool emu;

  void preamble() const {
    if (!emu) {
      w.line("#define FRAG fcoopmatNV<16, gl_ScopeSubgroup, 16, 16>");
      w.line("#define ACC fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>");
      return;
    }
    // Loops stay loops ([[dont_unroll]]): an unrolled copy at every call site slows lavapipe's
    // pipeline compile by about a third.
    w.open("float cm_elem(ivec3 f, int r, int c)");
    w.line("int h = f.x + (f.z != 0 ? c * f.y + r : r * f.y + c);");
    w.line("return unpackHalf2x16(smem[h >> 3][(h >> 1) & 3])[h & 1];");
    w.close();
    w.open("void cm_mma(inout float acc[8], ivec3 a, ivec3 b)");
    w.line("int lane = int(gl_LocalInvocationID.x) % 32;");
    w.open("[[dont_unroll]] for (int q = 0; q < 16; ++q)");
    w.line("float x = cm_elem(a, lane / 2, q);");
    w.line("[[dont_unroll]] for (int e = 0; e < 8; ++e) acc[e] = fma(x, cm_elem(b, q, (lane % 2) * 8 + e), acc[e]);");
    w.close();
    w.close();
    w.open("void cm_store(float acc[8], int off, int stride)");
    w.line("int lane = int(gl_LocalInvocationID.x) % 32;");
    w.open("[[dont_unroll]] for (int e = 0; e < 8; ++e)");
    w.line("int f = (off + (lane / 2) * stride) * 4 + (lane % 2) * 8 + e;");
    w.line("smem[f >> 2][f & 3] = floatBitsToUint(acc[e]);");
    w.close();
    w.close();
  }
  void zero(const std::string& c) const {
    if (emu) w.line("float {}[8] = float[8](0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);", c);
    else w.line("ACC {} = ACC(0.0);", c);
  }
  /// Loads a 16x16 fragment at uvec4 offset `off` with `stride` uvec4 per row (or column).
  void load(const std::string& f, const std::string& off, int stride, bool col_major) const {
    if (emu) w.line("ivec3 {} = ivec3(({}) * 8, {}, {});", f, off, stride * 8, col_major ? 1 : 0);
    else w.line("FRAG {0}; coopMatLoadNV({0}, smem, uint({1}), {2}u, {3});", f, off, stride, col_major);
  }
  void mma(const std::string& c, const std::string& a, const std::string& b) const {
    if (emu) w.line("cm_mma({}, {}, {});", c, a, b);
    else w.line("{0} = coopMatMulAddNV({1}, {2}, {0});", c, a, b);
  }
  void store(const std::string& c, const std::string& off, int stride) const {
    if (emu) w.line("cm_store({}, {}, {});", c, off, stride);
    else w.line("coopMatStoreNV({}, smem, uint({}), {}u, false);", c, off, stride);
  }
  std::string subgroup_barrier() const { return emu ? "barrier();" : "subgroupBarrier();"; }
};

std::string acc_name(int i, int j) { return fmt::format("c{}_{}", i, j); }

/// Global -> register loads of one panel for the K step at `k0` (a GLSL expression). Thread lid
/// owns 8-element runs at panel rows lid / cpr + i * (threads / cpr), columns (lid % cpr) * 8.
void emit_loads(GlslWriter& w, const Panel& p, int threads, const std::string& mn0, const std::string& k0) {
  int cpr = p.cols / 8, n = p.rows * cpr / threads, rs = threads / cpr;
  std::string r0 = p.rows_k ? k0 : mn0, c0 = p.rows_k ? mn0 : k0;
  for (int i = 0; i < n; ++i) {
    std::string r = fmt::format("{} + {}r + {}", r0, p.name, i * rs);
    w.line("{0}{1}l = load4_{0}(b, {2}, {3} + {0}c); {0}{1}h = load4_{0}(b, {2}, {3} + {0}c + 4);", p.name,
           i, r, c0);
  }
}

/// Register -> shared stores of one panel, rounded to float16 by packHalf2x16 (relative error
/// 2^-11 when it rounds to nearest, 2^-10 at worst; the float16-input tolerance allows 2^-10).
void emit_stores(GlslWriter& w, const Panel& p, int threads, const std::string& sb) {
  int cpr = p.cols / 8, n = p.rows * cpr / threads, rs = threads / cpr;
  for (int i = 0; i < n; ++i)
    w.line("smem[{2} + {0}s + {3}] = uvec4(packHalf2x16({0}{1}l.xy), packHalf2x16({0}{1}l.zw), "
           "packHalf2x16({0}{1}h.xy), packHalf2x16({0}{1}h.zw));",
           p.name, i, sb, i * rs * p.stride);
}

/// The fragment products of one K step on the stage at uvec4 offset `sb`, in a fixed order:
/// for each 16-wide slice of K, every accumulator (i, j) gets A(i) x B(j) added.
void emit_products(const Frags& f, const Layout& L, const Variant& v, const std::string& sb) {
  const int fm = v.bm / v.wm / 16, fn = v.bn / v.wn / 16;
  const Panel &a = L.a, &b = L.b;
  for (int kk = 0; kk < v.bk / 16; ++kk) {
    for (int i = 0; i < fm; ++i) {
      int off = a.transposed ? kk * 16 * a.stride + i * 2 : i * 16 * a.stride + kk * 2;
      f.load(fmt::format("a{}_{}", kk, i), fmt::format("{} + fa + {}", sb, off), a.stride, a.transposed);
    }
    for (int j = 0; j < fn; ++j) {
      int off = b.transposed ? j * 16 * b.stride + kk * 2 : kk * 16 * b.stride + j * 2;
      std::string fb = fmt::format("b{}_{}", kk, j);
      f.load(fb, fmt::format("{} + fb + {}", sb, off), b.stride, b.transposed);
      for (int i = 0; i < fm; ++i) f.mma(acc_name(i, j), fmt::format("a{}_{}", kk, i), fb);
    }
  }
}

/// The K loop: prologue, then per step the next step's loads, this step's products, the stores.
void emit_k_loop(GlslWriter& w, const Frags& f, const Layout& L, const Variant& v, int64_t K) {
  const int threads = 32 * v.wm * v.wn;
  const int64_t steps = (K + v.bk - 1) / v.bk;
  auto loads = [&](const std::string& k0) {
    emit_loads(w, L.a, threads, "m0", k0);
    emit_loads(w, L.b, threads, "n0", k0);
  };
  auto stores = [&](const std::string& sb) {
    emit_stores(w, L.a, threads, sb);
    emit_stores(w, L.b, threads, sb);
  };
  for (const Panel* p : {&L.a, &L.b})
    for (int i = 0; i < p->rows * p->cols / 8 / threads; ++i) w.line("vec4 {0}{1}l, {0}{1}h;", p->name, i);
  loads("0");
  if (v.stages == 2) {
    stores("0");
    w.line("barrier();");
  }
  w.open(fmt::format("for (int kt = 0; kt < {}; ++kt)", steps));
  if (v.stages == 2) {
    w.line("int sb = (kt & 1) * {};", L.stage);
    w.line("bool more = kt + 1 < {};", steps);
    w.open("if (more)");
    loads(fmt::format("(kt + 1) * {}", v.bk));
    w.close();
    emit_products(f, L, v, "sb");
    w.open("if (more)");
    stores(fmt::format("{} - sb", L.stage));
    w.close();
    w.line("barrier();");
  } else {
    stores("0");
    w.line("barrier();");
    w.open(fmt::format("if (kt + 1 < {})", steps));
    loads(fmt::format("(kt + 1) * {}", v.bk));
    w.close();
    emit_products(f, L, v, "0");
    w.line("barrier();");
  }
  w.close();
}

/// Results: each subgroup stages `ef` fragments at a time in its own slice of shared memory
/// (the operand buffers are free: the K loop ends with a barrier), then calls the fused epilogue
/// once per element; consecutive lanes take consecutive columns, so stores coalesce.
void emit_results(GlslWriter& w, const Frags& f, const Variant& v, int ef, const MatMulDims& d) {
  const int tm = v.bm / v.wm, tn = v.bn / v.wn, fm = tm / 16, fn = tn / 16, cols = 16 * ef;
  const int pitch = (cols + 4) / 4;
  w.line("int scr = sg * {};", scratch_u4(ef));
  for (int i = 0; i < fm; ++i)
    for (int j0 = 0; j0 < fn; j0 += ef) {
      for (int jj = 0; jj < ef; ++jj) f.store(acc_name(i, j0 + jj), fmt::format("scr + {}", 4 * jj), pitch);
      w.line("{}", f.subgroup_barrier());
      w.open(fmt::format("for (int e = lane; e < {}; e += 32)", 16 * cols));
      w.line("int r = e / {0}, c = e % {0};", cols);
      w.line("int m = m0 + wm * {} + {} + r, n = n0 + wn * {} + {} + c;", tm, 16 * i, tn, 16 * j0);
      w.line("if (m < {} && n < {}) epilogue((b * {} + m) * {} + n, uintBitsToFloat(smem[scr + r * {} + (c >> 2)][c & 3]));",
             d.M, d.N, d.M, d.N, pitch);
      w.close();
      w.line("{}", f.subgroup_barrier());
    }
}

/// main()'s per-thread constants: subgroup and lane, the output tile (m0, n0) in grouped launch
/// order, this thread's load runs and shared-store offsets, its subgroup's fragment origins.
void emit_setup(GlslWriter& w, const Layout& L, const Variant& v, const GeneratedKernel& g, bool emu) {
  const int tm = v.bm / v.wm, tn = v.bn / v.wn;
  w.line("int lid = int(gl_LocalInvocationID.x);");
  w.line("{}", emu ? "int sg = lid / 32, lane = lid % 32;"
                   : "int sg = int(gl_SubgroupID), lane = int(gl_SubgroupInvocationID);");
  w.line("int wm = sg / {0}, wn = sg % {0};", v.wn);
  // Grouped launch order: workgroup ids run along tile columns within groups of kGroupRows tile
  // rows, so the A and B panels read by the workgroups in flight overlap and stay in L2.
  w.line("int pid = int(gl_WorkGroupID.y) * {} + int(gl_WorkGroupID.x);", g.groups_x);
  w.line("int first = pid / {} * {}, q = pid % {};", kGroupRows * g.groups_x, kGroupRows, kGroupRows * g.groups_x);
  w.line("int rows = min({} - first, {});", g.groups_y, kGroupRows);
  w.line("int m0 = (first + q % rows) * {}, n0 = (q / rows) * {};", v.bm, v.bn);
  for (const Panel* p : {&L.a, &L.b}) {
    int cpr = p->cols / 8, base = p == &L.a ? 0 : L.a.size();
    w.line("int {0}r = lid / {1}, {0}c = (lid % {1}) * 8, {0}s = {2} + {0}r * {3} + lid % {1};", p->name, cpr,
           base, p->stride);
  }
  // Each subgroup's fragment origin (uvec4) inside a stage's A and B panels.
  w.line("int fa = {};", L.a.transposed ? fmt::format("wm * {}", tm / 8) : fmt::format("wm * {}", tm * L.a.stride));
  w.line("int fb = {} + {};", L.a.size(),
         L.b.transposed ? fmt::format("wn * {}", tn * L.b.stride) : fmt::format("wn * {}", tn / 8));
}

/// `void epilogue(int l, float acc)`: the fused per-element ops on product `acc` at output linear
/// index l, then every output store.
void epilogue_function(GlslWriter& w, const KernelSpec& k) {
  w.open("void epilogue(int l, float acc)");
  BodyWriter body(w, k, "l");
  body.set_acc("acc");
  body.emit_all();
  store_outputs(w, k, "l");
  w.close();
}

}  // namespace

/// Float16-input matmul on tensor cores (see kVariants for the tile shapes). Summation order:
/// each output is the fp32 accumulation of 16-wide fragment products over K in increasing order;
/// the order inside one fragment product is the hardware's, fixed for a device, so results are
/// deterministic run to run (not bit-identical to the float32 kernel). No split-K.
GeneratedKernel matmul_coopmat(const KernelSpec& k, const Target& t) {
  const int vi = choose_variant(k, t);
  if (vi == 0) return matmul(k, t);  // no variant fits the device's shared memory
  const Variant& v = kVariants[vi - 1];
  const MatMulDims d = dims_of(k);
  const Layout L = layout_of(k, v);
  const bool emu = !t.coopmat_nv;
  const int threads = 32 * v.wm * v.wn, tm = v.bm / v.wm, tn = v.bn / v.wn;
  for (const Panel* p : {&L.a, &L.b}) {
    DESCENT_ASSERT(threads % (p->cols / 8) == 0 && (p->rows * p->cols / 8) % threads == 0,
                   "coopmat variant: panel runs must divide evenly among the threads");
  }
  int ef = v.bn / v.wn / 16;  // fragments staged per epilogue round: as many as fit
  while (ef > 1 && 16 * shared_u4(L, v, ef) > static_cast<int64_t>(t.max_shared_memory)) ef /= 2;

  GeneratedKernel g;
  g.groups_x = static_cast<uint32_t>((d.N + v.bn - 1) / v.bn);
  g.groups_y = static_cast<uint32_t>((d.M + v.bm - 1) / v.bm);
  g.groups_z = static_cast<uint32_t>(std::min<int64_t>(d.B, 65535));
  GlslWriter w;
  header(w, k, t, threads, false, !emu, emu ? "GL_EXT_control_flow_attributes" : nullptr);
  w.line("// coopmat variant {}: {}x{}x{} tiles, {}x{} subgroups, {} stage(s), loads A {} B {}{}", vi, v.bm,
         v.bn, v.bk, v.wm, v.wn, v.stages, L.a.vec ? "vec4" : "scalar", L.b.vec ? "vec4" : "scalar",
         emu ? ", emulated fragments" : "");
  for (const Panel* p : {&L.a, &L.b}) {
    const View& view = p == &L.a ? k.a_view : k.b_view;
    int input = p == &L.a ? k.a_input : k.b_input;
    if (!p->vec) load_function(w, p->name.c_str(), input, view, d.batch);
    load4_function(w, *p, input, view, d.batch);
  }
  // Packed float16 operand panels ([stage][A | B]), later the fp32 epilogue staging.
  w.line("shared uvec4 smem[{}];", shared_u4(L, v, ef));
  Frags f{w, emu};
  f.preamble();
  epilogue_function(w, k);

  w.open("void main()");
  emit_setup(w, L, v, g, emu);
  w.open(fmt::format("for (int b = int(gl_WorkGroupID.z); b < {}; b += {})", d.B, g.groups_z));
  for (int i = 0; i < tm / 16; ++i)
    for (int j = 0; j < tn / 16; ++j) f.zero(acc_name(i, j));
  if (d.K > 0) emit_k_loop(w, f, L, v, d.K);
  emit_results(w, f, v, ef, d);
  w.line("barrier();  // the next batch's operand stores reuse the staging area");
  w.close();
  w.close();
  g.source = w.str();
  return g;
}

}  // namespace internal

int coopmat_variant_count() { return internal::kVariantCount; }

}  // namespace descent::codegen
