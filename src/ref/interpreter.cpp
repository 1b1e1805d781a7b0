// Reference interpreter (see interpreter.hpp). Reductions sum in float64 in increasing index order.
#include "ref/interpreter.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "descent/errors.hpp"
#include "graph/passes/passes.hpp"
#include "util/assert.hpp"
#include "util/rand_hash.hpp"

namespace descent::detail {

namespace {

void unravel(int64_t l, const Shape& s, int64_t* c) {
  for (int j = s.rank() - 1; j >= 0; --j) {
    c[j] = l % s[j];
    l /= s[j];
  }
}

/// Same rule as descent_max in shaders/common.glsl: +0 beats -0, any NaN gives NaN.
double reduce_max_step(double acc, double x) {
  if (std::isnan(acc) || std::isnan(x)) return std::numeric_limits<double>::quiet_NaN();
  if (x == acc) return (acc == 0.0 && !(std::signbit(acc) && std::signbit(x))) ? 0.0 : acc;
  return x > acc ? x : acc;
}

double read(const std::vector<double>& src, const View& v, const int64_t* coord) {
  int64_t flat = 0;
  if (!v.address(coord, &flat)) return 0.0;  // zero padding
  return src[static_cast<size_t>(flat)];
}

/// Value of IEEE binary16 bits.
double half_value(uint32_t h) {
  const int e = static_cast<int>((h >> 10) & 0x1fu);
  const double m = static_cast<double>(h & 0x3ffu), sign = (h & 0x8000u) ? -1.0 : 1.0;
  if (e == 31) return m != 0.0 ? std::numeric_limits<double>::quiet_NaN() : sign * std::numeric_limits<double>::infinity();
  return sign * (e == 0 ? std::ldexp(m, -24) : std::ldexp(1024.0 + m, e - 25));
}

/// A packed MatMul (attribute axis >= kPackedMatMul, graph/passes/passes.hpp): both operands are
/// contiguous U32 arrays of float16 pairs; the layout bits say along which axis each is packed.
void packed_matmul(const Node& n, const std::vector<double>& a, const std::vector<double>& b,
                   std::vector<double>& out) {
  const int64_t M = n.shape[-2], N = n.shape[-1];
  const int64_t batches = static_cast<int64_t>(out.size()) / (M * N);
  const int64_t Kp = 2 * static_cast<int64_t>(a.size()) / (batches * M);
  const int bits = n.axis - kPackedMatMul;
  const bool a_m = bits & kPackedAlongM, b_n = bits & kPackedAlongN;
  auto half_at = [](const std::vector<double>& v, int64_t word, int64_t which) {
    uint32_t w = static_cast<uint32_t>(v[static_cast<size_t>(word)]);
    return half_value(which ? w >> 16 : w & 0xffffu);
  };
  for (int64_t bi = 0; bi < batches; ++bi)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t j = 0; j < N; ++j) {
        double acc = 0.0;
        for (int64_t k = 0; k < Kp; ++k) {
          double x = a_m ? half_at(a, (bi * Kp + k) * (M / 2) + m / 2, m % 2) : half_at(a, (bi * M + m) * (Kp / 2) + k / 2, k % 2);
          double y = b_n ? half_at(b, (bi * Kp + k) * (N / 2) + j / 2, j % 2) : half_at(b, (bi * N + j) * (Kp / 2) + k / 2, k % 2);
          acc += x * y;
        }
        out[static_cast<size_t>((bi * M + m) * N + j)] = acc;
      }
}
}  // namespace

std::vector<std::vector<double>> reference_values(
    const IrGraph& g, const std::map<uint32_t, std::vector<double>>& params, const RefOptions& o) {
  std::vector<std::vector<double>> val(g.size());
  int64_t coord[kMaxRank];
  for (NodeId id = 0; id < g.size(); ++id) {
    const Node& n = g[id];
    if (!n.alive) continue;
    int64_t count = n.shape.element_count();
    std::vector<double>& out = val[id];
    out.assign(static_cast<size_t>(count), 0.0);
    switch (info(n.op).kind) {
      case OpKind::Leaf:
        if (n.op == Op::Input) {
          auto it = params.find(n.param);
          if (it == params.end() || static_cast<int64_t>(it->second.size()) != count)
            throw UsageError(fmt::format("reference: no value for parameter {}", n.param));
          out = it->second;
          break;
        }
        DESCENT_ASSERT(is_inline_leaf(n.op), "unknown leaf");
        for (int64_t l = 0; l < count; ++l) {
          if (n.op == Op::Literal) {
            uint32_t bits;
            std::memcpy(&bits, &n.literal, 4);
            out[l] = n.dtype == DType::kU32 ? static_cast<double>(bits) : n.literal;
          } else if (n.op == Op::Coord) {
            out[l] = static_cast<double>(l);
          } else {
            out[l] = rand_uniform(o.seed, n.uid, static_cast<uint32_t>(l));
          }
        }
        break;
      case OpKind::Gather: {
        const Arg& v = n.args[0];
        int64_t extent = v.view.output[n.axis];
        for (int64_t l = 0; l < count; ++l) {
          unravel(l, n.shape, coord);
          double idx = read(val[n.args[1].node], n.args[1].view, coord);
          if (idx >= static_cast<double>(extent)) {
            throw IndexError(fmt::format("gather: index {} out of range for axis {} of extent {}",
                                         idx, n.axis, extent));
          }
          coord[n.axis] = static_cast<int64_t>(idx);
          out[l] = read(val[v.node], v.view, coord);
        }
        break;
      }
      case OpKind::Sink:
      case OpKind::Elementwise:
        for (int64_t l = 0; l < count; ++l) {
          unravel(l, n.shape, coord);
          double x[3] = {0, 0, 0};
          for (size_t i = 0; i < n.args.size(); ++i) {
            x[i] = read(val[n.args[i].node], n.args[i].view, coord);
            if (o.round_to_f32 && g[n.args[i].node].dtype == DType::kF32) x[i] = static_cast<float>(x[i]);
          }
          out[l] = n.op == Op::Output ? x[0] : eval_elementwise(n.op, x[0], x[1], x[2]);
        }
        break;
      case OpKind::MatMul: {
        const Arg& a = n.args[0];
        const Arg& b = n.args[1];
        int r = n.shape.rank();
        if (is_packed_matmul(n.axis)) {  // packed float16 operands (graph/passes/passes.hpp)
          DESCENT_ASSERT(a.view.is_identity() && b.view.is_identity(), "packed matmul operands are read whole");
          packed_matmul(n, val[a.node], val[b.node], out);
          break;
        }
        int64_t K = a.view.output[r - 1];
        int64_t ca[kMaxRank], cb[kMaxRank];
        for (int64_t l = 0; l < count; ++l) {
          unravel(l, n.shape, coord);
          for (int j = 0; j < r - 2; ++j) ca[j] = cb[j] = coord[j];
          ca[r - 2] = coord[r - 2];
          cb[r - 1] = coord[r - 1];
          double acc = 0.0;
          for (int64_t k = 0; k < K; ++k) {
            ca[r - 1] = k;
            cb[r - 2] = k;
            double x = read(val[a.node], a.view, ca), y = read(val[b.node], b.view, cb);
            if (o.round_to_f32) {
              x = static_cast<float>(x);
              y = static_cast<float>(y);
            }
            acc += x * y;
          }
          out[l] = acc;
        }
        break;
      }
      case OpKind::Reduce: {
        const Arg& a = n.args[0];
        const Shape& in = a.view.output;
        int64_t len = in[n.axis];
        for (int64_t l = 0; l < count; ++l) {
          unravel(l, n.shape, coord);
          double acc = n.op == Op::ReduceMax ? -std::numeric_limits<double>::infinity() : 0.0;
          for (int64_t k = 0; k < len; ++k) {
            coord[n.axis] = k;
            double x = read(val[a.node], a.view, coord);
            if (o.round_to_f32) x = static_cast<float>(x);
            acc = n.op == Op::ReduceMax ? reduce_max_step(acc, x) : acc + x;
          }
          out[l] = acc;
        }
        break;
      }
    }
    if (o.round_to_f32 && n.dtype == DType::kF32)
      for (double& x : out) x = static_cast<float>(x);
  }
  return val;
}

std::map<uint32_t, std::vector<double>> reference_run(
    const IrGraph& g, const std::map<uint32_t, std::vector<double>>& params, const RefOptions& o) {
  auto val = reference_values(g, params, o);
  std::map<uint32_t, std::vector<double>> out;
  for (NodeId id = 0; id < g.size(); ++id)
    if (g[id].alive && g[id].op == Op::Output) out[g[id].param] = val[id];
  return out;
}

}  // namespace descent::detail
