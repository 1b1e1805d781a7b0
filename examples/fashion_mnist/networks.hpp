// The four Fashion-MNIST networks of the original descent (linear, single-layer, conv-net,
// conv-blur-net), built from public layers only. Shared by the example and bench/bench_train.
#pragma once
#include <descent/descent.hpp>

#include <memory>
#include <stdexcept>
#include <string>

namespace fashion {

inline const char* kNetworks[] = {"linear", "single-layer", "conv-net", "conv-blur-net"};

/// Input [m, 28, 28, 1] -> logits [m, 10]. All activations leaky_relu(0.01).
inline std::unique_ptr<descent::Sequential> make_network(const std::string& name, descent::Environment& env) {
  using namespace descent;
  auto net = std::make_unique<Sequential>();
  if (name == "linear") {
    net->add(Flatten()).add(Dense::builder(784, 10).with_name("fc").build(env));
  } else if (name == "single-layer") {
    net->add(Flatten()).add(Dense::builder(784, 300).with_name("fc1").build(env)).add(LeakyRelu(0.01f));
    net->add(Dense::builder(300, 10).with_name("fc2").build(env));
  } else if (name == "conv-net" || name == "conv-blur-net") {
    bool blur = name == "conv-blur-net";
    net->add(Conv2D::builder(1, 16, 3, 3).with_pad(1).with_name("conv1").build(env)).add(LeakyRelu(0.01f));
    if (blur) net->add(MaxBlurPool2D(env, 16)); else net->add(MaxPool2D(2, 2));
    net->add(Conv2D::builder(16, 32, 3, 3).with_pad(1).with_groups(2).with_name("conv2").build(env)).add(LeakyRelu(0.01f));
    if (blur) net->add(MaxBlurPool2D(env, 32)); else net->add(MaxPool2D(2, 2));
    net->add(Flatten()).add(Dropout(0.5f));
    net->add(Dense::builder(7 * 7 * 32, 128).with_name("fc1").build(env)).add(LeakyRelu(0.01f));
    net->add(Dense::builder(128, 10).with_name("fc2").build(env));
  } else {
    throw std::invalid_argument("unknown network '" + name +
                                "' (choose linear, single-layer, conv-net or conv-blur-net)");
  }
  return net;
}

}  // namespace fashion
