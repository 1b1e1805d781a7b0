// GLSL generation for float32 matrix products: the tiled kernel (GPUs) and the register-blocked
// kernel (CPU devices); the float16-input cooperative-matrix kernel is in matmul_coopmat.cpp.
// Every output element is summed in a fixed order; per-element consumers run as the epilogue.
#include "codegen/matmul.hpp"

namespace descent::codegen::internal {

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

std::vector<std::string> batch_coords(const Shape& batch) {
  std::vector<std::string> coords;
  auto ds = batch.strides();
  for (int j = 0; j < batch.rank(); ++j) {
    std::string e = "b";
    if (ds[j] != 1) e = fmt::format("(b / {})", ds[j]);
    if (j > 0) e = fmt::format("({} % {})", e, batch[j]);
    coords.push_back(batch[j] == 1 ? "0" : e);
  }
  return coords;
}

void load_function(GlslWriter& w, const char* name, int input, const View& v, const Shape& batch) {
  w.open(fmt::format("float load_{}(int b, int r, int c)", name));
  std::vector<std::string> coords = batch_coords(batch);
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
  std::vector<std::string> coords = batch_coords(batch);
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

void load_function(GlslWriter& w, const KernelSpec& k, int operand, const Shape& batch) {
  const std::vector<Instr>& prologue = operand == 0 ? k.a_prologue : k.b_prologue;
  const View& v = operand == 0 ? k.a_view : k.b_view;
  const char* name = operand == 0 ? "a" : "b";
  if (prologue.empty()) return load_function(w, name, operand == 0 ? k.a_input : k.b_input, v, batch);
  // The operand is computed here: the view gives the producer's linear index, and the producer's
  // instructions run at it (the values and rounding of the producer kernel it replaces).
  w.open(fmt::format("float load_{}(int b, int r, int c)", name));
  std::vector<std::string> coords = batch_coords(batch);
  coords.push_back("r");
  coords.push_back("c");
  std::string cond;
  std::vector<std::string> q = input_coords(w, v, coords, &cond, "q");
  if (!cond.empty()) w.line("if (!({})) return 0.0;", cond);
  const Shape& Q = v.input;
  auto qst = Q.strides();
  std::string l = "0";
  for (int i = 0; i < Q.rank(); ++i)
    if (Q[i] != 1) l += fmt::format(" + {} * {}", q[static_cast<size_t>(i)], qst[i]);
  w.line("int l = {};", l);
  BodyWriter body(w, prologue, "l");
  // The producer's coordinates run by run (its axes whose extents multiply to a run of Q's
  // axes), each from the Q coordinates of its own run only: a part that depends only on the row
  // (or only on the column) stays loop-invariant in the kernels' K loops.
  const Shape& P = prologue[static_cast<size_t>(operand == 0 ? k.a_value : k.b_value)].shape;
  auto runs = detail::matching_axis_runs(P.dims(), Q.dims());  // equal counts: always found
  for (size_t run = 0; runs && run < runs->size(); ++run) {
    const detail::AxisRun& r = (*runs)[run];
    std::string g = "0";
    int64_t inner = 1;
    for (size_t i = r.b1; i-- > r.b0;) {
      if (Q[static_cast<int>(i)] == 1) continue;
      g += fmt::format(" + {} * {}", q[i], inner);
      inner *= Q[static_cast<int>(i)];
    }
    w.line("int g{} = {};", run, g);
    inner = 1;
    for (size_t j = r.a1; j-- > r.a0;) {
      const int axis = static_cast<int>(j);
      if (P[axis] == 1) continue;  // never asked for: a unit axis reads coordinate 0
      std::string e = inner == 1 ? fmt::format("g{}", run) : fmt::format("(g{} / {})", run, inner);
      if (j > r.a0) e = fmt::format("({} % {})", e, P[axis]);  // runs start at a non-unit axis
      std::string cname = fmt::format("pc{}", axis);
      w.line("int {} = {};", cname, e);
      body.preset_coord(P, axis, cname);
      inner *= P[axis];
    }
  }
  body.emit_all();
  w.line("return t{};", operand == 0 ? k.a_value : k.b_value);
  w.close();
}

namespace {
/// Buffer address an operand element is read from, or -1 (zero padding, or not a plain load).
int64_t operand_address(const KernelSpec& k, int operand, const std::vector<int64_t>& at) {
  const View& v = operand == 0 ? k.a_view : k.b_view;
  int64_t l = 0;
  if (!v.address(at.data(), &l)) return -1;
  const std::vector<Instr>& prologue = operand == 0 ? k.a_prologue : k.b_prologue;
  if (prologue.empty()) return l;
  const Instr* load = nullptr;
  for (const Instr& in : prologue)
    if (in.kind == Instr::Kind::Load) {
      if (load) return -1;
      load = &in;
    }
  if (!load) return -1;
  std::vector<int64_t> c(static_cast<size_t>(load->shape.rank()));
  auto st = load->shape.strides();
  for (int j = 0; j < load->shape.rank(); ++j) c[static_cast<size_t>(j)] = (l / st[j]) % load->shape[j];
  int64_t flat = 0;
  return load->view.address(c.data(), &flat) ? flat : -1;
}
}  // namespace

bool operand_unit_stride(const KernelSpec& k, int operand, int axis) {
  const View& v = operand == 0 ? k.a_view : k.b_view;
  if ((operand == 0 ? k.a_prologue : k.b_prologue).empty()) return v.unit_stride(axis);
  // Computed operand: sample the address step along `axis` in the middle of the operand.
  std::vector<int64_t> at(static_cast<size_t>(v.output.rank()));
  for (int j = 0; j < v.output.rank(); ++j) at[static_cast<size_t>(j)] = v.output[j] / 2;
  if (v.output[axis] < 2) return false;
  at[static_cast<size_t>(axis)] = std::max<int64_t>(0, at[static_cast<size_t>(axis)] - 1);
  int64_t a0 = operand_address(k, operand, at);
  ++at[static_cast<size_t>(axis)];
  int64_t a1 = operand_address(k, operand, at);
  return a0 >= 0 && a1 == a0 + 1;
}

void tile_epilogue(GlslWriter& w, const KernelSpec& k, int64_t M, int64_t N, int rows, int cols,
                   const std::string& row, const std::string& col) {
  w.open(fmt::format("for (int i = 0; i < {}; ++i)", rows));
  w.open(fmt::format("for (int j = 0; j < {}; ++j)", cols));
  w.line("int m = {}, n = {};", row, col);
  w.open(fmt::format("if (m < {} && n < {})", M, N));
  w.line("int l = (b * {} + m) * {} + n;", M, N);
  BodyWriter body(w, k, "l");
  body.set_acc("acc[i][j]");
  body.emit_all();
  store_outputs(w, k, "l");
  w.close();
  w.close();
  w.close();
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
  load_function(w, k, 0, batch);
  load_function(w, k, 1, batch);
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
    bool a_m_fast = !operand_unit_stride(k, 0, r - 1) && operand_unit_stride(k, 0, r - 2);
    bool b_k_fast = !operand_unit_stride(k, 1, r - 1) && operand_unit_stride(k, 1, r - 2);
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
  tile_epilogue(w, k, M, N, tm, tn, row, col);
  w.close();
  w.close();
  g.source = w.str();
  return g;
}

}  // namespace descent::codegen::internal
