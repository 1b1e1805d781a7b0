// GLSL for matrix products on CPU devices (lavapipe), which run a subgroup of invocations as one
// SIMD vector and turn every memory access with a lane-dependent address into a scalar loop over
// the lanes: the kernels minimise such accesses per FMA. Two shapes: register-blocked with a k
// loop (matmul_cpu) and straight-line for small B (matmul_cpu_unrolled). Both sum every output as
// one fma chain over k = 0..K-1 in increasing order, like matmul.cpp's kernels, so the choice
// never changes results. Measurements: bench/bench_cpu_matmul.cpp and docs/perf/HISTORY.md.
#include "codegen/matmul.hpp"

namespace descent::codegen::internal {

namespace {

// ---- register-blocked kernel ----------------------------------------------------------------

/// Register tile: `lanes` = subgroup width (rows on SIMD lanes), `rows` rows per lane, `cols`
/// columns per invocation, `groups` subgroups per workgroup.
struct CpuTile {
  int lanes, rows, cols, groups;
};

/// About 256 accumulators per invocation, N split evenly into blocks of at most 32 columns, and
/// rows per lane trimmed so the last row block wastes as little as possible. Measured on lavapipe
/// (AVX2) with the conv-net's fc and weight-gradient products: 256 beats 128 by 15-35% (the
/// spilled accumulators cost less than the per-lane loads they save); 384-512 and 64-column
/// blocks are slower and compile several times longer; 16-column blocks are slower.
CpuTile cpu_tile(int64_t M, int64_t N, int lanes) {
  int64_t col_blocks = (N + 31) / 32;
  int cols = static_cast<int>((N + col_blocks - 1) / col_blocks);
  int rows = std::clamp(256 / cols, 1, 16);
  int64_t lane_rows = (M + lanes - 1) / lanes;
  int64_t row_blocks = (lane_rows + rows - 1) / rows;
  rows = static_cast<int>((lane_rows + row_blocks - 1) / row_blocks);
  int groups = 1;
  while (groups * 2 * lanes <= 64 && row_blocks >= int64_t{groups} * 2 * 16) groups *= 2;
  return {lanes, rows, cols, groups};
}

/// How matmul_cpu reads its operands. 64-bit pairs (one per-lane access for two floats),
/// whichever way each operand is contiguous: along k (two k steps per access), or A along m (a
/// lane owns rows 2i, 2i+1) and B along n (a lane loads columns 2i, 2i+1 for the broadcasts).
/// Pairs along m and n have no ragged edge inside a pair: an edge pair is clamped as a whole and
/// the lane stores exactly the rows it computed.
struct BlockedPlan {
  MatMulDims d;
  int rank;
  CpuTile tile;
  bool a_pairs, b_pairs, am_pairs, bn_pairs;
  int per_load;  // columns per B load
  int chunks;    // B loads per k step
  int kstep;
  int64_t row_blocks;
};

BlockedPlan blocked_plan(const KernelSpec& k, const Target& t) {
  BlockedPlan p{dims_of(k), k.matmul_shape.rank(), {}, false, false, false, false, 0, 0, 1, 0};
  const int64_t M = p.d.M, N = p.d.N;
  p.tile = cpu_tile(M, N, static_cast<int>(t.subgroup_size));
  p.a_pairs = pairs_along(k.a_view, p.rank - 1);
  p.b_pairs = pairs_along(k.b_view, p.rank - 2);
  p.am_pairs = !p.a_pairs && M >= 2 && pairs_along(k.a_view, p.rank - 2);
  if (p.am_pairs) p.tile.rows += p.tile.rows % 2;  // rows come in pairs
  p.bn_pairs = !p.b_pairs && N % p.tile.cols == 0 && p.tile.cols % 2 == 0 && pairs_along(k.b_view, p.rank - 1);
  p.per_load = p.bn_pairs ? 2 * p.tile.lanes : p.tile.lanes;
  p.chunks = (p.tile.cols + p.per_load - 1) / p.per_load;
  p.kstep = p.a_pairs || p.b_pairs ? 2 : 1;
  const int64_t rows_per_group = int64_t{p.tile.lanes} * p.tile.rows * p.tile.groups;
  p.row_blocks = (M + rows_per_group - 1) / rows_per_group;
  return p;
}

std::string pair_load(int input, const std::string& idx) {
  return fmt::format("uintBitsToFloat(unpackUint2x32(DescentIn8(uint64_t(pc.in{})).v[({}) >> 1]))", input, idx);
}

/// The lane's rows m<r> (clamped to the matrix) and its B columns nl<j>.
void emit_lane_indices(GlslWriter& w, const BlockedPlan& p) {
  const auto& [lanes, R, C, G] = p.tile;
  w.line("int mb = (rb * {} + int(gl_SubgroupID)) * {};", G, lanes * R);
  for (int r = 0; r < R; r += p.am_pairs ? 2 : 1) {
    if (p.am_pairs) {
      w.line("int m{} = min(mb + {} + 2 * lane, {});", r, r * lanes, p.d.M - 2);
      w.line("int m{} = m{} + 1;", r + 1, r);
    } else {
      w.line("int m{} = min(mb + {} + lane, {});", r, r * lanes, p.d.M - 1);
    }
  }
  for (int j = 0; j < p.chunks; ++j) {
    if (p.bn_pairs) w.line("int nl{} = min(n0 + {} + 2 * lane, {});", j, j * p.per_load, p.d.N - 2);
    else w.line("int nl{} = min(n0 + {} + lane, {});", j, j * lanes, p.d.N - 1);
  }
}

/// One k step (kk) after the pairs of this kstep are loaded: operands, broadcasts, FMAs.
void emit_k_step(GlslWriter& w, const KernelSpec& k, const BlockedPlan& p, int u) {
  const int R = p.tile.rows, C = p.tile.cols;
  const std::string kk = u == 0 ? "kq" : "kq + 1";
  const char* comp = u == 0 ? "x" : "y";
  w.open("");
  for (int r = 0; r < R; ++r) {
    if (p.a_pairs) w.line("float a{0} = ap{0}.{1};", r, comp);
    else if (p.am_pairs && r % 2 == 0)
      w.line("vec2 am{0} = {1}; float a{0} = am{0}.x, a{2} = am{0}.y;", r,
             pair_load(k.a_input, fmt::format("index_a(b, m{}, {})", r, kk)), r + 1);
    else if (!p.am_pairs) w.line("float a{0} = load_a(b, m{0}, {1});", r, kk);
  }
  for (int j = 0; j < p.chunks; ++j) {
    if (p.b_pairs) w.line("float bl{0} = bp{0}.{1};", j, comp);
    else if (p.bn_pairs) w.line("vec2 bl{0} = {1};", j, pair_load(k.b_input, fmt::format("index_b(b, {}, nl{})", kk, j)));
    else w.line("float bl{0} = load_b(b, {1}, nl{0});", j, kk);
  }
  w.line("float bb;");
  for (int c = 0; c < C; ++c) {
    std::string src = p.bn_pairs ? fmt::format("bl{}.{}", c / p.per_load, c % 2 == 0 ? "x" : "y")
                                 : fmt::format("bl{}", c / p.per_load);
    int from = p.bn_pairs ? (c % p.per_load) / 2 : c % p.per_load;
    std::string f = fmt::format("bb = subgroupBroadcast({}, {}u);", src, from);
    for (int r = 0; r < R; ++r) f += fmt::format(" acc{0}_{1} = fma(a{0}, bb, acc{0}_{1});", r, c);
    w.line("{}", f);
  }
  w.close();
}

void emit_k_loop(GlslWriter& w, const KernelSpec& k, const BlockedPlan& p) {
  w.open(fmt::format("for (int kq = 0; kq < {}; kq += {})", p.d.K, p.kstep));
  if (p.a_pairs)
    for (int r = 0; r < p.tile.rows; ++r)
      w.line("vec2 ap{0} = {1};", r, pair_load(k.a_input, fmt::format("index_a(b, m{}, kq)", r)));
  if (p.b_pairs)
    for (int j = 0; j < p.chunks; ++j)
      w.line("vec2 bp{0} = {1};", j, pair_load(k.b_input, fmt::format("index_b(b, kq, nl{})", j)));
  for (int u = 0; u < p.kstep; ++u) emit_k_step(w, k, p, u);
  w.close();
}

/// The fused per-element ops, once per output element, then the stores (as 32-bit words: 64-bit
/// column pairs measured slower or equal here). With one column block (C == N) the column is a
/// constant, so reads that depend only on it (a bias) are uniform.
void emit_blocked_epilogue(GlslWriter& w, const KernelSpec& k, const BlockedPlan& p) {
  const int64_t M = p.d.M, N = p.d.N;
  const bool split = p.tile.cols == N;
  for (int r = 0; r < p.tile.rows; ++r) {
    for (int c = 0; c < p.tile.cols; ++c) {
      w.open("");
      w.line("int l = (b * {} + m{}) * {} + min(n0 + {}, {});", M, r, N, c, N - 1);
      BodyWriter body(w, k, "l");
      body.set_acc(fmt::format("acc{}_{}", r, c));
      if (split) body.set_split(fmt::format("(b * {} + m{})", M, r), N, c);
      body.emit_all();
      store_outputs(w, k, "l");
      w.close();
    }
  }
}

// ---- straight-line kernel for small B ---------------------------------------------------------

struct UnrolledPlan {
  MatMulDims d;
  int rank;
  bool unroll_b;  // B's batch coordinate matters: batches unrolled (so it is a constant)
  int64_t nb;     // batches per invocation
  int rows;       // output rows per invocation
  bool a_pairs;
};

/// False when the shape does not qualify (large B, many batches of B).
bool unrolled_plan(const KernelSpec& k, UnrolledPlan* p) {
  p->d = dims_of(k);
  p->rank = k.matmul_shape.rank();
  const auto& [M, N, K, B, batch] = p->d;
  // Batches of B: a runtime batch index is fine only when B's view ignores it.
  int64_t base = 0;
  auto bst = k.b_view.output_strides(&base);
  p->unroll_b = false;
  for (int j = 0; j < p->rank - 2; ++j)
    if (batch[j] > 1 && (k.b_view.any_bounds() || bst[static_cast<size_t>(j)] != 0)) p->unroll_b = true;
  p->nb = p->unroll_b ? B : 1;
  if (p->unroll_b && B > 4) return false;
  // Rows per invocation: measured best 2 for N = 16 and 1 for N = 72 (conv-net, lavapipe). The
  // driver's compile time grows faster than linearly with the unrolled FMAs (0.6 s for 4608), so
  // keep them to about 2304 and leave larger B to matmul_cpu.
  p->rows = std::clamp(static_cast<int>(32 / N), 1, 4);
  while (p->rows > 1 && p->nb * p->rows * K * N > 2304) --p->rows;
  if (K > 256 || p->nb * p->rows * K * N > 4096) return false;
  p->a_pairs = pairs_along(k.a_view, p->rank - 1);
  return true;
}

/// Coordinates of A (batch + [rows, cols]) at linear batch `b`, row `r`, column `c`.
std::vector<std::string> a_coords(const UnrolledPlan& p, const std::string& b, const std::string& r,
                                  const std::string& c) {
  std::vector<std::string> e;
  const Shape& batch = p.d.batch;
  auto ds = batch.strides();
  for (int j = 0; j < p.rank - 2; ++j) {
    std::string x = ds[j] == 1 ? b : fmt::format("({} / {})", b, ds[j]);
    e.push_back(batch[j] == 1 ? "0" : fmt::format("({} % {})", x, batch[j]));
  }
  e.push_back(r);
  e.push_back(c);
  return e;
}

/// Declares A at (b, m<r>, kq) and returns its name. Written inline: the body is one huge basic
/// block, and inlining thousands of load_a calls into it is quadratic in the driver's compiler
/// (25 s for the conv-net's conv2 on lavapipe).
std::string emit_a(GlslWriter& w, const KernelSpec& k, const UnrolledPlan& p, const std::string& b, int r,
                   int64_t kq) {
  std::string cond, m = fmt::format("m{}", r);
  if (p.a_pairs) {
    if (kq % 2 == 0) {
      std::string idx = index_at(w, k.a_view, a_coords(p, b, m, fmt::format("{}", kq)), &cond, "q");
      w.line("vec2 a{}_{} = {};", r, kq, pair_load(k.a_input, idx));
    }
    w.line("float a{0}{2} = a{0}_{1}.{2};", r, kq - kq % 2, kq % 2 == 0 ? "x" : "y");
    return fmt::format("a{}{}", r, kq % 2 == 0 ? "x" : "y");
  }
  std::string idx = index_at(w, k.a_view, a_coords(p, b, m, fmt::format("{}", kq)), &cond,
                             fmt::format("q{}_{}_", r, kq));
  w.line("float a{} = pc.in{}.v[{}];", r, k.a_input, idx);
  if (!cond.empty()) w.line("a{0} = ({1}) ? a{0} : 0.0;", r, cond);
  return fmt::format("a{}", r);
}

/// Epilogue at constant columns (bias reads are uniform); adjacent columns stored as one 64-bit
/// word where that measured faster (pair_stores: conv1 with two outputs 82 -> 67 ms).
void emit_unrolled_epilogue(GlslWriter& w, const KernelSpec& k, const UnrolledPlan& p, const std::string& b) {
  const int64_t M = p.d.M, N = p.d.N;
  const bool pairs = pair_stores(k) && N % 2 == 0;
  for (int r = 0; r < p.rows; ++r) {
    for (int64_t c = 0; c < N; c += pairs ? 2 : 1) {
      w.open("");
      for (int h = 0; h < (pairs ? 2 : 1); ++h) {
        std::string sfx = fmt::format("_{}", h);
        w.line("int l{} = ({} * {} + m{}) * {} + {};", sfx, b, M, r, N, c + h);
        BodyWriter body(w, k, "l" + sfx);
        body.set_name_suffix(sfx);
        body.set_acc(fmt::format("acc{}_{}", r, c + h));
        body.set_split(fmt::format("({} * {} + m{})", b, M, r), N, c + h);
        body.emit_all();
      }
      for (size_t o = 0; o < k.outputs.size(); ++o) {
        int v = k.outputs[o].first;
        if (pairs)
          w.line("DescentOut8(uint64_t(pc.out{0})).v[l_0 >> 1] = packUint2x32(floatBitsToUint(vec2(t{1}_0, t{1}_1)));",
                 o, v);
        else
          w.line("pc.out{}.v[l_0] = t{}_0;", o, v);
      }
      w.close();
    }
  }
}

/// All rows of the invocation for linear batch `bb` (or the runtime batch b).
void emit_unrolled_batch(GlslWriter& w, const KernelSpec& k, const UnrolledPlan& p, int64_t bb) {
  const int rank = p.rank;
  const std::string b = p.unroll_b ? fmt::format("{}", bb) : std::string("b");
  // B at constant addresses (computed here); zero padding reads the run's +0.0.
  std::vector<int64_t> bc(static_cast<size_t>(rank), 0);
  auto ds = p.d.batch.strides();
  for (int j = 0; j < rank - 2 && p.unroll_b; ++j) bc[static_cast<size_t>(j)] = (bb / ds[j]) % p.d.batch[j];
  auto b_elem = [&](int64_t kq, int64_t n) {
    bc[static_cast<size_t>(rank - 2)] = kq;
    bc[static_cast<size_t>(rank - 1)] = n;
    int64_t flat = 0;
    return k.b_view.address(bc.data(), &flat) ? fmt::format("pc.in{}.v[{}]", k.b_input, flat)
                                               : std::string("pc.run.zero");
  };
  w.open("");
  for (int r = 0; r < p.rows; ++r)
    for (int64_t c = 0; c < p.d.N; ++c) w.line("precise float acc{}_{} = 0.0;", r, c);
  for (int64_t kq = 0; kq < p.d.K; ++kq) {
    if (!p.a_pairs || kq % 2 == 0) w.open("");  // scope of the pair and of a<r>
    for (int r = 0; r < p.rows; ++r) {
      std::string a = emit_a(w, k, p, b, r, kq);
      std::string line;
      for (int64_t c = 0; c < p.d.N; ++c)
        line += fmt::format("acc{0}_{1} = fma({3}, {2}, acc{0}_{1}); ", r, c, b_elem(kq, c), a);
      w.line("{}", line);
    }
    if (!p.a_pairs || kq % 2 == 1) w.close();
  }
  emit_unrolled_epilogue(w, k, p, b);
  w.close();
}

}  // namespace

/// Register-blocked kernel: rows sit on the lanes (`rows` per lane, one A load each per k), and
/// the `cols` B values of a k step are read a subgroup at a time, one per lane, then handed to
/// every lane with subgroupBroadcast (a register extract on lavapipe). No shared memory, no
/// barriers. Rows and columns past the edges are clamped: those lanes recompute the last valid
/// element and store the same bits to the same place, so no branch is needed (outputs never
/// alias a matmul's inputs). Grid-stride loops only where the grid cannot cover the extent.
GeneratedKernel matmul_cpu(const KernelSpec& k, const Target& t) {
  const BlockedPlan p = blocked_plan(k, t);
  const int64_t B = p.d.B;
  GeneratedKernel g;
  g.groups_x = groups_for(p.row_blocks, 1, t.max_groups_x);
  g.groups_y = static_cast<uint32_t>((p.d.N + p.tile.cols - 1) / p.tile.cols);
  g.groups_z = static_cast<uint32_t>(std::min<int64_t>(B, 65535));
  GlslWriter w;
  header(w, k, t, p.tile.lanes * p.tile.groups, false, false, nullptr, true);
  load_function(w, "a", k.a_input, k.a_view, p.d.batch);
  load_function(w, "b", k.b_input, k.b_view, p.d.batch);
  if (p.a_pairs || p.am_pairs) index_function(w, "a", k.a_view, p.d.batch);
  if (p.b_pairs || p.bn_pairs) index_function(w, "b", k.b_view, p.d.batch);
  w.open("void main()");
  w.line("int lane = int(gl_SubgroupInvocationID);");
  w.line("int n0 = int(gl_WorkGroupID.y) * {};", p.tile.cols);
  const bool loop_b = B > g.groups_z, loop_rows = p.row_blocks > g.groups_x;
  if (loop_b) w.open(fmt::format("for (int b = int(gl_WorkGroupID.z); b < {}; b += {})", B, g.groups_z));
  else w.line("int b = int(gl_WorkGroupID.z);");
  if (loop_rows)
    w.open(fmt::format("for (int rb = int(gl_WorkGroupID.x); rb < {}; rb += {})", p.row_blocks, g.groups_x));
  else w.line("int rb = int(gl_WorkGroupID.x);");
  emit_lane_indices(w, p);
  for (int r = 0; r < p.tile.rows; ++r)
    for (int c = 0; c < p.tile.cols; ++c) w.line("precise float acc{}_{} = 0.0;", r, c);
  emit_k_loop(w, k, p);
  emit_blocked_epilogue(w, k, p);
  if (loop_rows) w.close();
  if (loop_b) w.close();
  w.close();
  g.source = w.str();
  return g;
}

/// Straight-line kernel when B is small (K * N * batches up to 4096): every invocation computes
/// `rows` full output rows with the k loop and B's batches unrolled, so every read of B has a
/// constant address outside any control flow, which lavapipe performs once per SIMD vector
/// instead of once per lane; A and the stores are the only per-lane accesses, and they run
/// outside control flow (cheaper there). Same clamping as matmul_cpu. Returns false when the
/// shape does not qualify.
bool matmul_cpu_unrolled(const KernelSpec& k, const Target& t, GeneratedKernel& g) {
  UnrolledPlan p;
  if (!unrolled_plan(k, &p)) return false;
  const int64_t M = p.d.M, B = p.d.B;
  const int local = 64;
  const int64_t groups = ((M + p.rows - 1) / p.rows + local - 1) / local;
  g.groups_x = static_cast<uint32_t>(std::min<int64_t>(groups, std::min<int64_t>(t.max_groups_x, 65535)));
  g.groups_y = static_cast<uint32_t>((groups + g.groups_x - 1) / g.groups_x);
  g.groups_z = static_cast<uint32_t>(p.unroll_b ? 1 : B);
  if (g.groups_y > 65535 || (!p.unroll_b && B > 65535)) return false;
  GlslWriter w;
  header(w, k, t, local);
  w.open("void main()");
  w.line("int gid = (int(gl_WorkGroupID.y) * {} + int(gl_WorkGroupID.x)) * {} + int(gl_LocalInvocationID.x);",
         g.groups_x, local);
  for (int r = 0; r < p.rows; ++r) w.line("int m{} = min(gid * {} + {}, {});", r, p.rows, r, M - 1);
  if (!p.unroll_b) w.line("int b = int(gl_WorkGroupID.z);");
  for (int64_t bb = 0; bb < p.nb; ++bb) emit_unrolled_batch(w, k, p, bb);
  w.close();
  g.source = w.str();
  return true;
}

}  // namespace descent::codegen::internal
