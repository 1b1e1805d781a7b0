// Test harness shared by the op, fusion and end-to-end suites: one Environment per process (with
// validation when DESCENT_VALIDATION=1), and OpCheck, which runs a graph on the device and checks
// it against the float64 reference interpreter, against DESCENT_DISABLE_FUSION, and against itself
// (run twice), reporting op, shapes, worst element, both values and the ulp distance.
#pragma once
#include <gtest/gtest.h>

#include <descent/descent.hpp>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace descent::testing {

/// The process-wide Environment (created on first use).
Environment& env();

/// Seed for random test data: DESCENT_TEST_SEED or a fixed default; printed on failure.
uint32_t test_seed();

enum class Tolerance {
  kExact,      // class A: bit-identical to the float64 reference rounded to float32
  kUlp3,       // class B: <= 3 ulp
  kTranscend,  // class C: Vulkan precision bounds, given per op in CheckOptions
  kReduction,  // class D: |err| <= 4 n 2^-24 sum|terms|
};

struct Input {
  Shape shape;
  std::vector<float> values;
};

/// Values for tests. Deterministic from (seed, salt).
std::vector<float> random_values(int64_t n, uint32_t salt, float lo = -2.0f, float hi = 2.0f);
std::vector<float> special_values(int64_t n);  // normal, tiny, huge, +-0, +-inf, NaN mixed

/// sum |x| along `axis` of a dense input, per output element (the class D bound's scale).
std::vector<double> abs_sums(const Input& in, int axis);

struct CheckOptions {
  Tolerance tolerance = Tolerance::kExact;
  uint32_t seed = 0x5eed5eed;
  int64_t reduction_length = 1;           // n for class D
  std::vector<double> abs_sum;            // sum|terms| per output element (class D)
  double transcend_abs = 0.0, transcend_ulps = 0.0;  // class C bounds
  int expected_kernels = -1;              // >= 0: assert the fused kernel count
  bool check_unfused = true;
};

struct CheckResult {
  std::vector<float> gpu;
  std::vector<double> ref;
  size_t kernels = 0;
  double max_abs_err = 0, max_ulps = 0;
};

/// Builds `fn(scope, inputs)` into a graph writing the result to a parameter, and checks it.
CheckResult check_op(const std::string& name, const std::vector<Input>& inputs,
                     const std::function<Array(Scope&, const std::vector<Array>&)>& fn,
                     const CheckOptions& options = {});

/// Distance in units in the last place between two floats (0 for equal, huge for NaN vs number).
double ulp_distance(float a, float b);

/// Fails the current test if the validation layer reported anything since the last call.
void expect_no_validation_messages();

}  // namespace descent::testing
