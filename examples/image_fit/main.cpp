// image_fit: overfits a coordinate network to one RGB image, as the original descent's second
// example: plain ReLU MLP, ReLU with positional encoding, SIREN and a multi-resolution hash grid.
// Prints the loss per epoch (mean per-pixel squared error summed over RGB; the original's CSV
// printed 16x this), writes a CSV, the fitted image and a resumable training state. Uses only the
// public headers (+ stb). Output paths are checked before anything is trained.
#include <CLI/CLI.hpp>
#include <descent/descent.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

#include "../common/cli_checks.hpp"
#include "networks.hpp"
#include "stb_io.hpp"

namespace {

struct Options {
  std::string network = "multi-hash", image_path = "data/images/astronaut.png", csv, output, dot_dir;
  std::string save_state, resume;
  int epochs = 200, batch = 1 << 14;
  uint64_t seed = 0;
  bool quiet = false, all_images = false, timings = false;
};

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void parse(CLI::App& app, Options& o) {
  app.add_option("network", o.network, "relu | relu-pe | siren | multi-hash")
      ->check(CLI::IsMember({"relu", "relu-pe", "siren", "multi-hash"}));
  app.add_option("--image", o.image_path, "PNG or JPEG image to fit");
  app.add_option("-e,--epochs", o.epochs, "epochs (each: pixels / batch steps)")->check(CLI::PositiveNumber);
  app.add_option("-m,--batch", o.batch, "random pixels per step")->check(CLI::PositiveNumber);
  app.add_option("-s,--seed", o.seed, "seed for initialisation, pixel sampling and run seeds");
  app.add_option("--csv", o.csv, "CSV file: epoch, loss (mean per-pixel squared error, RGB summed)");
  app.add_option("-o,--output", o.output, "write the fitted image to <prefix>_<epoch>.png after the last epoch");
  app.add_flag("--all-images", o.all_images, "with --output: write an image after every epoch");
  app.add_option("--dot", o.dot_dir, "write the training graph drawing (.dot) into this folder");
  app.add_option("--save-state", o.save_state, "after every epoch, write everything needed to resume "
                 "(parameters, Adam state, generator, epoch) to this file");
  app.add_option("--resume", o.resume, "continue the run whose --save-state file this is, bit for bit as "
                 "if it had not stopped (same network, image, batch and seed)");
  app.add_flag("--timings", o.timings, "print per-kernel GPU times of the first epoch");
  app.add_flag("-q,--quiet", o.quiet, "only the final summary");
}

/// Probes every output before the image is read or anything is trained.
void check_outputs(const Options& o) {
  if (!o.output.empty()) examples::check_output_file("-o", o.output + "_" + std::to_string(o.epochs) + ".png");
  if (!o.csv.empty()) examples::check_output_file("--csv", o.csv);
  if (!o.save_state.empty()) examples::check_output_file("--save-state", o.save_state);
  if (!o.dot_dir.empty()) examples::check_output_dir("--dot", o.dot_dir);
  if (!o.resume.empty() && !std::ifstream(o.resume))
    throw descent::UsageError("--resume " + o.resume + ": cannot open the file");
}

/// The network, Adam, the image on the device, the training graph and the renderer.
struct Fit {
  Fit(descent::Environment& env, const Options& o, const image_fit::Rgb& img);
  /// One epoch: `steps` batches of random pixels; returns the mean loss.
  float epoch(std::mt19937_64& rng, double lr_scale);
  /// The fitted image, in chunks of m pixels (the last one partial: its indices are clamped to
  /// the last pixel and the extra rows dropped).
  std::vector<float> render();

  descent::Environment& env;
  int64_t w, h, pixels, m, steps;
  std::unique_ptr<descent::Sequential> net;
  std::unique_ptr<descent::Adam> adam;
  descent::Parameter colours, idx, lr, loss_sum, chunk_start, rendered;
  descent::Graph train, renderer;
};

Fit::Fit(descent::Environment& e, const Options& o, const image_fit::Rgb& img)
    : env(e), w(img.width), h(img.height), pixels(w * h), m(o.batch), steps(std::max<int64_t>(1, pixels / m)) {
  env.reset_parameters(o.seed);
  net = image_fit::make_network(o.network, env);
  colours = env.static_parameter_with_data({pixels, 3}, "image", img.rgb);
  idx = env.static_parameter({m}, "batch", descent::DType::kU32);
  lr = env.static_parameter({1}, "lr_scale");
  loss_sum = env.static_parameter({1}, "loss_sum");
  descent::AdamOptions ao;
  ao.beta2 = 0.99;
  adam = std::make_unique<descent::Adam>(env, net->parameters(), ao);
  // Pixel index -> coordinates of the pixel centre in (-1, 1): u along x (columns), v along y.
  auto coords = [&](descent::Scope& s, const descent::Array& i) {
    descent::Array px = (i % s.literal_u32(static_cast<uint32_t>(w))).to_f32();
    descent::Array py = (i.to_f32() - px) / static_cast<float>(w);
    descent::Array u = (px + 0.5f) * (2.0f / static_cast<float>(w)) - 1.0f;
    descent::Array v = (py + 0.5f) * (2.0f / static_cast<float>(h)) - 1.0f;
    return descent::concat({u.insert_axis(1), v.insert_axis(1)}, 1);  // [n, 2]
  };
  train = env.build_graph([&](descent::Scope& s) {
    descent::Array i = s.parameter_value(idx);
    auto out = descent::DualArray(coords(s, i)).apply(*net, descent::EvalContext::train());
    auto target = s.parameter_value(colours).gather(0, i);
    auto loss = (out - target).square().reduce_sum(-1, true).set_loss();  // [m, 1]
    loss.check_finite("image_fit training loss");  // NaN/Inf: the next read throws
    s.write_parameter_value(loss_sum, s.parameter_value(loss_sum) + loss.reduce_sum(0));
    adam->step(s, 0.02f * s.parameter_value(lr));
  });
  chunk_start = env.static_parameter({1}, "chunk_start");
  rendered = env.static_parameter({m, 3}, "rendered");
  renderer = env.build_graph([&](descent::Scope& s) {
    // Pixel indices past the image (the last chunk) read the last pixel: exact in float32 below
    // 2^24 pixels.
    descent::Array last = s.literal(static_cast<float>(pixels - 1));
    descent::Array i = (s.coord(m) + s.parameter_value(chunk_start)).min(last).to_u32();
    auto out = descent::DualArray(coords(s, i)).apply(*net, descent::EvalContext::test());
    s.write_parameter_value(rendered, out.value());
  });
}

float Fit::epoch(std::mt19937_64& rng, double lr_scale) {
  env.write_parameter(lr, {static_cast<float>(lr_scale)});
  env.write_parameter(loss_sum, {0.0f});
  std::vector<uint32_t> picks(static_cast<size_t>(m));
  for (int64_t step = 0; step < steps; ++step) {
    for (auto& p : picks) p = static_cast<uint32_t>(rng() % static_cast<uint64_t>(pixels));
    env.write_parameter(idx, picks);
    env.run(train, static_cast<uint32_t>(rng()));
  }
  return env.read_parameter_scalar(loss_sum) / static_cast<float>(steps * m);
}

std::vector<float> Fit::render() {
  std::vector<float> rgb(static_cast<size_t>(pixels * 3));
  for (int64_t c = 0; c < pixels; c += m) {
    env.write_parameter(chunk_start, {static_cast<float>(c)});
    env.run(renderer);
    auto part = env.read_parameter(rendered);
    std::copy_n(part.begin(), static_cast<size_t>(std::min(m, pixels - c) * 3), rgb.begin() + c * 3);
  }
  return rgb;
}

double schedule(int epoch) {
  double t = epoch + 0.5;
  return std::min(t / 10.0, 1.0) * std::pow(0.5, t / 40.0);
}

int fit(const Options& o) {
  check_outputs(o);
  image_fit::Rgb img = image_fit::load_rgb(o.image_path);
  descent::Environment env;
  Fit f(env, o, img);
  int64_t count = 0;
  for (const auto& p : f.net->parameters()) count += p.shape().element_count();
  std::printf("device: %s\nimage: %s (%lldx%lld), network: %s, %lld trainable parameters\n",
              env.device_name().c_str(), o.image_path.c_str(), static_cast<long long>(f.w),
              static_cast<long long>(f.h), o.network.c_str(), static_cast<long long>(count));
  std::printf("training graph: %zu kernels\n", f.train.kernel_count());
  if (!o.dot_dir.empty()) f.train.write_dot(o.dot_dir + "/image_fit_" + o.network + "_train.dot");

  std::mt19937_64 rng(o.seed);
  int next_epoch = 0;
  float last = 0;
  descent::TrainingState state;
  state.add(f.net->parameters()).add(*f.adam).add("rng", rng).add("epoch", next_epoch).add("loss", last)
      .require("network", o.network).require("batch", std::to_string(o.batch))
      .require("seed", std::to_string(o.seed))
      .require("image", std::to_string(f.w) + "x" + std::to_string(f.h));
  if (!o.resume.empty()) {
    state.load(env, o.resume);
    std::printf("resumed %s after epoch %d\n", o.resume.c_str(), next_epoch);
  }
  std::FILE* csv = o.csv.empty() ? nullptr : std::fopen(o.csv.c_str(), "w");
  if (!o.csv.empty() && !csv) throw descent::UsageError("--csv " + o.csv + ": cannot open for writing");
  if (csv) std::fprintf(csv, "# epoch, loss (mean per-pixel squared error, RGB summed)\n");
  const bool tty = isatty(STDERR_FILENO) && !o.quiet;
  double t_start = now_s();
  for (int epoch = next_epoch; epoch < o.epochs; ++epoch) {
    double t0 = now_s();
    try {
      last = f.epoch(rng, schedule(epoch));
    } catch (const descent::NonFiniteError& e) {
      throw descent::NonFiniteError("training diverged in epoch " + std::to_string(epoch + 1) + ": " + e.what());
    }
    if (o.timings && epoch == 0)
      for (const auto& k : env.last_timings(f.train)) std::printf("  %8.3f ms  %s\n", k.ms, k.label.c_str());
    if (tty) std::fprintf(stderr, "\r  epoch %d/%d  loss %.5f  %.1f steps/s   ", epoch + 1, o.epochs, last, f.steps / (now_s() - t0));
    if (!o.quiet && (epoch < 10 || (epoch + 1) % 10 == 0 || epoch + 1 == o.epochs)) {
      if (tty) std::fprintf(stderr, "\r%60s\r", "");
      std::printf("epoch: %d, loss: %.6f, lr_scale: %.4f (%.2f s)\n", epoch + 1, last, schedule(epoch), now_s() - t0);
      std::fflush(stdout);
    }
    if (csv) std::fprintf(csv, "%d, %.8f\n", epoch + 1, last);
    next_epoch = epoch + 1;
    if (!o.save_state.empty()) state.save(env, o.save_state);
    if (!o.output.empty() && (o.all_images || epoch + 1 == o.epochs)) {
      std::string path = o.output + "_" + std::to_string(epoch + 1) + ".png";
      image_fit::save_png(path, static_cast<int>(f.w), static_cast<int>(f.h), f.render());
      if (!o.quiet) std::printf("wrote %s\n", path.c_str());
    }
  }
  if (tty) std::fprintf(stderr, "\r%60s\r", "");
  if (csv) {
    std::fprintf(csv, "\n");
    std::fclose(csv);
  }
  std::printf("%s: final loss %.6f after %d epochs (%.1f s)\n", o.network.c_str(), last, o.epochs, now_s() - t_start);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Fit a coordinate network to an image with descent"};
  Options o;
  parse(app, o);
  CLI11_PARSE(app, argc, argv);
  try {
    return fit(o);
  } catch (const descent::Error& e) {
    std::fprintf(stderr, "image_fit: %s\n", e.what());
    return 1;
  }
}
