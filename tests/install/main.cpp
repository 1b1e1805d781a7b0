// Built against an installed descent (public headers only): runs the README's snippet, one
// small graph and a checkpoint round trip (so the exported link dependencies, zlib included,
// are exercised).
#include <descent/descent.hpp>
#include <descent/io.hpp>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

// The first C++ snippet of README.md, extracted by run.sh.
static void readme_snippet() {
#include "readme_snippet.inc"
  if (!(result >= 0.0f && result < 1.0f))
    throw descent::Error("README snippet: the loss did not fall below 1 (got " + std::to_string(result) + ")");
}

int main() {
  readme_snippet();
  descent::Environment env;
  auto x = env.static_parameter_with_data({4}, "x", std::vector<float>{1, 2, 3, 4});
  auto g = env.build_graph([&](descent::Scope& s) {
    s.write_parameter_value(x, s.parameter_value(x) * 2.0f + 1.0f);
  });
  env.run(g);
  auto v = env.read_parameter(x);
  bool ok = v[0] == 3 && v[1] == 5 && v[2] == 7 && v[3] == 9;
  auto dir = std::filesystem::temp_directory_path();
  std::string ckpt =
      (dir / ("descent-consumer-" + std::to_string(::getpid()) + ".safetensors")).string();
  descent::save_safetensors(ckpt, {{"x", descent::Shape{4}, v}});
  ok = ok && descent::load_safetensors(ckpt).at(0).data == v;
  std::string labels = ckpt + ".idx1.gz";
  descent::write_idx_labels(labels, {1, 2, 3});
  ok = ok && descent::read_idx_labels(labels, 10).size() == 3;
  std::filesystem::remove(ckpt);
  std::filesystem::remove(labels);
  std::printf("consumer: %s\n", ok ? "ok" : "wrong result");
  return ok ? 0 : 1;
}
