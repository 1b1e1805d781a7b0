// Bandwidth benchmark for the fused-chain and reduction targets: a fused elementwise chain and row reductions versus
// the copy bandwidth measured in the same process (a plain vec4 grid-stride copy shader).
// Prints CSV rows "case,bytes,ms,GB/s,fraction_of_copy"; the numbers go to docs/perf/HISTORY.md
// with the card's name. Times are GPU timestamps (median of repetitions), inputs are random.
#include <descent/descent.hpp>

#include <algorithm>
#include <functional>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "dispatch_timing.hpp"
#include "util/flags.hpp"
#include "runtime/test_access.hpp"

using namespace descent;
using bench::median;

namespace {

std::vector<float> random(int64_t n, uint32_t seed) {
  std::vector<float> v(static_cast<size_t>(n));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(0.5f, 1.5f);
  for (auto& x : v) x = d(rng);
  return v;
}

/// GPU time (ms) of one run of `g` (single-kernel graphs: the kernel's timestamp delta).
double time_graph(Environment& env, const Graph& g, int reps) {
  // Graphs are built with DESCENT_DEBUG=2 semantics (timestamps) by flipping the flag around
  // build_graph in main; runs then report per-kernel GPU times through last_timings.
  // Keep the GPU busy while timing: an idle GPU between host waits may not raise its clocks
  // (seen on an H200: kernels ran at half speed when each repetition waited on the host).
  std::vector<double> t;
  for (int r = 0; r < 20; ++r) env.run(g, static_cast<uint32_t>(r));
  for (int r = 0; r < reps; ++r) {
    for (int b = 0; b < 4; ++b) env.run(g, static_cast<uint32_t>(r));
    double ms = 0;
    for (const auto& k : env.last_timings(g)) ms += k.ms;  // the last of the four runs
    t.push_back(ms);
  }
  return median(t);
}

/// Median GPU ms of one dispatch, with 10 + reps dispatches back to back in one command buffer.
double time_batched(detail::EnvironmentState& s, const descent::vk::ComputePipeline& pipe,
                    const void* push, uint32_t push_bytes, uint32_t groups, int reps) {
  return bench::time_dispatches(s, pipe, push, push_bytes, groups, 1, reps, 10);
}

Graph timed_build(Environment& env, const std::function<void(Scope&)>& fn) {
  detail::mutable_flags().debug = 2;  // record per-kernel timestamps in this graph
  Graph g = env.build_graph(fn);
  detail::mutable_flags().debug = 0;
  return g;
}

/// Times a text variant of kernel 0 of `g` (same bindings): what a codegen change would give.
double time_variant(Environment& env, const Graph& g, const std::string& source, int reps) {
  auto& s = detail::TestAccess::state(env);
  const auto& cg = detail::GraphAccess::get(g);
  auto spirv = s.compiler->compile(source, "bench variant");
  descent::vk::ComputePipeline pipe(*s.ctx, spirv, cg.generated[0].push_bytes, "bench variant");
  return time_batched(s, pipe, cg.push[0].data(), cg.generated[0].push_bytes, cg.generated[0].groups_x, reps);
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) s.replace(p, from.size(), to);
  return s;
}

/// The copy ceiling: a hand-written vec4 grid-stride copy, dispatched directly.
double copy_ceiling_ms(Environment& env, const Parameter& src, const Parameter& dst, int reps) {
  auto& s = detail::TestAccess::state(env);
  const char* glsl = R"(#version 460
#extension GL_EXT_buffer_reference : require
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
layout(local_size_x = 256) in;
layout(buffer_reference, std430, buffer_reference_align = 16) buffer V { vec4 v[]; };
layout(push_constant) uniform P { V src; V dst; uint n4; } pc;
void main() {
  for (uint i = gl_GlobalInvocationID.x; i < pc.n4; i += gl_NumWorkGroups.x * 256u) pc.dst.v[i] = pc.src.v[i];
})";
  auto spirv = s.compiler->compile(glsl, "bench copy");
  descent::vk::ComputePipeline pipe(*s.ctx, spirv, 24, "bench copy");
  struct {
    uint64_t a, b;
    uint32_t n4, pad;
  } push{s.params[src.id()].alloc.address, s.params[dst.id()].alloc.address,
         static_cast<uint32_t>(src.shape().element_count() / 4), 0};
  uint32_t groups = std::min<uint32_t>(65535, static_cast<uint32_t>(push.n4 / 256 + 1));
  return time_batched(s, pipe, &push, 24, groups, reps);
}

void row(const std::string& name, double bytes, double ms, double copy_gbs) {
  double gbs = bytes / (ms * 1e-3) / 1e9;
  std::printf("%s,%.0f,%.4f,%.1f,%.3f\n", name.c_str(), bytes, ms, gbs, copy_gbs > 0 ? gbs / copy_gbs : 0.0);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  int64_t n = argc > 1 ? std::stoll(argv[1]) : (int64_t{1} << 28);  // floats per array (1 GiB)
  int reps = argc > 2 ? std::stoi(argv[2]) : 20;
  Environment env;
  std::fprintf(stderr, "device: %s, %lld floats per array\n", env.device_name().c_str(), static_cast<long long>(n));
  std::printf("case,bytes,ms,GB/s,fraction_of_copy\n");
  double b = 4.0 * static_cast<double>(n);

  auto x = env.static_parameter_with_data({n}, env.unique_name("x"), random(n, 1));
  auto y = env.static_parameter({n}, env.unique_name("y"));
  double copy_ms = copy_ceiling_ms(env, x, y, reps);
  double copy_gbs = 2 * b / (copy_ms * 1e-3) / 1e9;
  row("copy_vec4_shader", 2 * b, copy_ms, copy_gbs);

  auto g_copy = timed_build(env, [&](Scope& s) { s.write_parameter_value(y, s.parameter_value(x).copy()); });
  row("descent_copy", 2 * b, time_graph(env, g_copy, reps), copy_gbs);
  auto g_chain = timed_build(env, [&](Scope& s) {
    auto v = s.parameter_value(x);
    s.write_parameter_value(y, (v * 1.5f + 0.25f).max(v * v - 1.0f) * 0.5f + v.sqrt());
  });
  row("fused_chain_1in_1out", 2 * b, time_graph(env, g_chain, reps), copy_gbs);

  // An Adam update: reads theta, m, v, g; writes theta, m, v (7 arrays of n/4) in one kernel.
  int64_t q = n / 4;
  double qb = 4.0 * static_cast<double>(q);
  auto th = env.static_parameter_with_data({q}, env.unique_name("theta"), random(q, 2));
  auto m = env.static_parameter_with_data({q}, env.unique_name("m"), random(q, 3));
  auto v = env.static_parameter_with_data({q}, env.unique_name("v"), random(q, 4));
  auto gr = env.static_parameter_with_data({q}, env.unique_name("g"), random(q, 5));
  auto g_adam = timed_build(env, [&](Scope& s) {
    auto g = s.parameter_value(gr);
    auto m1 = s.parameter_value(m) * 0.9f + g * 0.1f;
    auto v1 = s.parameter_value(v) * 0.999f + g * g * 0.001f;
    s.write_parameter_value(m, m1);
    s.write_parameter_value(v, v1);
    s.write_parameter_value(th, s.parameter_value(th) - 0.001f * m1 / (v1.sqrt() + 1e-8f));
  });
  std::fprintf(stderr, "adam kernels: %zu\n", g_adam.kernel_count());
  row("fused_adam_update", 7 * qb, time_graph(env, g_adam, reps), copy_gbs);
  // Repeat on the same arrays: does a slow first measurement speed up with time?
  for (int again = 1; again <= 5; ++again)
    row("fused_adam_update_again" + std::to_string(again), 7 * qb, time_graph(env, g_adam, reps), copy_gbs);
  {
    // Variants of the generated Adam kernel, to see what limits it (recorded in docs/perf/HISTORY.md).
    std::string src = g_adam.kernel_source(0);
    std::string restrict_src = replace_all(replace_all(src, ") readonly buffer", ") readonly restrict buffer"), ") writeonly buffer", ") writeonly restrict buffer");
    row("variant_adam_restrict", 7 * qb, time_variant(env, g_adam, restrict_src, reps), copy_gbs);
  }

  {
    // Adam diagnostics: out of place (new arrays), and in place without the sqrt/divide.
    auto th2 = env.static_parameter({q}, env.unique_name("th2"));
    auto m2 = env.static_parameter({q}, env.unique_name("m2"));
    auto v2 = env.static_parameter({q}, env.unique_name("v2"));
    auto g_oop = timed_build(env, [&](Scope& s) {
      auto g = s.parameter_value(gr);
      auto m1 = s.parameter_value(m) * 0.9f + g * 0.1f;
      auto v1 = s.parameter_value(v) * 0.999f + g * g * 0.001f;
      s.write_parameter_value(m2, m1);
      s.write_parameter_value(v2, v1);
      s.write_parameter_value(th2, s.parameter_value(th) - 0.001f * m1 / (v1.sqrt() + 1e-8f));
    });
    row("diag_adam_out_of_place", 7 * qb, time_graph(env, g_oop, reps), copy_gbs);
    auto g_nodiv = timed_build(env, [&](Scope& s) {
      auto g = s.parameter_value(gr);
      auto m1 = s.parameter_value(m) * 0.9f + g * 0.1f;
      auto v1 = s.parameter_value(v) * 0.999f + g * g * 0.001f;
      s.write_parameter_value(m, m1);
      s.write_parameter_value(v, v1);
      s.write_parameter_value(th, s.parameter_value(th) - 0.001f * m1 * v1);
    });
    row("diag_adam_no_sqrt_div", 7 * qb, time_graph(env, g_nodiv, reps), copy_gbs);
    // Which part of the in-place update is slow? Each variant updates theta, m, v in place.
    auto variant = [&](const char* name, int which) {
      auto gv = timed_build(env, [&](Scope& s) {
        auto g = s.parameter_value(gr);
        auto m1 = s.parameter_value(m) * 0.9f + g * 0.1f;
        auto v1 = s.parameter_value(v) * 0.999f + g * g * 0.001f;
        Array step = which == 0 ? m1 / (v1 + 1e-8f) : which == 1 ? m1 * v1.sqrt() : m1 * v1.rsqrt();
        s.write_parameter_value(which == 3 ? m2 : m, m1);
        s.write_parameter_value(which == 3 ? v2 : v, v1);
        if (which == 3) step = m1 / (v1.sqrt() + 1e-8f);
        s.write_parameter_value(th, s.parameter_value(th) - 0.001f * step);
      });
      row(name, 7 * qb, time_graph(env, gv, reps), copy_gbs);
    };
    variant("diag_adam_div_only", 0);
    variant("diag_adam_sqrt_only", 1);
    variant("diag_adam_rsqrt", 2);
    variant("diag_adam_theta_only_in_place", 3);
    auto g_div = timed_build(env, [&](Scope& s) {
      auto a = s.parameter_value(gr);
      s.write_parameter_value(y, (s.parameter_value(x) / (a.slice(0, 0, 1).broadcast({n}) + 1.0f)));
    });
    row("diag_div_1in_1out", 2 * b, time_graph(env, g_div, reps), copy_gbs);
  }
  {
    // Stream-count scaling: is a many-array kernel limited by the number of arrays it streams?
    auto y4 = env.static_parameter({q}, env.unique_name("y4"));
    auto g31 = timed_build(env, [&](Scope& s) {
      s.write_parameter_value(y4, s.parameter_value(th) * s.parameter_value(m) + s.parameter_value(v));
    });
    row("fused_3in_1out", 4 * qb, time_graph(env, g31, reps), copy_gbs);
    auto g13 = timed_build(env, [&](Scope& s) {
      auto a = s.parameter_value(gr);
      s.write_parameter_value(m, a * 2.0f);
      s.write_parameter_value(v, a + 1.0f);
      s.write_parameter_value(y4, a - 3.0f);
    });
    row("fused_1in_3out", 4 * qb, time_graph(env, g13, reps), copy_gbs);
  }
  for (int64_t cols : {int64_t{1024}, int64_t{4096}, int64_t{16384}}) {
    int64_t rows = n / cols;
    auto out = env.static_parameter({rows}, env.unique_name("rowsum"));
    auto g_sum = timed_build(env, [&](Scope& s) {
      s.write_parameter_value(out, s.parameter_value(x).reshape({rows, cols}).reduce_sum(1));
    });
    row("row_sum_" + std::to_string(cols), b + 4.0 * rows, time_graph(env, g_sum, reps), copy_gbs);
    {
      // Variant: ask the compiler to unroll the per-thread loop (more loads in flight).
      std::string src = replace_all(g_sum.kernel_source(0), "for (int r4 = tr;", "[[unroll]] for (int r4 = tr;");
      src = replace_all(src, "#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require",
                        "#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require\n#extension GL_EXT_control_flow_attributes : require");
      row("variant_row_sum_unroll_" + std::to_string(cols), b + 4.0 * rows, time_variant(env, g_sum, src, reps), copy_gbs);
    }
    auto g_max = timed_build(env, [&](Scope& s) {
      s.write_parameter_value(out, s.parameter_value(x).reshape({rows, cols}).reduce_max(1));
    });
    row("row_max_" + std::to_string(cols), b + 4.0 * rows, time_graph(env, g_max, reps), copy_gbs);
    auto g_sm = timed_build(env, [&](Scope& s) {
      auto t = s.parameter_value(x).reshape({rows, cols});
      s.write_parameter_value(out, (t * t).reduce_sum(1));  // fused prologue
    });
    row("row_sum_sq_" + std::to_string(cols), b + 4.0 * rows, time_graph(env, g_sm, reps), copy_gbs);
  }
  // Column reduction (bias-gradient shape): sum over the leading axis.
  {
    int64_t cols = 1024, rows = n / cols;
    auto out = env.static_parameter({cols}, env.unique_name("colsum"));
    auto g = timed_build(env, [&](Scope& s) {
      s.write_parameter_value(out, s.parameter_value(x).reshape({rows, cols}).reduce_sum(0));
    });
    row("col_sum_1024", b + 4.0 * cols, time_graph(env, g, reps), copy_gbs);
  }
  return 0;
}
