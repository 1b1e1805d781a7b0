// u32 arrays (integer arithmetic, conversions) and gather: against host computations, fused ==
// unfused, run twice, out-of-range indices reported as IndexError, type errors.
#include <cmath>
#include <cstring>
#include <limits>

#include "support/harness.hpp"
#include "util/flags.hpp"

namespace descent::testing {
namespace {

/// Runs `fn` into a fresh output parameter of `dtype` twice fused and once unfused; all three
/// results must agree bit for bit. Returns the raw 32-bit results.
std::vector<uint32_t> run_bits(const std::function<Array(Scope&)>& fn, const std::string& what) {
  std::vector<std::vector<uint32_t>> results;
  for (bool fusion : {true, true, false}) {
    detail::mutable_flags().disable_fusion = !fusion;
    Parameter out;
    Graph g = env().build_graph([&](Scope& s) {
      Array r = fn(s);
      out = env().static_parameter(r.shape(), env().unique_name("bits_out"), r.dtype());
      s.write_parameter_value(out, r);
    });
    detail::mutable_flags().disable_fusion = false;
    env().run(g, 7);
    if (out.dtype() == DType::kU32) {
      results.push_back(env().read_parameter_u32(out));
    } else {
      auto f = env().read_parameter(out);
      std::vector<uint32_t> b(f.size());
      std::memcpy(b.data(), f.data(), 4 * f.size());
      results.push_back(b);
    }
  }
  EXPECT_EQ(results[0], results[1]) << what << ": two runs differ";
  EXPECT_EQ(results[0], results[2]) << what << ": fused vs unfused differ";
  expect_no_validation_messages();
  return results[0];
}

TEST(U32, HashArithmeticMatchesHost) {
  std::vector<uint32_t> x(1000);
  for (uint32_t i = 0; i < x.size(); ++i) x[i] = i * 2654435761u + 12345u;
  auto p = env().static_parameter({1000}, env().unique_name("u32_x"), DType::kU32);
  env().write_parameter(p, x);
  auto r = run_bits([&](Scope& s) {
    Array v = s.parameter_value(p);
    Array prime = s.literal_u32(1526263u);
    return ((v * prime) ^ (v >> s.literal_u32(13))) % s.literal_u32(4096) + s.literal_u32(1);
  }, "hash");
  for (size_t i = 0; i < x.size(); ++i)
    ASSERT_EQ(r[i], ((x[i] * 1526263u) ^ (x[i] >> 13)) % 4096u + 1u) << i;
}

TEST(U32, Conversions) {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> f{0.0f, 1.5f, 2.99f, -3.0f, 16777216.0f, 4294967296.0f, inf, -inf,
                       std::numeric_limits<float>::quiet_NaN(), 123456.75f};
  auto p = env().static_parameter_with_data({10}, env().unique_name("conv_x"), f);
  auto r = run_bits([&](Scope& s) { return s.parameter_value(p).to_u32(); }, "to_u32");
  EXPECT_EQ(r, (std::vector<uint32_t>{0, 1, 2, 0, 16777216u, 4294967295u, 4294967295u, 0, 0, 123456}));
  auto back = run_bits([&](Scope& s) { return (s.parameter_value(p).to_u32() + s.literal_u32(1)).to_f32(); }, "to_f32");
  float b9;
  std::memcpy(&b9, &back[9], 4);
  EXPECT_EQ(b9, 123457.0f);
}

TEST(Gather, AnyAxisAndFusedConsumers) {
  std::vector<float> vals(5 * 7);
  for (size_t i = 0; i < vals.size(); ++i) vals[i] = static_cast<float>(i) * 0.5f - 3.0f;
  auto v = env().static_parameter_with_data({5, 7}, env().unique_name("g_vals"), vals);
  std::vector<uint32_t> idx{4, 0, 6, 6, 1, 3, 2, 5, 0};
  auto ip = env().static_parameter({9}, env().unique_name("g_idx"), DType::kU32);
  env().write_parameter(ip, idx);
  auto r1 = run_bits([&](Scope& s) { return s.parameter_value(v).gather(1, s.parameter_value(ip)) * 2.0f + 1.0f; }, "axis 1");
  for (int row = 0; row < 5; ++row)
    for (int k = 0; k < 9; ++k) {
      float got;
      std::memcpy(&got, &r1[row * 9 + k], 4);
      ASSERT_EQ(got, vals[row * 7 + idx[k]] * 2.0f + 1.0f);
    }
  // Axis 0 of a transposed view: [7, 5] gathered along rows with the first 5 indices.
  auto r0 = run_bits([&](Scope& s) {
    return s.parameter_value(v).transpose().gather(0, s.parameter_value(ip).slice(0, 0, 4));
  }, "axis 0 of transpose");
  for (int k = 0; k < 4; ++k)
    for (int c = 0; c < 5; ++c) {
      float got;
      std::memcpy(&got, &r0[k * 5 + c], 4);
      ASSERT_EQ(got, vals[c * 7 + idx[k]]);
    }
  // Gathering a computed array: it is stored first, then gathered (two kernels).
  Graph g = env().build_graph([&](Scope& s) {
    auto out = env().static_parameter({5, 9}, env().unique_name("g_out2"));
    s.write_parameter_value(out, (s.parameter_value(v) * 3.0f).gather(1, s.parameter_value(ip)));
  });
  EXPECT_EQ(g.kernel_count(), 2u);
}

TEST(Gather, OriginalTest) {
  // The original's gather test: a [1, 200, 1] = i^2, indices 99 - i, gather + 1 = (99 - i)^2 + 1.
  std::vector<float> a(200);
  for (int i = 0; i < 200; ++i) a[i] = static_cast<float>(i * i);
  auto pa = env().static_parameter_with_data({1, 200, 1}, env().unique_name("orig_a"), a);
  std::vector<uint32_t> idx(100);
  for (int i = 0; i < 100; ++i) idx[i] = 99 - i;
  auto pi = env().static_parameter({100}, env().unique_name("orig_i"), DType::kU32);
  env().write_parameter(pi, idx);
  auto r = run_bits([&](Scope& s) { return s.parameter_value(pa).gather(1, s.parameter_value(pi)) + 1.0f; }, "original");
  for (int i = 0; i < 100; ++i) {
    float got;
    std::memcpy(&got, &r[i], 4);
    ASSERT_EQ(got, static_cast<float>((99 - i) * (99 - i) + 1));
  }
}

TEST(Gather, OutOfRangeIsReportedAndRecoverable) {
  auto v = env().static_parameter_with_data({4}, env().unique_name("oob_v"), std::vector<float>{1, 2, 3, 4});
  auto ip = env().static_parameter({3}, env().unique_name("oob_i"), DType::kU32);
  env().write_parameter(ip, std::vector<uint32_t>{0, 7, 2});
  auto out = env().static_parameter({3}, env().unique_name("oob_out"));
  Graph g = env().build_graph([&](Scope& s) { s.write_parameter_value(out, s.parameter_value(v).gather(0, s.parameter_value(ip))); });
  env().run(g);
  try {
    env().read_parameter(out);
    ADD_FAILURE() << "no IndexError for index 7 of 4";
  } catch (const IndexError& e) {
    EXPECT_NE(std::string(e.what()).find("out of range"), std::string::npos);
  }
  // Reported once; with valid indices the next run is clean and correct.
  env().write_parameter(ip, std::vector<uint32_t>{3, 1, 2});
  env().run(g);
  EXPECT_EQ(env().read_parameter(out), (std::vector<float>{4, 2, 3}));
  expect_no_validation_messages();
}

TEST(U32, TypeErrors) {
  auto f = env().static_parameter({3}, env().unique_name("te_f"));
  auto u = env().static_parameter({3}, env().unique_name("te_u"), DType::kU32);
  auto expect_usage = [&](const std::function<void(Scope&)>& fn, const char* what) {
    try {
      env().build_graph(fn);
      ADD_FAILURE() << "no error: " << what;
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("u32"), std::string::npos) << what << ": " << e.what();
    }
  };
  expect_usage([&](Scope& s) { (void)(s.parameter_value(f) + s.parameter_value(u)); }, "f32 + u32");
  expect_usage([&](Scope& s) { (void)s.parameter_value(u).exp(); }, "exp of u32");
  expect_usage([&](Scope& s) { (void)s.parameter_value(f).gather(0, s.parameter_value(f)); }, "f32 indices");
  expect_usage([&](Scope& s) { (void)s.parameter_value(u).reduce_sum(0); }, "reduce u32");
  expect_usage([&](Scope& s) { s.write_parameter_value(f, s.parameter_value(u)); }, "write u32 to f32");
  EXPECT_THROW(env().write_parameter(u, std::vector<float>{1, 2, 3}), UsageError);
  EXPECT_THROW(env().write_parameter(f, std::vector<uint32_t>{1, 2, 3}), UsageError);
}

}  // namespace
}  // namespace descent::testing
