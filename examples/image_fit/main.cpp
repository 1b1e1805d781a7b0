// image_fit: overfits a coordinate network to one RGB image, as the original descent's second
// example: plain ReLU MLP, ReLU with positional encoding, SIREN and a multi-resolution hash grid.
// Prints the loss per epoch (mean per-pixel squared error summed over RGB; the original's CSV
// printed 16x this), writes a CSV and the fitted image. Uses only the public headers (+ stb).
#include <CLI/CLI.hpp>
#include <descent/descent.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

#include "networks.hpp"
#include "stb_io.hpp"

namespace {
double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Fit a coordinate network to an image with descent"};
  std::string network = "multi-hash", image_path = "data/images/astronaut.png", csv, output, dot_dir;
  int epochs = 200, batch = 1 << 14;
  uint64_t seed = 0;
  bool quiet = false, all_images = false, timings = false;
  app.add_option("network", network, "relu | relu-pe | siren | multi-hash")
      ->check(CLI::IsMember({"relu", "relu-pe", "siren", "multi-hash"}));
  app.add_option("--image", image_path, "PNG or JPEG image to fit");
  app.add_option("-e,--epochs", epochs, "epochs (each: pixels / batch steps)")->check(CLI::PositiveNumber);
  app.add_option("-m,--batch", batch, "random pixels per step")->check(CLI::PositiveNumber);
  app.add_option("-s,--seed", seed, "seed for initialisation, pixel sampling and run seeds");
  app.add_option("--csv", csv, "CSV file: epoch, loss (mean per-pixel squared error, RGB summed)");
  app.add_option("-o,--output", output, "write the fitted image to <prefix>_<epoch>.png after the last epoch");
  app.add_flag("--all-images", all_images, "with --output: write an image after every epoch");
  app.add_option("--dot", dot_dir, "write the training graph drawing (.dot) into this folder");
  app.add_flag("--timings", timings, "print per-kernel GPU times of the first epoch");
  app.add_flag("-q,--quiet", quiet, "only the final summary");
  CLI11_PARSE(app, argc, argv);

  try {
    image_fit::Rgb img = image_fit::load_rgb(image_path);
    const int64_t w = img.width, h = img.height, pixels = w * h, m = batch;
    const int64_t steps = std::max<int64_t>(1, pixels / m);
    descent::Environment env;
    env.reset_parameters(seed);
    auto net = image_fit::make_network(network, env);
    int64_t count = 0;
    for (const auto& p : net->parameters()) count += p.shape().element_count();
    std::printf("device: %s\nimage: %s (%lldx%lld), network: %s, %lld trainable parameters\n",
                env.device_name().c_str(), image_path.c_str(), static_cast<long long>(w),
                static_cast<long long>(h), network.c_str(), static_cast<long long>(count));

    auto colours = env.static_parameter_with_data({pixels, 3}, "image", img.rgb);
    auto idx = env.static_parameter({m}, "batch", descent::DType::kU32);
    auto lr_scale = env.static_parameter({1}, "lr_scale");
    auto loss_sum = env.static_parameter({1}, "loss_sum");
    descent::AdamOptions ao;
    ao.beta2 = 0.99;
    descent::Adam adam(env, net->parameters(), ao);

    // Pixel index -> coordinates of the pixel centre in (-1, 1): u along x (columns), v along y.
    auto coords = [&](descent::Scope& s, const descent::Array& i) {
      descent::Array px = (i % s.literal_u32(static_cast<uint32_t>(w))).to_f32();
      descent::Array py = (i.to_f32() - px) / static_cast<float>(w);
      descent::Array u = (px + 0.5f) * (2.0f / static_cast<float>(w)) - 1.0f;
      descent::Array v = (py + 0.5f) * (2.0f / static_cast<float>(h)) - 1.0f;
      return descent::concat({u.insert_axis(1), v.insert_axis(1)}, 1);  // [n, 2]
    };
    auto train = env.build_graph([&](descent::Scope& s) {
      descent::Array i = s.parameter_value(idx);
      auto out = descent::DualArray(coords(s, i)).apply(*net, descent::EvalContext::train());
      auto target = s.parameter_value(colours).gather(0, i);
      auto loss = (out - target).square().reduce_sum(-1, true);  // [m, 1]
      s.write_parameter_value(loss_sum, s.parameter_value(loss_sum) + loss.set_loss().reduce_sum(0));
      adam.step(s, 0.02f * s.parameter_value(lr_scale));
    });
    std::printf("training graph: %zu kernels\n", train.kernel_count());
    if (!dot_dir.empty()) train.write_dot(dot_dir + "/image_fit_" + network + "_train.dot");

    // The fitted image, in chunks of m pixels.
    auto chunk_start = env.static_parameter({1}, "chunk_start");
    auto rendered = env.static_parameter({m, 3}, "rendered");
    auto render = env.build_graph([&](descent::Scope& s) {
      descent::Array i = (s.coord(m) + s.parameter_value(chunk_start)).to_u32();
      auto out = descent::DualArray(coords(s, i)).apply(*net, descent::EvalContext::test());
      s.write_parameter_value(rendered, out.value());
    });
    auto write_image = [&](int epoch) {
      std::vector<float> rgb(static_cast<size_t>(pixels * 3));
      for (int64_t c = 0; c < pixels; c += m) {
        env.write_parameter(chunk_start, {static_cast<float>(c)});
        env.run(render);
        auto part = env.read_parameter(rendered);
        std::copy_n(part.begin(), static_cast<size_t>(std::min(m, pixels - c) * 3), rgb.begin() + c * 3);
      }
      std::string path = output + "_" + std::to_string(epoch) + ".png";
      image_fit::save_png(path, static_cast<int>(w), static_cast<int>(h), rgb);
      return path;
    };

    std::FILE* csv_file = csv.empty() ? nullptr : std::fopen(csv.c_str(), "w");
    if (!csv.empty() && !csv_file) throw descent::UsageError("image_fit: cannot write " + csv);
    if (csv_file) std::fprintf(csv_file, "# epoch, loss (mean per-pixel squared error, RGB summed)\n");
    std::mt19937_64 rng(seed);
    std::vector<uint32_t> picks(static_cast<size_t>(m));
    const bool tty = isatty(STDERR_FILENO) && !quiet;
    double t_start = now_s();
    float last = 0;
    for (int epoch = 0; epoch < epochs; ++epoch) {
      double t = epoch + 0.5;
      env.write_parameter(lr_scale, {static_cast<float>(std::min(t / 10.0, 1.0) * std::pow(0.5, t / 40.0))});
      env.write_parameter(loss_sum, {0.0f});
      double t0 = now_s();
      for (int64_t step = 0; step < steps; ++step) {
        for (auto& p : picks) p = static_cast<uint32_t>(rng() % static_cast<uint64_t>(pixels));
        env.write_parameter(idx, picks);
        env.run(train, static_cast<uint32_t>(rng()));
      }
      last = env.read_parameter_scalar(loss_sum) / static_cast<float>(steps * m);
      if (timings && epoch == 0)
        for (const auto& k : env.last_timings(train)) std::printf("  %8.3f ms  %s\n", k.ms, k.label.c_str());
      if (tty) std::fprintf(stderr, "\r  epoch %d/%d  loss %.5f  %.1f steps/s   ", epoch + 1, epochs, last, steps / (now_s() - t0));
      if (!quiet && (epoch < 10 || (epoch + 1) % 10 == 0 || epoch + 1 == epochs)) {
        if (tty) std::fprintf(stderr, "\r%60s\r", "");
        std::printf("epoch: %d, loss: %.6f, lr_scale: %.4f (%.2f s)\n", epoch + 1, last,
                    std::min(t / 10.0, 1.0) * std::pow(0.5, t / 40.0), now_s() - t0);
        std::fflush(stdout);
      }
      if (csv_file) std::fprintf(csv_file, "%d, %.8f\n", epoch + 1, last);
      if (!output.empty() && (all_images || epoch + 1 == epochs)) {
        std::string path = write_image(epoch + 1);
        if (!quiet) std::printf("wrote %s\n", path.c_str());
      }
    }
    if (tty) std::fprintf(stderr, "\r%60s\r", "");
    if (csv_file) {
      std::fprintf(csv_file, "\n");
      std::fclose(csv_file);
    }
    std::printf("%s: final loss %.6f after %d epochs (%.1f s)\n", network.c_str(), last, epochs, now_s() - t_start);
    return 0;
  } catch (const descent::Error& e) {
    std::fprintf(stderr, "image_fit: %s\n", e.what());
    return 1;
  }
}
