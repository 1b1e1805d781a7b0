// Gradient checks (docs/testing.md): class E compares the float64 reference interpreter's backward
// graph with central differences of its forward graph; class F compares the device's backward
// graph with that float64 backward. Each check also runs the graph twice and unfused (bit-identical).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "support/harness.hpp"

namespace descent::testing {

struct GradOptions {
  int max_fd_elements = 24;   // central differences on at most this many elements per input
  double eps = 1e-6;          // class E step
  double atol = 1e-5, rtol = 1e-3;
  bool gpu = true;            // also check the device backward (class F)
  uint32_t seed = 0x6a6a;
};

using DualFn = std::function<DualArray(Scope&, const std::vector<DualArray>&)>;

/// L = sum(fn(inputs) * w) with fixed random weights w; checks dL/d(input) for every input.
void check_grad(const std::string& name, const std::vector<Input>& inputs, const DualFn& fn,
                const GradOptions& options = {});

/// The same check for existing parameters (e.g. a module's own): `fn` may ignore its DualArrays
/// and read the parameters itself (scope.parameter returns the same differentiable leaf).
void check_grad_params(const std::string& name, const std::vector<Parameter>& params,
                       const DualFn& fn, const GradOptions& options = {});

/// Values in [lo, hi] with |x| >= min_abs (keeps inputs away from kinks at 0).
std::vector<float> away_from_zero(int64_t n, uint32_t salt, float lo, float hi, float min_abs);

}  // namespace descent::testing
