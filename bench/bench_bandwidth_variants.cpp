// Diagnostic benchmark: hand-written read-heavy kernels in several shapes (workgroup size, grid
// size, loads in flight per thread) to find what limits descent's reductions on a given GPU.
// Prints "variant,bytes,ms,GB/s". Uses descent's Vulkan layer directly; no graphs involved.
#include <descent/descent.hpp>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "dispatch_timing.hpp"
#include "util/flags.hpp"

using namespace descent;
using bench::median;

namespace {

struct Push {
  uint64_t src, dst;
  uint32_t n4, pad;
};

/// Times `glsl` dispatched with `groups` workgroups: median GPU ms over `reps`. When `batched`,
/// all repetitions go in one command buffer (no host wait between them).
double time_kernel(Environment& env, const std::string& glsl, const Push& push, uint32_t groups,
                   int reps, bool batched) {
  auto& s = env.state();
  auto spirv = s.compiler->compile(glsl, "variant");
  descent::vk::ComputePipeline pipe(*s.ctx, spirv, sizeof(Push), "variant");
  if (batched) return bench::time_dispatches(s, pipe, &push, sizeof(Push), groups, 1, reps, 2);
  // One submit and host wait per dispatch.
  descent::vk::TimestampPool ts(*s.ctx, 2);
  std::vector<double> t;
  for (int r = 0; r < reps + 2; ++r) {
    descent::vk::CommandBuffer cb(*s.ctx, "variant");
    cb.begin(false);
    cb.compute_barrier();
    cb.reset_queries(ts.handle(), 0, 2);
    cb.write_timestamp(ts.handle(), 0);
    cb.dispatch(pipe, &push, sizeof(Push), groups, 1, 1);
    cb.write_timestamp(ts.handle(), 1);
    cb.end();
    VkCommandBuffer h = cb.handle();
    s.transfer->wait(s.transfer->submit(std::span<const VkCommandBuffer>(&h, 1)));
    auto ns = ts.read_ns(0, 2);
    if (r >= 2) t.push_back((ns[1] - ns[0]) * 1e-6);
  }
  return median(t);
}

const char* kHead = R"(#version 460
#extension GL_EXT_buffer_reference : require
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
layout(buffer_reference, std430, buffer_reference_align = 16) buffer V { vec4 v[]; };
layout(buffer_reference, std430, buffer_reference_align = 4) buffer S { float v[]; };
layout(push_constant) uniform P { V src; V dst; uint n4; } pc;
)";

std::string copy_kernel(int local) {
  return std::string(kHead) + "layout(local_size_x = " + std::to_string(local) + ") in;\n" +
         "void main() { for (uint i = gl_GlobalInvocationID.x; i < pc.n4; i += gl_NumWorkGroups.x * " +
         std::to_string(local) + "u) pc.dst.v[i] = pc.src.v[i]; }\n";
}

/// Read-only: each thread sums `unroll` independent vec4 streams, grid-stride; one float out.
std::string sum_kernel(int local, int unroll) {
  std::string s = std::string(kHead) + "layout(local_size_x = " + std::to_string(local) + ") in;\n";
  s += "void main() {\n  vec4 acc[" + std::to_string(unroll) + "];\n";
  s += "  for (int u = 0; u < " + std::to_string(unroll) + "; ++u) acc[u] = vec4(0);\n";
  s += "  uint stride = gl_NumWorkGroups.x * " + std::to_string(local) + "u;\n";
  s += "  uint i = gl_GlobalInvocationID.x;\n";
  s += "  for (; i + " + std::to_string(unroll - 1) + "u * stride < pc.n4; i += " + std::to_string(unroll) + "u * stride) {\n";
  for (int u = 0; u < unroll; ++u) s += "    acc[" + std::to_string(u) + "] += pc.src.v[i + " + std::to_string(u) + "u * stride];\n";
  s += "  }\n  for (; i < pc.n4; i += stride) acc[0] += pc.src.v[i];\n";
  s += "  vec4 t = acc[0];\n  for (int u = 1; u < " + std::to_string(unroll) + "; ++u) t += acc[u];\n";
  s += "  S(uint64_t(pc.dst)).v[gl_GlobalInvocationID.x] = t.x + t.y + t.z + t.w;\n}\n";
  return s;
}

/// Row sum as descent shapes it: `th` threads per row of `cols` floats, rows grid-strided.
std::string rowsum_kernel(int cols, int th, int local, int unroll) {
  int steps = cols / 4;
  std::string s = std::string(kHead) + "#extension GL_KHR_shader_subgroup_shuffle : require\n";
  s += "layout(local_size_x = " + std::to_string(local) + ") in;\n";
  int rows = local / th;
  s += "void main() {\n  int lid = int(gl_LocalInvocationID.x);\n  int nrows = int(pc.n4) / " + std::to_string(steps) + ";\n";
  s += "  for (int m0 = int(gl_WorkGroupID.x) * " + std::to_string(rows) + "; m0 < nrows; m0 += int(gl_NumWorkGroups.x) * " + std::to_string(rows) + ") {\n";
  s += "    int m = m0 + lid / " + std::to_string(th) + "; int tr = lid % " + std::to_string(th) + ";\n";
  s += "    float a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;\n";
  s += "    if (m < nrows) {\n";
  s += "      for (int r = tr; r < " + std::to_string(steps) + "; r += " + std::to_string(th * unroll) + ") {\n";
  for (int u = 0; u < unroll; ++u) {
    std::string idx = "r + " + std::to_string(u * th);
    s += "        if (" + idx + " < " + std::to_string(steps) + ") { vec4 x = pc.src.v[m * " + std::to_string(steps) + " + " + idx + "]; a" + std::to_string(u) + " += x.x + x.y + x.z + x.w; }\n";
  }
  s += "      }\n    }\n    float acc = a0 + a1 + a2 + a3;\n";
  for (int st = 1; st < std::min(th, 32); st *= 2) s += "    acc += subgroupShuffleXor(acc, " + std::to_string(st) + "u);\n";
  s += "    if (tr == 0 && m < nrows) S(uint64_t(pc.dst)).v[m] = acc;\n  }\n}\n";
  return s;
}

void row(const std::string& name, double bytes, double ms) {
  std::printf("%s,%.0f,%.4f,%.1f\n", name.c_str(), bytes, ms, bytes / (ms * 1e-3) / 1e9);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  int64_t n = argc > 1 ? std::stoll(argv[1]) : (int64_t{1} << 28);
  int reps = argc > 2 ? std::stoi(argv[2]) : 20;
  Environment env;
  auto& s = env.state();
  std::fprintf(stderr, "device: %s\n", env.device_name().c_str());
  // Random data by default (constant data may be compressed by the memory system and read faster).
  bool ones = argc > 3 && std::string(argv[3]) == "ones";
  std::vector<float> data(static_cast<size_t>(n), 1.0f);
  if (!ones) {
    uint32_t h = 12345;
    for (auto& v : data) v = 0.5f + static_cast<float>((h = h * 1664525u + 1013904223u) >> 8) * (1.0f / 16777216.0f);
  }
  auto x = env.static_parameter_with_data({n}, env.unique_name("x"), data);
  data = {};
  auto y = env.static_parameter({n}, env.unique_name("y"));
  Push p{s.params[x.id()].alloc.address, s.params[y.id()].alloc.address, static_cast<uint32_t>(n / 4), 0};
  double b = 4.0 * static_cast<double>(n);
  std::printf("variant,bytes,ms,GB/s\n");
  for (bool batched : {false, true}) {
    std::string tag = batched ? "_batched" : "_waited";
    row("copy_l256_g65535" + tag, 2 * b, time_kernel(env, copy_kernel(256), p, 65535, reps, batched));
    row("copy_l64_g65535" + tag, 2 * b, time_kernel(env, copy_kernel(64), p, 65535, reps, batched));
    row("copy_l256_gfull" + tag, 2 * b, time_kernel(env, copy_kernel(256), p, static_cast<uint32_t>(std::min<int64_t>(n / 4 / 256, 1 << 30)), reps, batched));
  }
  for (int local : {64, 256})
    for (int unroll : {1, 2, 4, 8})
      row("sum_l" + std::to_string(local) + "_u" + std::to_string(unroll), b,
          time_kernel(env, sum_kernel(local, unroll), p, 65535, reps, true));
  row("sum_l256_u4_g8192", b, time_kernel(env, sum_kernel(256, 4), p, 8192, reps, true));
  row("sum_l256_u4_g2048", b, time_kernel(env, sum_kernel(256, 4), p, 2048, reps, true));
  for (int cols : {1024, 4096})
    for (int th : {32, 128})
      for (int unroll : {1, 2, 4})
        for (int local : {128, 256}) {
          if (th > local) continue;
          std::string name = "rowsum_c" + std::to_string(cols) + "_t" + std::to_string(th) + "_u" + std::to_string(unroll) + "_l" + std::to_string(local);
          uint32_t groups = static_cast<uint32_t>(std::min<int64_t>(65535, (n / cols) / (local / th)));
          row(name, b, time_kernel(env, rowsum_kernel(cols, th, local, unroll), p, groups, reps, true));
        }
  row("copy_l256_g65535_again", 2 * b, time_kernel(env, copy_kernel(256), p, 65535, reps, false));
  // descent's own generated row sums on the same data, same process.
  for (int64_t cols : {int64_t{1024}, int64_t{4096}}) {
    int64_t rows = n / cols;
    auto out = env.static_parameter({rows}, env.unique_name("out"));
    detail::mutable_flags().debug = 2;
    Graph g = env.build_graph([&](Scope& sc) { sc.write_parameter_value(out, sc.parameter_value(x).reshape({rows, cols}).reduce_sum(1)); });
    detail::mutable_flags().debug = 0;
    std::vector<double> t;
    for (int r = 0; r < reps + 2; ++r) {
      env.run(g);
      double ms = 0;
      for (const auto& k : env.last_timings(g)) ms += k.ms;
      if (r >= 2) t.push_back(ms);
    }
    row("descent_row_sum_" + std::to_string(cols), b, median(t));
    if (cols == 1024) std::fprintf(stderr, "%s\n", g.kernel_source(0).c_str());
  }
  return 0;
}
