// array_api: a commented tour of descent's low-level Array API:
// parameter -> scope -> graph -> run -> read back, with a drawing of the fused kernels.
// (Matrix multiply and gradients join this tour when those features land.)
#include <descent/descent.hpp>

#include <cmath>
#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  std::string dot_dir = argc > 1 ? argv[1] : ".";
  try {
    // 1. An Environment owns the Vulkan device and all device memory.
    descent::Environment env;
    std::printf("device: %s\n", env.device_name().c_str());

    // 2. Parameters are named arrays that live on the device between runs.
    auto x = env.static_parameter_with_data({3, 1}, "x", std::vector<float>{4, 5, 6});
    auto y = env.static_parameter_with_data({3, 1}, "y", std::vector<float>{1, 2, 3});
    auto z = env.static_parameter({3, 1}, "z");
    auto stats = env.static_parameter({2}, "stats");

    // 3. A graph is recorded with ordinary C++ expressions inside a Scope. Nothing runs yet.
    //    Per-element ops that read each other element by element fuse into one kernel.
    auto values = env.build_graph([&](descent::Scope& s) {
      auto xv = s.parameter_value(x);
      auto yv = s.parameter_value(y);
      auto zv = 2.0f * xv + yv * yv + 1.0f;  // elementwise: fused into a single kernel
      s.write_parameter_value(z, zv);
      // Reductions run in a fixed order, so results are bit-identical run to run.
      auto total = zv.reduce_sum(0);                 // [1]
      auto biggest = zv.reduce_max(0);               // [1]
      s.write_parameter_value(stats, total.reshape({1}).pad(0, 0, 1) + biggest.reshape({1}).pad(0, 1, 0));
    });
    std::printf("values graph: %zu kernels\n", values.kernel_count());
    for (const auto& label : values.kernel_labels()) std::printf("  kernel: %s\n", label.c_str());
    values.write_dot(dot_dir + "/array_api_values.dot");

    // 4. run() is one queue submit of a pre-recorded command buffer; reads wait for it.
    env.run(values);
    auto zr = env.read_parameter(z);
    auto sr = env.read_parameter(stats);
    std::printf("z = [%g, %g, %g]\n", zr[0], zr[1], zr[2]);
    std::printf("sum(z) = %g, max(z) = %g\n", sr[0], sr[1]);

    // 5. Views (broadcast, transpose, slice, pad) cost no copies: they become index arithmetic
    //    inside the kernels that read them.
    auto grid = env.static_parameter({3, 4}, "grid");
    auto views = env.build_graph([&](descent::Scope& s) {
      auto col = s.coord({3, 4}, 0);                 // row index as a float, broadcast over columns
      auto row = s.coord({3, 4}, 1);
      auto t = (col * 10.0f + row).transpose().slice(0, 0, 4).transpose();  // still [3, 4]
      s.write_parameter_value(grid, t.sin().square() + t.cos().square());   // == 1 everywhere
    });
    env.run(views);
    auto g = env.read_parameter(grid);
    double worst = 0;
    for (float v : g) worst = std::fmax(worst, std::fabs(v - 1.0));
    std::printf("sin^2 + cos^2 - 1: max |error| = %.2g over %zu elements (%zu kernel)\n", worst,
                g.size(), views.kernel_count());
    bool ok = zr[0] == 10 && zr[1] == 15 && zr[2] == 22 && sr[0] == 47 && sr[1] == 22 && worst < 1e-5;
    std::printf("%s\n", ok ? "ok" : "MISMATCH");
    return ok ? 0 : 1;
  } catch (const descent::Error& e) {
    std::fprintf(stderr, "array_api: %s\n", e.what());
    return 2;
  }
}
