// EnvironmentState and CompiledGraph: what lives behind Environment and Graph. The runtime owns
// the device objects (through src/vulkan) and turns KernelSpecs into a recorded static schedule.
#pragma once
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "codegen/generate.hpp"
#include "descent/environment.hpp"
#include "fuse/kernel_spec.hpp"
#include "graph/ir.hpp"
#include "graph/parameter_table.hpp"
#include "vulkan/commands.hpp"
#include "vulkan/context.hpp"
#include "vulkan/heap.hpp"
#include "vulkan/pipeline.hpp"
#include "vulkan/shader_compiler.hpp"
#include "vulkan/timestamps.hpp"
#include "vulkan/transfer.hpp"

namespace descent::detail {

struct ParameterStorage : ParameterInfo {
  Initializer init;  // trainable parameters: how reset_parameters fills them
  vk::Allocation alloc;
};

struct CompiledGraph;

/// The runs of graphs with device checks since the status words were last read, as spans of
/// consecutive runs of one graph, so that the first failing run number (from the device) can be
/// named as "run k of graph g". Bounded: past kMaxSpans spans, only the run number is reported.
struct RunLog {
  struct Span {
    uint32_t first_run, last_run;  // Environment run numbers (1, 2, ...)
    uint32_t graph;                // CompiledGraph::index
    uint64_t graph_run;            // that graph's own number of first_run (1, 2, ...)
  };
  static constexpr size_t kMaxSpans = 4096;
  std::vector<Span> spans;
  void record(uint32_t run, uint32_t graph, uint64_t graph_run);
  /// "in run 57 of graph #0 (the Environment's run 1234)": graphs numbered from 0 in build order,
  /// runs from 1; the Environment's run number alone past kMaxSpans.
  std::string describe(uint32_t run) const;
};

/// Offsets in the run-info buffer (shaders/common.glsl: DescentRunInfo, DescentStatus).
inline constexpr uint64_t kRunInfoRun = 8, kStatusFirstFailedRun = 12, kStatusFlags = 16;

struct EnvironmentState : ParameterTable {
  uint32_t serial_ = 0;  // unique among the Environments of this process; Parameters carry it
  std::unique_ptr<vk::Context> ctx;
  std::unique_ptr<vk::Heap> heap;
  std::unique_ptr<vk::Transfer> transfer;
  std::unique_ptr<vk::ShaderCompiler> compiler;
  std::unique_ptr<vk::PipelineCache> pipeline_cache;
  std::unordered_map<std::string, std::unique_ptr<vk::ComputePipeline>> pipelines;  // by GLSL source
  std::vector<ParameterStorage> params;
  std::map<std::string, uint32_t> param_by_name;  // names are unique per Environment
  std::set<std::string> claimed_names;            // prefixes handed out by unique_name
  std::map<std::string, int> name_counters;       // unique_name(base): next suffix to try
  vk::Allocation run_info;  // 256 bytes: the run seed, written before each run in the same submit
  std::set<CompiledGraph*> graphs;
  bool check_pending = false;  // a graph with device checks ran since the status words were read
  uint32_t runs = 0;           // Environment::run calls so far (the shaders' run number)
  RunLog run_log;              // which graph made which runs since the status words were read
  codegen::Target target;
  uint64_t init_seed = 0;  // Environment::reset_parameters
  uint32_t graphs_built = 0;

  ParameterStorage& param(uint32_t id, const char* op);
  // ParameterTable, for the Scope (src/graph):
  uint32_t serial() const override { return serial_; }
  const ParameterInfo& info(uint32_t id, const char* op) const override;
  vk::ComputePipeline& pipeline(const codegen::GeneratedKernel& k, const std::string& label);
  void release_graph(CompiledGraph* g);
};

/// Where a value lives on the device: a parameter's buffer or a range of the graph's arena.
struct Storage {
  bool is_param = false;
  uint32_t param = 0;
  uint64_t offset = 0;  // arena offset (temporaries)
  uint64_t bytes = 0;
};

struct CompiledGraph {
  EnvironmentState* env = nullptr;
  IrGraph built;  // as recorded by the Scope (the reference interpreter runs this)
  IrGraph ir;     // after the passes
  std::vector<KernelSpec> kernels;
  std::vector<codegen::GeneratedKernel> generated;
  std::vector<vk::ComputePipeline*> pipelines;
  std::unordered_map<NodeId, Storage> storage;
  vk::Allocation arena;
  std::vector<std::vector<uint64_t>> push;  // per kernel: run info, inputs, outputs addresses
  std::unique_ptr<vk::CommandBuffer> cb;
  std::unique_ptr<vk::TimestampPool> timestamps;
  size_t barrier_count = 0;
  bool has_run = false;  // timestamps are only valid after a run
  uint64_t runs = 0;     // Environment::run calls (DESCENT_DEBUG=2 prints every timing_every-th)
  double host_ms = 0;      // build time in descent's own code: passes, fusion, codegen, recording
  double pipeline_ms = 0;  // build time in SPIR-V compilation and pipeline creation
  uint32_t index = 0;    // build order in its Environment, for messages
  bool has_checks = false;  // gathers or device checks: the status words need reading

  ~CompiledGraph();
};

/// Live Environments by serial (Parameter handles find theirs here). register_environment hands
/// out the next serial; serials are never reused while the process runs (32 bits: a new
/// Environment every millisecond would wrap after 49 days; 0 is skipped).
uint32_t register_environment(EnvironmentState* env);
void unregister_environment(uint32_t serial);
/// The live Environment with this serial, or nullptr once it is destroyed.
EnvironmentState* live_environment(uint32_t serial);

/// Library-internal access to a Graph's compiled form (tests and tools use it too).
struct GraphAccess {
  static const CompiledGraph& get(const Graph& g) {
    if (!g.impl_) throw UsageError("empty Graph");
    return *g.impl_;
  }
};

/// Reads the status words if a graph with device checks ran since the last read, resets them,
/// and throws IndexError / NonFiniteError for the checks that failed (runtime/device_status.cpp).
void check_device_status(EnvironmentState& env);

/// Compiles the scope's IR: passes, fusion, codegen, pipelines, memory plan, recording.
std::unique_ptr<CompiledGraph> compile_graph(EnvironmentState& env, IrGraph built);

}  // namespace descent::detail
