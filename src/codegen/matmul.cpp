// GLSL generation for matrix products: the float32 tiled kernel (GPUs), the register-blocked
// kernel (CPU devices) and the float16-input cooperative-matrix kernel. Every output element is
// summed in a fixed order; per-element consumers run as the epilogue. Writes GLSL only.
#include "codegen/body.hpp"

namespace descent::codegen::internal {

/// Extents of a matmul kernel: output rows M, columns N, inner K, B batches of shape `batch`.
struct MatMulDims {
  int64_t M, N, K, B;
  Shape batch;
};

MatMulDims dims_of(const KernelSpec& k) {
  const Shape& s = k.matmul_shape;
  int r = s.rank();
  Shape batch = s.remove_axis(-1).remove_axis(-1);
  return {s[r - 2], s[r - 1], k.a_view.output[r - 1], batch.element_count(), batch};
}

/// One workgroup per `tile` x `tile` output block; batches on z (grid-strided past 65535).
void set_groups(GeneratedKernel& g, int64_t M, int64_t N, int64_t B, int tile) {
  g.groups_x = static_cast<uint32_t>((N + tile - 1) / tile);
  g.groups_y = static_cast<uint32_t>((M + tile - 1) / tile);
  g.groups_z = static_cast<uint32_t>(std::min<int64_t>(B, 65535));
}

/// GLSL function `float load_<name>(int b, int r, int c)`: operand element at batch b, row r,
/// column c, read through its view (zero outside zero padding).
void load_function(GlslWriter& w, const char* name, int input, const View& v, const Shape& batch) {
  w.open(fmt::format("float load_{}(int b, int r, int c)", name));
  std::vector<std::string> coords;
  auto ds = batch.strides();
  for (int j = 0; j < batch.rank(); ++j) {
    std::string e = "b";
    if (ds[j] != 1) e = fmt::format("(b / {})", ds[j]);
    if (j > 0) e = fmt::format("({} % {})", e, batch[j]);
    coords.push_back(batch[j] == 1 ? "0" : e);
  }
  coords.push_back("r");
  coords.push_back("c");
  std::string cond;
  std::string idx = index_at(w, v, coords, &cond, "q");
  if (cond.empty()) w.line("return pc.in{}.v[{}];", input, idx);
  else w.line("return ({}) ? pc.in{}.v[{}] : 0.0;", cond, input, idx);
  w.close();
}

/// GLSL function `int index_<name>(int b, int r, int c)`: flat source index of a view without
/// bounds (see load_function).
void index_function(GlslWriter& w, const char* name, const View& v, const Shape& batch) {
  w.open(fmt::format("int index_{}(int b, int r, int c)", name));
  std::vector<std::string> coords;
  auto ds = batch.strides();
  for (int j = 0; j < batch.rank(); ++j) {
    std::string e = "b";
    if (ds[j] != 1) e = fmt::format("(b / {})", ds[j]);
    if (j > 0) e = fmt::format("({} % {})", e, batch[j]);
    coords.push_back(batch[j] == 1 ? "0" : e);
  }
  coords.push_back("r");
  coords.push_back("c");
  std::string cond;
  w.line("return {};", index_at(w, v, coords, &cond, "q"));
  w.close();
}

/// A view (batch + [rows, cols]) read two elements at a time along `axis` (its last or second
/// to last) as aligned 64-bit words: no bounds, unit stride on `axis`, every other stride and the
/// base even, and an even extent along `axis`.
bool pairs_along(const View& v, int axis) {
  if (v.any_bounds() || v.output[axis] % 2 != 0) return false;
  int64_t base = 0;
  auto st = v.output_strides(&base);
  if (st[static_cast<size_t>(axis)] != 1 || base % 2 != 0) return false;
  for (int j = 0; j < v.output.rank(); ++j)
    if (j != axis && v.output[j] > 1 && st[static_cast<size_t>(j)] % 2 != 0) return false;
  return true;
}

/// True when consecutive elements along output axis `axis` of `v` are adjacent in memory.
bool unit_stride(const View& v, int axis) {
  if (v.any_bounds()) return false;
  int64_t base = 0;
  return v.output_strides(&base)[static_cast<size_t>(axis)] == 1;
}

/// Register tile of the CPU kernel: `lanes` = subgroup width (rows on SIMD lanes), `rows` rows per
/// lane, `cols` columns per invocation, `groups` subgroups per workgroup.
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

/// Matrix product for CPU devices (lavapipe), which run `lanes` invocations as one SIMD vector and
/// turn every memory access with a lane-dependent address into a scalar loop over the lanes. The
/// kernel therefore minimises memory operations per FMA: rows sit on the lanes (`rows` per lane,
/// one A load each per k), and the `cols` B values of a k step are read `lanes` at a time, one
/// per lane, then handed to every lane with subgroupBroadcast (a register shuffle). No shared
/// memory, no barriers. Operands contiguous along k are read as 64-bit pairs (two k steps per
/// access). Rows and columns past the edges are clamped: those lanes recompute the last valid
/// element and store the same bits to the same place, so no branch is needed (outputs never
/// alias a matmul's inputs). Each output is one fma chain over k = 0..K-1 in increasing order,
/// exactly as in the other kernels: the tile shape does not change the results.
GeneratedKernel matmul_cpu(const KernelSpec& k, const Target& t) {
  const auto [M, N, K, B, batch] = dims_of(k);
  const int rank = k.matmul_shape.rank();
  CpuTile tile = cpu_tile(M, N, static_cast<int>(t.subgroup_size));
  // 64-bit pairs (one per-lane access for two floats), whichever way each operand is contiguous:
  // along k (two k steps per access), or A along m (a lane owns rows 2i, 2i+1) and B along n (a
  // lane loads columns 2i, 2i+1 for the broadcasts). Pairs along m and n need no ragged edge
  // inside a pair: an edge pair is clamped as a whole and the lane stores what it computed.
  const bool a_pairs = pairs_along(k.a_view, rank - 1);
  const bool b_pairs = pairs_along(k.b_view, rank - 2);
  const bool am_pairs = !a_pairs && M >= 2 && pairs_along(k.a_view, rank - 2);
  if (am_pairs) tile.rows += tile.rows % 2;  // rows come in pairs
  const bool bn_pairs = !b_pairs && N % tile.cols == 0 && tile.cols % 2 == 0 && pairs_along(k.b_view, rank - 1);
  const int S = tile.lanes, R = tile.rows, C = tile.cols, G = tile.groups;
  const int per_load = bn_pairs ? 2 * S : S;          // columns per B load
  const int chunks = (C + per_load - 1) / per_load;  // B loads per k step
  const int64_t rows_per_group = int64_t{S} * R * G;
  const int64_t row_blocks = (M + rows_per_group - 1) / rows_per_group;
  const int kstep = a_pairs || b_pairs ? 2 : 1;
  GeneratedKernel g;
  g.groups_x = groups_for(row_blocks, 1, t.max_groups_x);
  g.groups_y = static_cast<uint32_t>((N + C - 1) / C);
  g.groups_z = static_cast<uint32_t>(std::min<int64_t>(B, 65535));
  GlslWriter w;
  header(w, k, t, S * G, false, false, true);
  load_function(w, "a", k.a_input, k.a_view, batch);
  load_function(w, "b", k.b_input, k.b_view, batch);
  if (a_pairs || am_pairs) index_function(w, "a", k.a_view, batch);
  if (b_pairs || bn_pairs) index_function(w, "b", k.b_view, batch);
  w.open("void main()");
  w.line("int lane = int(gl_SubgroupInvocationID);");
  w.line("int n0 = int(gl_WorkGroupID.y) * {};", C);
  // Grid-stride loops only where the grid cannot cover the extent (they cost speed on CPUs).
  const bool loop_b = B > g.groups_z, loop_rows = row_blocks > g.groups_x;
  if (loop_b) w.open(fmt::format("for (int b = int(gl_WorkGroupID.z); b < {}; b += {})", B, g.groups_z));
  else w.line("int b = int(gl_WorkGroupID.z);");
  if (loop_rows) w.open(fmt::format("for (int rb = int(gl_WorkGroupID.x); rb < {}; rb += {})", row_blocks, g.groups_x));
  else w.line("int rb = int(gl_WorkGroupID.x);");
  w.line("int mb = (rb * {} + int(gl_SubgroupID)) * {};", G, S * R);
  if (am_pairs) {
    for (int r = 0; r < R; r += 2) {
      w.line("int m{} = min(mb + {} + 2 * lane, {});", r, r * S, M - 2);
      w.line("int m{} = m{} + 1;", r + 1, r);
    }
  } else {
    for (int r = 0; r < R; ++r) w.line("int m{} = min(mb + {} + lane, {});", r, r * S, M - 1);
  }
  for (int j = 0; j < chunks; ++j) {
    if (bn_pairs) w.line("int nl{} = min(n0 + {} + 2 * lane, {});", j, j * per_load, N - 2);
    else w.line("int nl{} = min(n0 + {} + lane, {});", j, j * S, N - 1);
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) w.line("precise float acc{}_{} = 0.0;", r, c);
  w.open(fmt::format("for (int kq = 0; kq < {}; kq += {})", K, kstep));
  auto pair = [&](int input, const std::string& idx) {
    return fmt::format("uintBitsToFloat(unpackUint2x32(DescentIn8(uint64_t(pc.in{})).v[({}) >> 1]))", input, idx);
  };
  if (a_pairs)
    for (int r = 0; r < R; ++r) w.line("vec2 ap{0} = {1};", r, pair(k.a_input, fmt::format("index_a(b, m{}, kq)", r)));
  if (b_pairs)
    for (int j = 0; j < chunks; ++j) w.line("vec2 bp{0} = {1};", j, pair(k.b_input, fmt::format("index_b(b, kq, nl{})", j)));
  for (int u = 0; u < kstep; ++u) {
    w.open("");
    std::string kk = u == 0 ? "kq" : "kq + 1";
    const char* comp = u == 0 ? "x" : "y";
    for (int r = 0; r < R; ++r) {
      if (a_pairs) w.line("float a{0} = ap{0}.{1};", r, comp);
      else if (am_pairs && r % 2 == 0)
        w.line("vec2 am{0} = {1}; float a{0} = am{0}.x, a{2} = am{0}.y;", r,
               pair(k.a_input, fmt::format("index_a(b, m{}, {})", r, kk)), r + 1);
      else if (!am_pairs) w.line("float a{0} = load_a(b, m{0}, {1});", r, kk);
    }
    for (int j = 0; j < chunks; ++j) {
      if (b_pairs) w.line("float bl{0} = bp{0}.{1};", j, comp);
      else if (bn_pairs) w.line("vec2 bl{0} = {1};", j, pair(k.b_input, fmt::format("index_b(b, {}, nl{})", kk, j)));
      else w.line("float bl{0} = load_b(b, {1}, nl{0});", j, kk);
    }
    w.line("float bb;");
    for (int c = 0; c < C; ++c) {
      std::string src = bn_pairs ? fmt::format("bl{}.{}", c / per_load, c % 2 == 0 ? "x" : "y")
                                 : fmt::format("bl{}", c / per_load);
      int from = bn_pairs ? (c % per_load) / 2 : c % per_load;
      std::string f = fmt::format("bb = subgroupBroadcast({}, {}u);", src, from);
      for (int r = 0; r < R; ++r) f += fmt::format(" acc{0}_{1} = fma(a{0}, bb, acc{0}_{1});", r, c);
      w.line("{}", f);
    }
    w.close();
  }
  w.close();
  // Epilogue: the fused per-element ops, once per output element, then the stores (as 32-bit
  // words: 64-bit column pairs measured slower or equal here). With one column block
  // (C == N) the column is a constant, so reads that depend only on it (a bias) are uniform.
  const bool split = C == N;
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) {
      w.open("");
      w.line("int l = (b * {} + m{}) * {} + min(n0 + {}, {});", M, r, N, c, N - 1);
      BodyWriter body(w, k, "l");
      body.set_acc(fmt::format("acc{}_{}", r, c));
      if (split) body.set_split(fmt::format("(b * {} + m{})", M, r), N, c);
      body.emit_all();
      for (size_t o = 0; o < k.outputs.size(); ++o) w.line("pc.out{}.v[l] = t{};", o, k.outputs[o].first);
      w.close();
    }
  }
  if (loop_rows) w.close();
  if (loop_b) w.close();
  w.close();
  g.source = w.str();
  return g;
}

/// Matrix product for CPU devices when B is small (K * N * batches up to 4096): the whole
/// kernel is straight-line code. Every invocation computes `rows` full output rows, the k loop
/// is unrolled and batches are too (B's batch coordinate must be a constant), so every read of B
/// has a constant address outside any control flow, which lavapipe performs once per SIMD vector
/// instead of once per lane; A and the stores are the only per-lane accesses, and they run
/// outside control flow (cheaper there). Same clamping and summation order as matmul_cpu.
/// Returns false when the shape does not qualify.
bool matmul_cpu_unrolled(const KernelSpec& k, const Target& t, GeneratedKernel& g) {
  const auto [M, N, K, B, batch] = dims_of(k);
  const int rank = k.matmul_shape.rank();
  // Batches of B: a runtime batch index is fine only when B's view ignores it.
  int64_t base = 0;
  auto bst = k.b_view.output_strides(&base);
  bool b_batch_free = true;
  for (int j = 0; j < rank - 2; ++j)
    if (batch[j] > 1 && (k.b_view.any_bounds() || bst[static_cast<size_t>(j)] != 0)) b_batch_free = false;
  const bool unroll_b = !b_batch_free;
  const int64_t nb = unroll_b ? B : 1;
  if (unroll_b && B > 4) return false;
  // Rows per invocation: measured best 2 for N = 16 and 1 for N = 72 (conv-net, lavapipe). The
  // driver's compile time grows faster than linearly with the unrolled FMAs (0.6 s for 4608), so
  // keep them to about 2304 and leave larger B to matmul_cpu.
  int R = std::clamp(static_cast<int>(32 / N), 1, 4);
  while (R > 1 && nb * R * K * N > 2304) --R;
  if (K > 256 || nb * R * K * N > 4096) return false;
  const int64_t threads = (M + R - 1) / R;
  const int local = 64;
  const int64_t groups = (threads + local - 1) / local;
  const int64_t lim_x = std::min<int64_t>(t.max_groups_x, 65535);
  g.groups_x = static_cast<uint32_t>(std::min(groups, lim_x));
  g.groups_y = static_cast<uint32_t>((groups + g.groups_x - 1) / g.groups_x);
  g.groups_z = static_cast<uint32_t>(unroll_b ? 1 : B);
  if (g.groups_y > 65535 || (!unroll_b && B > 65535)) return false;
  const bool a_pairs = pairs_along(k.a_view, rank - 1);
  // No GLSL function calls here: the body is one huge basic block, and inlining thousands of
  // calls into it is quadratic in the driver's compiler (25 s for conv2 on lavapipe).
  auto bcoords = [&](int64_t b) {  // batch coordinates of linear batch b
    std::vector<int64_t> c(static_cast<size_t>(rank), 0);
    auto ds = batch.strides();
    for (int j = 0; j < rank - 2; ++j) c[static_cast<size_t>(j)] = (b / ds[j]) % batch[j];
    return c;
  };
  auto a_coords = [&](const std::string& b, const std::string& r, const std::string& c) {
    std::vector<std::string> e;
    auto ds = batch.strides();
    for (int j = 0; j < rank - 2; ++j) {
      std::string x = ds[j] == 1 ? b : fmt::format("({} / {})", b, ds[j]);
      e.push_back(batch[j] == 1 ? "0" : fmt::format("({} % {})", x, batch[j]));
    }
    e.push_back(r);
    e.push_back(c);
    return e;
  };
  GlslWriter w;
  header(w, k, t, local);
  w.open("void main()");
  w.line("int gid = (int(gl_WorkGroupID.y) * {} + int(gl_WorkGroupID.x)) * {} + int(gl_LocalInvocationID.x);",
         g.groups_x, local);
  for (int r = 0; r < R; ++r) w.line("int m{} = min(gid * {} + {}, {});", r, R, r, M - 1);
  if (!unroll_b) w.line("int b = int(gl_WorkGroupID.z);");
  for (int64_t bb = 0; bb < nb; ++bb) {
    w.open("");
    const std::string b = unroll_b ? fmt::format("{}", bb) : std::string("b");
    // B at constant addresses (computed here); zero padding reads the run's +0.0.
    std::vector<int64_t> bc = bcoords(unroll_b ? bb : 0);
    auto b_elem = [&](int64_t kq, int64_t n) {
      bc[static_cast<size_t>(rank - 2)] = kq;
      bc[static_cast<size_t>(rank - 1)] = n;
      int64_t flat = 0;
      return k.b_view.address(bc.data(), &flat) ? fmt::format("pc.in{}.v[{}]", k.b_input, flat)
                                                 : std::string("pc.run.zero");
    };
    for (int r = 0; r < R; ++r)
      for (int64_t c = 0; c < N; ++c) w.line("precise float acc{}_{} = 0.0;", r, c);
    for (int64_t kq = 0; kq < K; ++kq) {
      if (a_pairs && kq % 2 == 0) w.open("");  // scope of the pair and of a<r>
      else if (!a_pairs) w.open("");
      for (int r = 0; r < R; ++r) {
        std::string cond, m = fmt::format("m{}", r);
        if (a_pairs) {
          if (kq % 2 == 0) {
            std::string idx = index_at(w, k.a_view, a_coords(b, m, fmt::format("{}", kq)), &cond, "q");
            w.line("vec2 a{0}_{1} = uintBitsToFloat(unpackUint2x32(DescentIn8(uint64_t(pc.in{2})).v[({3}) >> 1]));",
                   r, kq, k.a_input, idx);
          }
          w.line("float a{0}{2} = a{0}_{1}.{2};", r, kq - kq % 2, kq % 2 == 0 ? "x" : "y");
        } else {
          std::string idx = index_at(w, k.a_view, a_coords(b, m, fmt::format("{}", kq)),
                                     &cond, fmt::format("q{}_{}_", r, kq));
          w.line("float a{} = pc.in{}.v[{}];", r, k.a_input, idx);
          if (!cond.empty()) w.line("a{0} = ({1}) ? a{0} : 0.0;", r, cond);
        }
        std::string a = a_pairs ? fmt::format("a{}{}", r, kq % 2 == 0 ? "x" : "y") : fmt::format("a{}", r);
        std::string line;
        for (int64_t c = 0; c < N; ++c)
          line += fmt::format("acc{0}_{1} = fma({3}, {2}, acc{0}_{1}); ", r, c, b_elem(kq, c), a);
        w.line("{}", line);
      }
      if (!a_pairs || kq % 2 == 1) w.close();
    }
    // Epilogue at constant columns (bias reads are uniform); adjacent columns stored as one
    // 64-bit word where that measured faster (pair_stores: conv1 with two outputs 82 -> 67 ms).
    const bool pairs = pair_stores(k) && N % 2 == 0;
    for (int r = 0; r < R; ++r) {
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
            w.line("DescentOut8(uint64_t(pc.out{0})).v[l_0 >> 1] = packUint2x32(floatBitsToUint(vec2(t{1}_0, t{1}_1)));", o, v);
          else
            w.line("pc.out{}.v[l_0] = t{}_0;", o, v);
        }
        w.close();
      }
    }
    w.close();
  }
  w.close();
  g.source = w.str();
  return true;
}

/// Matrix product with fused epilogue. Every output element is one thread's sum over k = 0..K-1
/// in increasing order with fused multiply-adds (`precise`), whatever the tile shapes: results
/// depend only on K, never on the schedule. GPUs: 128x128 tiles staged in shared memory, 256
/// threads of 8x8 outputs, loads arranged along each operand's contiguous axis. CPU devices:
/// no shared memory (slow on lavapipe), 64 threads of 8x8 outputs reading memory directly.
GeneratedKernel matmul(const KernelSpec& k, const Target& t) {
  const auto [M, N, K, B, batch] = dims_of(k);
  bool gpu = !t.cpu;
  const int tm = 8, tn = 8, tile = gpu ? 128 : 64, bk = 16;
  int local = gpu ? 256 : 64;
  GeneratedKernel g;
  set_groups(g, M, N, B, tile);
  GlslWriter w;
  header(w, k, t, local);
  load_function(w, "a", k.a_input, k.a_view, batch);
  load_function(w, "b", k.b_input, k.b_view, batch);
  if (gpu) {
    // [k][m] and [k][n] tiles as vec4 rows (128 floats + 4 padding) for 128-bit shared reads.
    w.line("shared vec4 As[{}][{}];", bk, tile / 4 + 1);
    w.line("shared vec4 Bs[{}][{}];", bk, tile / 4 + 1);
  }
  w.open("void main()");
  w.line("int lid = int(gl_LocalInvocationID.x);");
  w.line("int tx = lid % {0}, ty = lid / {0};", gpu ? 16 : 8);
  w.line("int n0 = int(gl_WorkGroupID.x) * {}, m0 = int(gl_WorkGroupID.y) * {};", tile, tile);
  w.open(fmt::format("for (int b = int(gl_WorkGroupID.z); b < {}; b += {})", B, g.groups_z));
  w.line("precise float acc[{}][{}];", tm, tn);
  w.line("for (int i = 0; i < {}; ++i) for (int j = 0; j < {}; ++j) acc[i][j] = 0.0;", tm, tn);
  // GPUs: thread (tx, ty) owns rows ty*4 + {0..3} and 64 + ty*4 + {0..3}, and the same for
  // columns with tx, so each k step reads two vec4 of A and two of B from shared memory.
  // CPUs: rows ty * 8 + i and columns tx + 8 j, so the SIMD lanes (consecutive tx) read one
  // broadcast A element and consecutive B elements instead of gathering.
  std::string row = gpu ? "m0 + (i >> 2) * 64 + ty * 4 + (i & 3)" : "m0 + ty * 8 + i";
  std::string col = gpu ? "n0 + (j >> 2) * 64 + tx * 4 + (j & 3)" : "n0 + tx + 8 * j";
  if (gpu) {
    const int r = k.matmul_shape.rank();
    bool a_m_fast = !unit_stride(k.a_view, r - 1) && unit_stride(k.a_view, r - 2);
    bool b_k_fast = !unit_stride(k.b_view, r - 1) && unit_stride(k.b_view, r - 2);
    w.open(fmt::format("for (int k0 = 0; k0 < {}; k0 += {})", K, bk));
    // A tile [128 x 16]: 8 elements per thread, consecutive threads along A's contiguous axis.
    w.open("for (int i = 0; i < 8; ++i)");
    if (a_m_fast) w.line("int mm = lid % 128, kk = lid / 128 + 2 * i;");
    else w.line("int mm = lid / 16 + 16 * i, kk = lid % 16;");
    w.line("int m = m0 + mm, kq = k0 + kk;");
    w.line("As[kk][mm >> 2][mm & 3] = (m < {} && kq < {}) ? load_a(b, m, kq) : 0.0;", M, K);
    w.close();
    w.open("for (int i = 0; i < 8; ++i)");
    if (b_k_fast) w.line("int nn = lid / 16 + 16 * i, kk = lid % 16;");
    else w.line("int nn = lid % 128, kk = lid / 128 + 2 * i;");
    w.line("int n = n0 + nn, kq = k0 + kk;");
    w.line("Bs[kk][nn >> 2][nn & 3] = (n < {} && kq < {}) ? load_b(b, kq, n) : 0.0;", N, K);
    w.close();
    w.line("barrier();");
    w.open(fmt::format("for (int kk = 0; kk < {}; ++kk)", bk));
    w.line("vec4 a0 = As[kk][ty], a1 = As[kk][16 + ty], b0 = Bs[kk][tx], b1 = Bs[kk][16 + tx];");
    w.line("float av[8] = float[8](a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w);");
    w.line("float bv[8] = float[8](b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w);");
    w.line("for (int i = 0; i < 8; ++i) for (int j = 0; j < 8; ++j) acc[i][j] = fma(av[i], bv[j], acc[i][j]);");
    w.close();
    w.line("barrier();");
    w.close();
  } else {
    w.open(fmt::format("for (int kq = 0; kq < {}; ++kq)", K));
    w.line("float av[8], bv[8];");
    w.line("for (int i = 0; i < 8; ++i) {{ int m = {}; av[i] = m < {} ? load_a(b, m, kq) : 0.0; }}", row, M);
    w.line("for (int j = 0; j < 8; ++j) {{ int n = {}; bv[j] = n < {} ? load_b(b, kq, n) : 0.0; }}", col, N);
    w.line("for (int i = 0; i < 8; ++i) for (int j = 0; j < 8; ++j) acc[i][j] = fma(av[i], bv[j], acc[i][j]);");
    w.close();
  }
  // Epilogue: the fused per-element ops, once per output element, then the stores.
  w.open(fmt::format("for (int i = 0; i < {}; ++i)", tm));
  w.open(fmt::format("for (int j = 0; j < {}; ++j)", tn));
  w.line("int m = {}, n = {};", row, col);
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

/// Float16-input matmul on tensor cores (VK_NV_cooperative_matrix, 16x16x16 fp16 x fp16 + fp32).
/// 64x64 output tiles, BK 32, 128 threads = 4 subgroups of 32, each owning a 32x32 block as 2x2
/// accumulator fragments. Operands are read through their views as float32, rounded to float16
/// into shared memory; the fp32 results go through shared memory to the per-element epilogue.
/// The hardware's summation order inside a fragment product is fixed, so results are
/// deterministic run to run on one device (not bit-identical to the float32 kernel).
GeneratedKernel matmul_coopmat(const KernelSpec& k, const Target& t) {
  const auto [M, N, K, B, batch] = dims_of(k);
  const int tile = 64, bk = 32, sa = bk + 8, sb = tile + 8, sc = tile + 4;  // padded strides
  GeneratedKernel g;
  set_groups(g, M, N, B, tile);
  GlslWriter w;
  header(w, k, t, 128, false, true);
  load_function(w, "a", k.a_input, k.a_view, batch);
  load_function(w, "b", k.b_input, k.b_view, batch);
  w.line("shared float16_t As[{}];", tile * sa);  // [m][k]
  w.line("shared float16_t Bs[{}];", bk * sb);    // [k][n]
  w.line("shared float Cs[{}];", tile * sc);      // [m][n] results for the epilogue
  w.line("#define FRAG fcoopmatNV<16, gl_ScopeSubgroup, 16, 16>");
  w.line("#define ACC fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>");
  w.open("void main()");
  w.line("int lid = int(gl_LocalInvocationID.x);");
  w.line("int sg = int(gl_SubgroupID), wm = sg / 2, wn = sg % 2;");
  w.line("int n0 = int(gl_WorkGroupID.x) * {}, m0 = int(gl_WorkGroupID.y) * {};", tile, tile);
  w.open(fmt::format("for (int b = int(gl_WorkGroupID.z); b < {}; b += {})", B, g.groups_z));
  w.line("ACC c00 = ACC(0.0), c01 = ACC(0.0), c10 = ACC(0.0), c11 = ACC(0.0);");
  w.open(fmt::format("for (int k0 = 0; k0 < {}; k0 += {})", K, bk));
  w.open(fmt::format("for (int e = lid; e < {}; e += 128)", tile * bk));
  w.line("int mm = e / {0}, kk = e % {0}, m = m0 + mm, kq = k0 + kk;", bk);
  w.line("As[mm * {}u + kk] = float16_t((m < {} && kq < {}) ? load_a(b, m, kq) : 0.0);", sa, M, K);
  w.close();
  w.open(fmt::format("for (int e = lid; e < {}; e += 128)", tile * bk));
  w.line("int kk = e / {0}, nn = e % {0}, n = n0 + nn, kq = k0 + kk;", tile);
  w.line("Bs[kk * {}u + nn] = float16_t((n < {} && kq < {}) ? load_b(b, kq, n) : 0.0);", sb, N, K);
  w.close();
  w.line("barrier();");
  w.open(fmt::format("for (int kk = 0; kk < {}; kk += 16)", bk));
  w.line("FRAG a0, a1, b0, b1;");
  w.line("coopMatLoadNV(a0, As, uint((wm * 32) * {0} + kk), {0}u, false);", sa);
  w.line("coopMatLoadNV(a1, As, uint((wm * 32 + 16) * {0} + kk), {0}u, false);", sa);
  w.line("coopMatLoadNV(b0, Bs, uint(kk * {0} + wn * 32), {0}u, false);", sb);
  w.line("coopMatLoadNV(b1, Bs, uint(kk * {0} + wn * 32 + 16), {0}u, false);", sb);
  w.line("c00 = coopMatMulAddNV(a0, b0, c00);");
  w.line("c01 = coopMatMulAddNV(a0, b1, c01);");
  w.line("c10 = coopMatMulAddNV(a1, b0, c10);");
  w.line("c11 = coopMatMulAddNV(a1, b1, c11);");
  w.close();
  w.line("barrier();");
  w.close();
  w.line("coopMatStoreNV(c00, Cs, uint((wm * 32) * {0} + wn * 32), {0}u, false);", sc);
  w.line("coopMatStoreNV(c01, Cs, uint((wm * 32) * {0} + wn * 32 + 16), {0}u, false);", sc);
  w.line("coopMatStoreNV(c10, Cs, uint((wm * 32 + 16) * {0} + wn * 32), {0}u, false);", sc);
  w.line("coopMatStoreNV(c11, Cs, uint((wm * 32 + 16) * {0} + wn * 32 + 16), {0}u, false);", sc);
  w.line("barrier();");
  w.open(fmt::format("for (int e = lid; e < {}; e += 128)", tile * tile));
  w.line("int mm = e / {0}, nn = e % {0}, m = m0 + mm, n = n0 + nn;", tile);
  w.open(fmt::format("if (m < {} && n < {})", M, N));
  w.line("int l = (b * {} + m) * {} + n;", M, N);
  BodyWriter body(w, k, "l");
  body.set_acc(fmt::format("Cs[mm * {} + nn]", sc));
  body.emit_all();
  for (size_t o = 0; o < k.outputs.size(); ++o) w.line("pc.out{}.v[l] = t{};", o, k.outputs[o].first);
  w.close();
  w.close();
  w.line("barrier();");
  w.close();
  w.close();
  g.source = w.str();
  return g;
}

}  // namespace descent::codegen::internal
