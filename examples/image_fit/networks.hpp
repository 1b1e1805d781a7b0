// The image_fit networks of the original descent, from public layers: ReLU MLP, ReLU with
// positional encoding, SIREN and the multi-resolution hash grid. Input [m, 2] -> RGB [m, 3].
#pragma once
#include <descent/descent.hpp>

#include <memory>
#include <stdexcept>
#include <string>

namespace image_fit {

inline const char* kNetworks[] = {"relu", "relu-pe", "siren", "multi-hash"};

/// Dense layers in -> hidden... -> 3; hidden layers followed by leaky_relu(0.01) (or sin for SIREN).
inline void add_mlp(descent::Sequential& net, descent::Environment& env, int64_t in,
                    std::initializer_list<int64_t> hidden, bool siren) {
  using namespace descent;
  int64_t d = in;
  int l = 0;
  for (int64_t h : hidden) {
    auto b = Dense::builder(d, h).with_name("fc" + std::to_string(++l));
    if (siren) b.with_w_initializer(Initializer::for_siren(d, l == 1)).with_b_initializer(Initializer::uniform(1.0f));
    net.add(b.build(env));
    if (siren) net.add(Sine()); else net.add(LeakyRelu(0.01f));
    d = h;
  }
  net.add(Dense::builder(d, 3).with_name("out").build(env));
}

inline std::unique_ptr<descent::Sequential> make_network(const std::string& name, descent::Environment& env) {
  using namespace descent;
  auto net = std::make_unique<Sequential>();
  if (name == "relu") {
    add_mlp(*net, env, 2, {256, 128, 64, 32}, false);
  } else if (name == "relu-pe") {
    PositionalEncoding pe(8);
    net->add(pe);
    add_mlp(*net, env, pe.output_features(2), {256, 128, 64, 32}, false);
  } else if (name == "siren") {
    add_mlp(*net, env, 2, {256, 128, 64, 32}, true);
  } else if (name == "multi-hash") {
    MultiHashGrid grid(env);
    int64_t features = grid.output_features();
    net->add(std::move(grid));
    add_mlp(*net, env, features, {64, 64}, false);
  } else {
    throw std::invalid_argument("unknown network '" + name + "' (relu, relu-pe, siren or multi-hash)");
  }
  return net;
}

}  // namespace image_fit
