// Environment (device, parameters, compiled graphs), Parameter, Scope and Graph: the entry points.
// No Vulkan types appear here; the device lives behind descent::detail.
//
//   descent::Environment env;
//   auto x = env.static_parameter({3}, "x");
//   env.write_parameter(x, {1, 2, 3});
//   auto g = env.build_graph([&](descent::Scope& s) {
//     s.write_parameter_value(x, s.parameter_value(x) * 2.0f + 1.0f);
//   });
//   env.run(g);                        // one submit; x is now {3, 5, 7}
//   auto v = env.read_parameter(x);
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "descent/array.hpp"
#include "descent/dual_array.hpp"
#include "descent/errors.hpp"
#include "descent/initializer.hpp"
#include "descent/shape.hpp"

namespace descent {

namespace detail {
struct EnvironmentState;
struct ParameterStorage;
struct ParameterTable;
struct ParameterInfo;
struct ScopeState;
struct ScopeAccess;
struct TestAccess;
struct CompiledGraph;
struct GraphAccess;
}  // namespace detail

/// A named, shaped float32 array that persists in device memory between runs.
/// A cheap value handle (two 32-bit ids): the serial number of its Environment, which is unique in
/// the process, and the parameter's index there. Every use looks the Environment up among the live
/// ones, so a handle kept after its Environment is destroyed throws UsageError instead of reaching
/// freed memory or a parameter of a newer Environment.
class Parameter {
 public:
  Parameter() = default;
  const Shape& shape() const;
  const std::string& name() const;
  DType dtype() const;
  /// Made by Environment::trainable_parameter (optimisers and checkpoints enumerate these).
  bool trainable() const;
  uint32_t id() const { return id_; }
  /// Not empty (default-constructed). A handle whose Environment is gone is still valid() but
  /// every use of it throws UsageError.
  bool valid() const { return env_ != 0; }

 private:
  friend class Environment;
  friend class Scope;
  Parameter(uint32_t env, uint32_t id) : env_(env), id_(id) {}
  /// The storage of this parameter; UsageError when empty or its Environment is gone.
  const detail::ParameterStorage& storage(const char* op) const;
  uint32_t env_ = 0;  // serial of the Environment (0: empty handle)
  uint32_t id_ = 0;
};

/// Records ops while a graph is being built (only inside Environment::build_graph).
class Scope {
 public:
  Array parameter_value(const Parameter& p);
  /// The parameter's value with a gradient (a DualArray): every float parameter read here can be
  /// differentiated; reads after write_parameter_value in this scope are constants. A u32
  /// parameter throws UsageError (it has no gradient: use parameter_value).
  DualArray parameter(const Parameter& p);
  /// Trainable parameters read through parameter() in this scope, in order of first read.
  std::vector<Parameter> trainable_parameters() const;
  /// Makes `value` the parameter's new contents after the run; later reads in this scope see it.
  /// One write per parameter per graph: a second write (two optimisers, or step() twice) throws
  /// UsageError naming both writers. `writer` names this write in that message.
  void write_parameter_value(const Parameter& p, const Array& value,
                             const std::string& writer = "write_parameter_value");
  Array literal(float value);
  Array literal_u32(uint32_t value);
  /// A [n] array holding 0, 1, ..., n-1 (use broadcast/reshape to place it on any axis).
  Array coord(int64_t n);
  /// Coordinate along `axis` of `shape`, as floats.
  Array coord(const Shape& shape, int axis);
  /// Uniform [0, 1) numbers from a counter-based hash of (run seed, this call, element index):
  /// the same seed always gives the same numbers.
  Array rand(const Shape& shape);
  /// Standard normal numbers (Box-Muller on two rand() streams: sqrt(-2 ln(1 - u1)) cos(2 pi u2);
  /// 1 - u1 lies in (0, 1], so the logarithm is finite). Same seed, same numbers.
  Array rand_normal(const Shape& shape);

  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  friend class Environment;
  friend struct detail::ScopeAccess;
  friend struct detail::TestAccess;
  explicit Scope(const detail::ParameterTable& params);
  const detail::ParameterInfo& param_of(const Parameter& p, const char* op);
  std::unique_ptr<detail::ScopeState> state_;
};

/// A compiled graph: a static schedule of fused kernels, recorded once and replayed by run().
/// Must not outlive its Environment (running it afterwards throws UsageError).
class Graph {
 public:
  Graph();
  Graph(Graph&&) noexcept;
  Graph& operator=(Graph&&) noexcept;
  ~Graph();
  /// Number of compute kernels (dispatches) one run executes.
  size_t kernel_count() const;
  /// Graphviz drawing of the IR with each kernel drawn as a box.
  std::string dot() const;
  void write_dot(const std::string& path) const;
  /// Labels of the kernels in execution order (e.g. "elementwise 3 ops [1000]").
  std::vector<std::string> kernel_labels() const;
  /// The generated GLSL of kernel i.
  std::string kernel_source(size_t i) const;

 private:
  friend class Environment;
  friend struct detail::GraphAccess;
  std::unique_ptr<detail::CompiledGraph> impl_;
};

struct EnvironmentOptions {
  std::string device;      // "" (best), an index, or part of a device name; DESCENT_DEVICE wins
  bool validation = false; // Khronos validation layer; DESCENT_VALIDATION=1 also turns it on
};

/// Per-kernel GPU time of the last run (needs DESCENT_DEBUG >= 2 when the graph was built).
struct KernelTiming {
  std::string label;
  double ms = 0.0;
};

class Environment {
 public:
  explicit Environment(const EnvironmentOptions& options = {});
  ~Environment();
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

  /// A parameter of this shape and dtype, zero-initialised. Names are unique per Environment
  /// (checkpoints find parameters by name): a name already in use throws UsageError.
  Parameter static_parameter(const Shape& shape, const std::string& name,
                             DType dtype = DType::kF32);
  /// `base` if no parameter is called `base` or `base.*` and no earlier call returned it, else the
  /// first free `base_1`, `base_2`, ... Layers name their parameters with it (`dense.w`,
  /// `dense_1.w`), so two default-named layers never collide.
  std::string unique_name(const std::string& base);
  /// A float32 parameter that training updates (listed by trainable_parameters()), filled by
  /// `init` from the stream (initialization seed, parameter index): see reset_parameters.
  Parameter trainable_parameter(const Shape& shape, const std::string& name,
                                const Initializer& init = Initializer::zero());
  /// Re-draws every trainable parameter from its Initializer with this seed (the same seed gives
  /// the same values on any device). Later trainable parameters also use this seed.
  void reset_parameters(uint64_t seed);
  /// Every trainable parameter of this Environment, in creation order.
  std::vector<Parameter> trainable_parameters() const;
  Parameter static_parameter_with_data(const Shape& shape, const std::string& name,
                                       std::span<const float> data);
  /// Queues an upload (sent with the next run, or flushed by a read). data.size() must match.
  void write_parameter(const Parameter& p, std::span<const float> data);
  void write_parameter(const Parameter& p, std::initializer_list<float> data);
  /// For u32 parameters.
  void write_parameter(const Parameter& p, std::span<const uint32_t> data);
  /// The contents of a u32 parameter (a float32 parameter throws UsageError: use read_parameter).
  std::vector<uint32_t> read_parameter_u32(const Parameter& p);
  /// Waits for pending runs and returns a float32 parameter's contents (a u32 parameter throws
  /// UsageError: use read_parameter_u32). Throws IndexError if a gather or a loss met an
  /// out-of-range index since the last synchronisation, NonFiniteError if an Array::check_finite
  /// saw NaN or infinity (wait_idle checks too).
  std::vector<float> read_parameter(const Parameter& p);
  float read_parameter_scalar(const Parameter& p);

  Graph build_graph(const std::function<void(Scope&)>& build);
  /// One queue submit; returns without waiting. `seed` feeds Scope::rand.
  void run(const Graph& graph, uint32_t seed = 0);
  void wait_idle();
  std::vector<KernelTiming> last_timings(const Graph& graph);

  std::string device_name() const;
  bool device_is_cpu() const;
  /// Validation-layer messages seen so far (empty without validation).
  std::vector<std::string> validation_messages() const;
  size_t submit_count() const;


 private:
  friend struct detail::TestAccess;
  void check_param(const Parameter& p, const char* op) const;
  void print_timings(const Graph& graph);
  void check_device_errors();
  void upload(const Parameter& p, const void* data, size_t count, DType dtype);
  std::unique_ptr<detail::EnvironmentState> state_;
};

}  // namespace descent
