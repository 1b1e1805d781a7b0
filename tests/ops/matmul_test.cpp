// Matmul: ragged sizes on both sides of the tile sizes, batch broadcasting,
// operands as views (transposed, sliced, broadcast), fused epilogues, against the float64
// reference with class D tolerance (the bound uses sum |a_ik b_kj| from the reference itself).
#include <fmt/format.h>

#include <cmath>

#include "support/harness.hpp"

namespace descent::testing {
namespace {

using Fn = std::function<Array(Scope&, const std::vector<Array>&)>;

/// Checks `fn` (whose last op is a matmul over `k`) with the class D bound computed from the
/// same graph on |inputs|.
void check_matmul(const std::string& name, std::vector<Input> ins, const Fn& fn, int64_t k,
                  int kernels = -1) {
  std::vector<Input> abs_ins = ins;
  for (Input& in : abs_ins)
    for (float& v : in.values) v = std::fabs(v);
  CheckOptions plain;
  plain.tolerance = Tolerance::kReduction;
  plain.reduction_length = k;
  plain.check_unfused = false;
  auto abs_ref = check_op(name + " on |x|", abs_ins, fn, plain).ref;
  CheckOptions o;
  o.tolerance = Tolerance::kReduction;
  o.reduction_length = k;
  o.abs_sum = abs_ref;
  o.expected_kernels = kernels;
  check_op(name, ins, fn, o);
}

TEST(MatMul, RaggedSizes) {
  const int64_t sizes[][3] = {{1, 1, 1}, {3, 3, 1}, {7, 5, 9}, {33, 65, 31}, {129, 7, 63},
                              {65, 129, 127}, {2, 300, 3}, {130, 17, 129}};
  uint32_t salt = 300;
  for (const auto& d : sizes) {
    int64_t m = d[0], k = d[1], n = d[2];
    check_matmul(fmt::format("matmul {}x{}x{}", m, k, n),
                 {{Shape{m, k}, random_values(m * k, salt++)}, {Shape{k, n}, random_values(k * n, salt++)}},
                 [](Scope&, auto& x) { return x[0].matmul(x[1]); }, k, 1);
  }
}

TEST(MatMul, BatchedAndBroadcastBatches) {
  check_matmul("batched", {{Shape{3, 9, 11}, random_values(297, 1)}, {Shape{3, 11, 5}, random_values(165, 2)}},
               [](Scope&, auto& x) { return x[0].matmul(x[1]); }, 11, 1);
  check_matmul("broadcast rhs", {{Shape{2, 3, 9, 11}, random_values(594, 3)}, {Shape{11, 5}, random_values(55, 4)}},
               [](Scope&, auto& x) { return x[0].matmul(x[1]); }, 11, 1);
  check_matmul("broadcast both", {{Shape{2, 1, 4, 6}, random_values(48, 5)}, {Shape{3, 6, 7}, random_values(126, 6)}},
               [](Scope&, auto& x) { return x[0].matmul(x[1]); }, 6, 1);
}

TEST(MatMul, OperandViewsWithoutCopies) {
  Input a{Shape{20, 33}, random_values(660, 7)};
  Input b{Shape{40, 20}, random_values(800, 8)};
  // A^T [33, 20] x B^T [20, 40]: both transposed views, one kernel.
  check_matmul("transposed", {a, b}, [](Scope&, auto& x) { return x[0].transpose().matmul(x[1].transpose()); }, 20, 1);
  // Strided slices and a zero-padded view.
  check_matmul("sliced", {a, b}, [](Scope&, auto& x) {
    return x[0].slice(1, 0, 33, 2).transpose().matmul(x[1].slice(0, 1, 40, 2).slice(1, 0, 17));
  }, 20, 1);
  check_matmul("padded", {a, b}, [](Scope&, auto& x) {
    return x[0].pad(1, 1, 0).matmul(x[1].pad(1, 14, 0).transpose());
  }, 34, 1);
}

TEST(MatMul, FusedEpilogueIsOneKernel) {
  Input a{Shape{30, 16}, random_values(480, 9)};
  Input w{Shape{16, 24}, random_values(384, 10)};
  Input bias{Shape{24}, random_values(24, 11)};
  // Dense layer: leaky_relu(x W + b) in one kernel.
  check_matmul("dense", {a, w, bias}, [](Scope&, auto& x) { return (x[0].matmul(x[1]) + x[2]).leaky_relu(0.01f); }, 16, 1);
  // The original's array_api graph: 2 * m.matmul(x) + y * y + 1 is one kernel.
  std::vector<float> eye{1, 0, 0, 0, 1, 0, 0, 0, 1};
  auto r = check_op("array_api", {{Shape{3, 3}, eye}, {Shape{3, 1}, {4, 5, 6}}, {Shape{3, 1}, {1, 2, 3}}},
                    [](Scope&, auto& x) { return 2.0f * x[0].matmul(x[1]) + x[2] * x[2] + 1.0f; });
  EXPECT_EQ(r.gpu, (std::vector<float>{10, 15, 22}));
  EXPECT_EQ(r.kernels, 1u);
}

TEST(MatMul, ResultUsedTwiceAndTransposed) {
  Input a{Shape{9, 7}, random_values(63, 12)};
  Input b{Shape{7, 9}, random_values(63, 13)};
  // The product is stored (a transposed consumer needs it) and also used by the epilogue.
  check_matmul("reuse", {a, b}, [](Scope&, auto& x) {
    auto p = x[0].matmul(x[1]);
    return p.transpose().matmul(p);
  }, 9);
}

TEST(MatMul, CpuKernelVariants) {
  // Shapes that reach each code path of the CPU kernels (matmul.cpp): the straight-line kernel
  // for small B (batches unrolled or broadcast, ragged rows, A pairs along k, zero-padded B, a
  // column-only epilogue read) and the register-blocked kernel with each 64-bit pairing (A along
  // k or m, B along k or n), ragged column blocks and tiny M. On a CPU device the generated code
  // is checked for the path's marker; everywhere the values are checked against the reference.
  struct Case {
    const char* name;
    std::vector<Input> in;
    Fn fn;
    int64_t k;
    std::vector<const char*> markers;
  };
  uint32_t salt = 700;
  auto in = [&](Shape s) { return Input{s, random_values(s.element_count(), salt++)}; };
  std::vector<Case> cases = {
      {"small B, 3 batches unrolled, A pairs", {in({3, 77, 12}), in({3, 12, 10})},
       [](Scope&, auto& x) { return x[0].matmul(x[1]); }, 12, {"int gid", "vec2 a0_0"}},
      {"small B shared by batches, bias + leaky", {in({2, 50, 9}), in({9, 16}), in({16})},
       [](Scope&, auto& x) { return (x[0].matmul(x[1]) + x[2]).leaky_relu(0.01f); }, 9,
       {"int gid", "int b = int(gl_WorkGroupID.z)"}},
      {"small B zero-padded", {in({40, 7}), in({5, 6})},
       [](Scope&, auto& x) { return x[0].matmul(x[1].pad(0, 1, 1)); }, 7, {"int gid", "pc.run.zero"}},
      {"A pairs along k, B pairs along n", {in({45, 130}), in({130, 64})},
       [](Scope&, auto& x) { return x[0].matmul(x[1]); }, 130, {"subgroupBroadcast", "vec2 ap0", "vec2 bl0"}},
      {"A pairs along m, B pairs along k, ragged columns", {in({130, 46}), in({70, 130})},
       [](Scope&, auto& x) { return x[0].transpose().matmul(x[1].transpose()); }, 130,
       {"subgroupBroadcast", "vec2 am0", "vec2 bp0"}},
      {"no pairs (odd K, strided B)", {in({33, 129}), in({129, 80})},
       [](Scope&, auto& x) { return x[0].matmul(x[1].slice(1, 0, 80, 2)); }, 129,
       {"subgroupBroadcast", "load_b(b, kq"}},
      {"batched, tiny M", {in({2, 3, 100}), in({2, 100, 50})},
       [](Scope&, auto& x) { return x[0].matmul(x[1]); }, 100, {"subgroupBroadcast"}},
  };
  const bool cpu = env().device_is_cpu();
  for (const Case& c : cases) {
    if (cpu) {
      std::vector<Parameter> ps;
      for (const Input& i : c.in) ps.push_back(env().static_parameter_with_data(i.shape, env().unique_name("cpu_mm_in"), i.values));
      Parameter out;
      Graph g = env().build_graph([&](Scope& s) {
        std::vector<Array> xs;
        for (const Parameter& p : ps) xs.push_back(s.parameter_value(p));
        Array r = c.fn(s, xs);
        out = env().static_parameter(r.shape(), env().unique_name("cpu_mm_out"));
        s.write_parameter_value(out, r);
      });
      std::string src;
      auto labels = g.kernel_labels();
      for (size_t i = 0; i < labels.size(); ++i)
        if (labels[i].rfind("matmul", 0) == 0) src = g.kernel_source(i);
      for (const char* m : c.markers) EXPECT_NE(src.find(m), std::string::npos) << c.name << ": no " << m;
    }
    check_matmul(c.name, c.in, c.fn, c.k, 1);
  }
}

TEST(MatMul, EpilogueWithTwoOutputs) {
  // One matmul kernel storing two values per element (the forward pass of a layer whose backward
  // needs both), as 64-bit column pairs on CPU devices: both must match a float64 product.
  const int64_t m = 203, k = 9, n = 16;
  auto av = random_values(m * k, 940), bv = random_values(k * n, 941), cv = random_values(n, 942);
  auto a = env().static_parameter_with_data({m, k}, env().unique_name("two_out_a"), av);
  auto b = env().static_parameter_with_data({k, n}, env().unique_name("two_out_b"), bv);
  auto bias = env().static_parameter_with_data({n}, env().unique_name("two_out_c"), cv);
  auto o1 = env().static_parameter({m, n}, env().unique_name("two_out_1"));
  auto o2 = env().static_parameter({m, n}, env().unique_name("two_out_2"));
  Graph g = env().build_graph([&](Scope& s) {
    Array r = s.parameter_value(a).matmul(s.parameter_value(b)) + s.parameter_value(bias);
    s.write_parameter_value(o1, r.leaky_relu(0.01f));
    s.write_parameter_value(o2, r * 3.0f);
  });
  EXPECT_EQ(g.kernel_count(), 1u);
  if (env().device_is_cpu()) {
    EXPECT_NE(g.kernel_source(0).find("DescentOut8(uint64_t(pc.out1))"), std::string::npos);
  }
  env().run(g);
  auto r1 = env().read_parameter(o1), r2 = env().read_parameter(o2);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double ref = cv[j], mag = std::fabs(cv[j]);
      for (int64_t q = 0; q < k; ++q) {
        ref += static_cast<double>(av[i * k + q]) * bv[q * n + j];
        mag += std::fabs(static_cast<double>(av[i * k + q]) * bv[q * n + j]);
      }
      double tol = 4.0 * (k + 1) * std::ldexp(1.0, -24) * mag * 3.0;
      EXPECT_NEAR(r2[i * n + j], 3.0 * ref, tol) << i << "," << j;
      EXPECT_NEAR(r1[i * n + j], ref > 0 ? ref : 0.01 * ref, tol) << i << "," << j;
    }
  expect_no_validation_messages();
}

TEST(MatMul, Errors) {
  auto p = env().static_parameter({3, 4}, env().unique_name("mm_a"));
  auto q = env().static_parameter({5, 6}, env().unique_name("mm_b"));
  auto v = env().static_parameter({4}, env().unique_name("mm_v"));
  auto expect_shape_error = [&](const std::function<void(Scope&)>& f, const char* what) {
    try {
      env().build_graph(f);
      ADD_FAILURE() << "no error for " << what;
    } catch (const ShapeError& e) {
      EXPECT_NE(std::string(e.what()).find("matmul"), std::string::npos) << e.what();
    }
  };
  expect_shape_error([&](Scope& s) { (void)s.parameter_value(p).matmul(s.parameter_value(q)); }, "K mismatch");
  expect_shape_error([&](Scope& s) { (void)s.parameter_value(p).matmul(s.parameter_value(v)); }, "rank 1");
  expect_shape_error([&](Scope& s) {
    (void)s.parameter_value(p).broadcast({2, 3, 4}).matmul(s.parameter_value(q).slice(0, 0, 4).broadcast({3, 4, 6}));
  }, "batch mismatch");
}

}  // namespace
}  // namespace descent::testing
