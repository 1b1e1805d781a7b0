// Determinism. A graph mixing Scope::rand, elementwise ops and reductions gives identical bits
// on every run, for rebuilt graphs, unfused, and in a fresh process; different seeds differ; rand
// matches the CPU generator detail::rand_uniform(seed, uid, index) bit for bit (uids count from 0
// per scope in call order) and 1e6 of its values look uniform. No float atomics in the shaders.
#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "runtime/state.hpp"
#include "support/harness.hpp"
#include "util/flags.hpp"
#include "util/rand_hash.hpp"

namespace descent::testing {
namespace {

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
}

/// rand + elementwise + reductions, written to three parameters.
struct Mixed {
  Parameter x, sums, maxes, noise;
  Graph graph;

  explicit Mixed(Environment& e) {
    std::vector<float> xv(64 * 48);
    for (size_t i = 0; i < xv.size(); ++i) xv[i] = std::sin(0.37f * static_cast<float>(i)) * 3.0f;
    x = e.static_parameter_with_data({64, 48}, e.unique_name("det_x"), xv);
    sums = e.static_parameter({64}, e.unique_name("det_sums"));
    maxes = e.static_parameter({48}, e.unique_name("det_maxes"));
    noise = e.static_parameter({48, 64}, e.unique_name("det_noise"));
    graph = build(e);
  }
  Graph build(Environment& e) const {
    return e.build_graph([&](Scope& s) {
      Array xv = s.parameter_value(x);
      Array r = s.rand({64, 48});
      Array y = (xv * (r * 2.0f - 1.0f) + s.rand({48}).broadcast({64, 48})).tanh() * xv.exp();
      s.write_parameter_value(sums, y.reduce_sum(1));
      s.write_parameter_value(maxes, (y - r).reduce_max(0));
      s.write_parameter_value(noise, (r.transpose() + s.rand({48, 64}) * 0.5f).sqrt());
    });
  }
  std::vector<float> run(Environment& e, const Graph& g, uint32_t seed) const {
    e.run(g, seed);
    std::vector<float> all;
    for (const Parameter& p : {sums, maxes, noise}) {
      auto v = e.read_parameter(p);
      all.insert(all.end(), v.begin(), v.end());
    }
    return all;
  }
};

TEST(Determinism, RunsRebuildsAndUnfusedAreBitIdentical) {
  Mixed m(env());
  auto first = m.run(env(), m.graph, 7);
  EXPECT_TRUE(same_bits(first, m.run(env(), m.graph, 7))) << "second run differs";
  EXPECT_TRUE(same_bits(first, m.run(env(), m.build(env()), 7))) << "rebuilt graph differs";
  auto& flags = detail::mutable_flags();
  const bool saved = flags.disable_fusion;
  flags.disable_fusion = true;
  Graph unfused = m.build(env());
  flags.disable_fusion = saved;
  EXPECT_GT(unfused.kernel_count(), m.graph.kernel_count());
  EXPECT_TRUE(same_bits(first, m.run(env(), unfused, 7))) << "unfused graph differs";
  // Another seed in between does not disturb the next run with seed 7.
  m.run(env(), m.graph, 8);
  EXPECT_TRUE(same_bits(first, m.run(env(), m.graph, 7)));
  // No atomics on data: the only atomics allowed anywhere are descent_fail's on the status words
  // (an error flag and the first failing run number).
  for (const Graph* g : {&m.graph, &unfused})
    for (size_t k = 0; k < g->kernel_count(); ++k) {
      const std::string src = g->kernel_source(k);
      for (size_t p = src.find("atomic"); p != std::string::npos; p = src.find("atomic", p + 1))
        EXPECT_TRUE(src.compare(p, 22, "atomicOr(status.flags[") == 0 ||
                    src.compare(p, 33, "atomicMin(status.first_failed_run") == 0)
            << "kernel " << k << " uses an atomic on data: " << src.substr(p, 40);
    }
  expect_no_validation_messages();
}

TEST(Determinism, DifferentSeedsGiveDifferentValues) {
  Mixed m(env());
  auto a = m.run(env(), m.graph, 7);
  for (uint32_t seed : {8u, 0u, 0x80000007u}) {
    auto b = m.run(env(), m.graph, seed);
    size_t differ = 0;
    for (size_t i = 0; i < a.size(); ++i) differ += a[i] != b[i];
    EXPECT_GT(differ, a.size() * 95 / 100) << "seed " << seed << " vs 7";
  }
}

TEST(Determinism, RandMatchesTheCpuGenerator) {
  auto a = env().static_parameter({1000}, env().unique_name("rand_a"));
  auto b = env().static_parameter({3, 5, 7}, env().unique_name("rand_b"));
  auto c = env().static_parameter({7, 5}, env().unique_name("rand_c"));
  auto d = env().static_parameter({3, 7}, env().unique_name("rand_d"));
  auto e = env().static_parameter({}, env().unique_name("rand_e"));
  auto f = env().static_parameter({1000}, env().unique_name("rand_f"));
  auto g = env().build_graph([&](Scope& s) {
    s.write_parameter_value(a, s.rand({1000}));                    // uid 0
    s.write_parameter_value(b, s.rand({3, 5, 7}));                 // uid 1
    (void)s.rand({4});                                             // uid 2: unused, still counted
    s.write_parameter_value(c, s.rand({5, 7}).transpose());        // uid 3, read through a view
    s.write_parameter_value(d, s.rand({1, 7}).broadcast({3, 7}));  // uid 4, broadcast rows
    s.write_parameter_value(e, s.rand({}));                        // uid 5
    s.write_parameter_value(f, s.rand({1000}) * 2.0f - 1.0f);      // uid 6, fused into an op
  });
  for (uint32_t seed : {0u, 1u, 123456789u}) {
    env().run(g, seed);
    auto va = env().read_parameter(a), vb = env().read_parameter(b), vc = env().read_parameter(c);
    auto vd = env().read_parameter(d), vf = env().read_parameter(f);
    for (uint32_t i = 0; i < 1000; ++i) {
      ASSERT_EQ(va[i], detail::rand_uniform(seed, 0, i)) << "seed " << seed << " index " << i;
      ASSERT_EQ(vf[i], detail::rand_uniform(seed, 6, i) * 2.0f - 1.0f)
          << "seed " << seed << " index " << i;
    }
    for (uint32_t i = 0; i < 105; ++i) ASSERT_EQ(vb[i], detail::rand_uniform(seed, 1, i)) << i;
    for (uint32_t j = 0; j < 7; ++j)
      for (uint32_t i = 0; i < 5; ++i)
        ASSERT_EQ(vc[j * 5 + i], detail::rand_uniform(seed, 3, i * 7 + j));
    for (uint32_t r = 0; r < 3; ++r)
      for (uint32_t j = 0; j < 7; ++j) ASSERT_EQ(vd[r * 7 + j], detail::rand_uniform(seed, 4, j));
    EXPECT_EQ(env().read_parameter_scalar(e), detail::rand_uniform(seed, 5, 0));
  }
  expect_no_validation_messages();
}

TEST(Determinism, RandStatisticsOfAMillionValues) {
  constexpr int kN = 1000;
  auto p = env().static_parameter({kN, kN}, env().unique_name("rand_million"));
  auto q = env().static_parameter({kN, kN}, env().unique_name("rand_million_2"));
  auto mean_gpu = env().static_parameter({}, env().unique_name("rand_mean"));
  auto g = env().build_graph([&](Scope& s) {
    Array r = s.rand({kN, kN});
    s.write_parameter_value(p, r);
    s.write_parameter_value(q, s.rand({kN, kN}));
    s.write_parameter_value(mean_gpu, r.reduce_sum({0, 1}) * (1.0f / (kN * kN)));
  });
  env().run(g, 2024);
  auto v = env().read_parameter(p);
  auto w = env().read_parameter(q);
  const double n = static_cast<double>(v.size());
  double sum = 0, sq = 0, lag = 0, cross = 0;
  int bins[16] = {};
  float lo = 1, hi = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    double x = v[i] - 0.5, y = w[i] - 0.5;
    sum += v[i];
    sq += x * x;
    if (i) lag += x * (v[i - 1] - 0.5);
    cross += x * y;
    bins[static_cast<int>(v[i] * 16)]++;
    lo = std::min(lo, v[i]);
    hi = std::max(hi, v[i]);
  }
  // Uniform [0, 1): mean 1/2 (sd of the estimate 2.9e-4), variance 1/12, no correlation between
  // neighbours or between two rand calls (sd of the estimates ~1e-3 after normalising by 1/12).
  EXPECT_GE(lo, 0.0f);
  EXPECT_LT(hi, 1.0f);
  EXPECT_NEAR(sum / n, 0.5, 0.0015);
  EXPECT_NEAR(sq / n, 1.0 / 12, 0.001);
  EXPECT_LT(std::fabs(lag / n * 12), 0.005);
  EXPECT_LT(std::fabs(cross / n * 12), 0.005);
  double chi2 = 0;
  for (int b : bins) chi2 += (b - n / 16) * (b - n / 16) / (n / 16);
  EXPECT_LT(chi2, 40.0) << "16-bin chi-square (15 dof; 40 is p ~ 5e-4)";
  // The GPU's own reduction agrees (class D bound: 4 n 2^-24 sum|x| / n with sum|x| ~ n/2).
  EXPECT_NEAR(env().read_parameter_scalar(mean_gpu), sum / n, 4.0 * n * std::ldexp(1.0, -24) * 0.5);
  expect_no_validation_messages();
}

// ---- The same computation in a fresh process ----

const char* kChildEnv = "DESCENT_DETERMINISM_CHILD_OUT";

void write_floats(const std::string& path, const std::vector<float>& v) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * 4));
}

/// Only does work when started by ChildProcessGivesTheSameBits (it skips otherwise).
TEST(Determinism, ChildProcessHelper) {
  const char* out = std::getenv(kChildEnv);
  if (!out) GTEST_SKIP() << "helper for ChildProcessGivesTheSameBits";
  Mixed m(env());
  write_floats(out, m.run(env(), m.graph, 99));
}

TEST(Determinism, ChildProcessGivesTheSameBits) {
  if (std::getenv(kChildEnv)) GTEST_SKIP();
  Mixed m(env());
  auto mine = m.run(env(), m.graph, 99);
  char exe[4096];
  ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  ASSERT_GT(len, 0);
  exe[len] = 0;
  std::string out = fmt::format("{}/descent_det_{}.bin", ::testing::TempDir(), getpid());
  std::string cmd =
      fmt::format("{}='{}' '{}' --gtest_filter=Determinism.ChildProcessHelper > '{}.log' 2>&1",
                  kChildEnv, out, exe, out);
  int rc = std::system(cmd.c_str());
  ASSERT_EQ(rc, 0) << cmd << " (log: " << out << ".log)";
  std::ifstream f(out, std::ios::binary);
  std::vector<float> theirs(mine.size());
  f.read(reinterpret_cast<char*>(theirs.data()), static_cast<std::streamsize>(theirs.size() * 4));
  ASSERT_EQ(f.gcount(), static_cast<std::streamsize>(mine.size() * 4)) << "child wrote too little";
  EXPECT_TRUE(same_bits(mine, theirs)) << "child process computed different bits";
  std::remove(out.c_str());
  std::remove((out + ".log").c_str());
}

}  // namespace
}  // namespace descent::testing
