// array_api: a commented tour of descent's low-level Array API:
// parameter -> scope -> graph -> run -> read back, with a drawing of the fused kernels.
// and a gradient step through DualArray (reverse-mode automatic differentiation).
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
    auto m = env.static_parameter_with_data({3, 3}, "m", std::vector<float>{1, 0, 0, 0, 1, 0, 0, 0, 1});
    auto x = env.static_parameter_with_data({3, 1}, "x", std::vector<float>{4, 5, 6});
    auto y = env.static_parameter_with_data({3, 1}, "y", std::vector<float>{1, 2, 3});
    auto z = env.static_parameter({3, 1}, "z");
    auto stats = env.static_parameter({2}, "stats");

    // 3. A graph is recorded with ordinary C++ expressions inside a Scope. Nothing runs yet.
    //    The original descent's example graph: the per-element ops around the matrix product
    //    fuse into the matmul kernel, so the whole graph is one compute shader.
    auto values = env.build_graph([&](descent::Scope& s) {
      auto zv = 2.0f * s.parameter_value(m).matmul(s.parameter_value(x)) +
                s.parameter_value(y) * s.parameter_value(y) + 1.0f;
      s.write_parameter_value(z, zv);
    });
    std::printf("values graph: %zu kernel%s\n", values.kernel_count(), values.kernel_count() == 1 ? "" : "s");
    for (const auto& label : values.kernel_labels()) std::printf("  kernel: %s\n", label.c_str());
    values.write_dot(dot_dir + "/array_api_values.dot");

    // 4. run() is one queue submit of a pre-recorded command buffer; reads wait for it.
    env.run(values);
    auto zr = env.read_parameter(z);
    std::printf("z = [%g, %g, %g]\n", zr[0], zr[1], zr[2]);

    // Reductions run in a fixed order, so results are bit-identical run to run.
    auto reductions = env.build_graph([&](descent::Scope& s) {
      auto zv = s.parameter_value(z);
      auto total = zv.reduce_sum(0);   // [1]
      auto biggest = zv.reduce_max(0); // [1]
      s.write_parameter_value(stats, total.pad(0, 0, 1) + biggest.pad(0, 1, 0));
    });
    env.run(reductions);
    auto sr = env.read_parameter(stats);
    std::printf("sum(z) = %g, max(z) = %g (%zu kernels)\n", sr[0], sr[1], reductions.kernel_count());

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
    // 6. Gradients: scope.parameter() gives a DualArray (value + gradient). The original's example:
    //    L = sin(x)^2 + 3 sin(x), one step x <- x - 0.1 dL/dx. The backward graph is built after
    //    set_loss() and fuses with the forward one: the whole step is one kernel.
    auto w = env.trainable_parameter({1}, "w");
    env.write_parameter(w, {0.5f});
    auto grad_step = env.build_graph([&](descent::Scope& s) {
      descent::DualArray xv = s.parameter(w);
      descent::DualArray sx = xv.sin();
      (sx.square() + 3.0f * sx).set_loss();
      s.write_parameter_value(w, xv.value() - 0.1f * xv.grad());
    });
    grad_step.write_dot(dot_dir + "/array_api_grad.dot");
    env.run(grad_step);
    float stepped = env.read_parameter_scalar(w);
    double expect = 0.5 - 0.1 * (2 * std::sin(0.5) + 3) * std::cos(0.5);  // closed form
    std::printf("gradient step: x = 0.5 -> %.7f (closed form %.7f), %zu kernel%s\n", stepped, expect,
                grad_step.kernel_count(), grad_step.kernel_count() == 1 ? "" : "s");
    bool grad_ok = std::fabs(stepped - expect) < 1e-6 && grad_step.kernel_count() == 1;

    bool ok = grad_ok && zr[0] == 10 && zr[1] == 15 && zr[2] == 22 && sr[0] == 47 && sr[1] == 22 && worst < 1e-5 &&
              values.kernel_count() == 1;
    std::printf("%s\n", ok ? "ok" : "MISMATCH");
    return ok ? 0 : 1;
  } catch (const descent::Error& e) {
    std::fprintf(stderr, "array_api: %s\n", e.what());
    return 2;
  }
}
