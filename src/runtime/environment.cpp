// Environment, Parameter, Scope and Graph: the public entry points, implemented over
// EnvironmentState (device objects) and compile_graph (static schedules).
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <unordered_map>

#include "descent/environment.hpp"
#include "graph/builder.hpp"
#include "runtime/dot.hpp"
#include "runtime/state.hpp"
#include "util/assert.hpp"
#include "util/flags.hpp"
#include "util/hash.hpp"
#include "vulkan/spirv_coopmat.hpp"

namespace descent {

using detail::CompiledGraph;
using detail::EnvironmentState;
using detail::flags;

namespace detail {

namespace {
// Live Environments by serial. Environments may be created and destroyed on several threads; the
// mutex guards the table, not the Environments (using one while another thread destroys it is a
// bug in the caller, as for any object).
std::mutex g_environments_mutex;
std::unordered_map<uint32_t, EnvironmentState*> g_environments;
uint32_t g_next_environment = 1;
}  // namespace

uint32_t register_environment(EnvironmentState* env) {
  std::lock_guard<std::mutex> lock(g_environments_mutex);
  uint32_t serial = g_next_environment++;
  if (g_next_environment == 0) g_next_environment = 1;
  g_environments[serial] = env;
  return serial;
}

void unregister_environment(uint32_t serial) {
  std::lock_guard<std::mutex> lock(g_environments_mutex);
  g_environments.erase(serial);
}

EnvironmentState* live_environment(uint32_t serial) {
  std::lock_guard<std::mutex> lock(g_environments_mutex);
  auto it = g_environments.find(serial);
  return it == g_environments.end() ? nullptr : it->second;
}

ParameterStorage& EnvironmentState::param(uint32_t id, const char* op) {
  if (id >= params.size()) throw UsageError(fmt::format("{}: unknown parameter id {}", op, id));
  return params[id];
}

const ParameterInfo& EnvironmentState::info(uint32_t id, const char* op) const {
  if (id >= params.size()) throw UsageError(fmt::format("{}: unknown parameter id {}", op, id));
  return params[id];
}

vk::ComputePipeline& EnvironmentState::pipeline(const codegen::GeneratedKernel& k, const std::string& label) {
  auto& slot = pipelines[k.source];  // keyed by the whole source: no hash collisions possible
  if (!slot) {
    auto spirv = compiler->compile(k.source, label);
    if (k.khr_coopmat) spirv = vk::nv_coopmat_to_khr(spirv);
    slot = std::make_unique<vk::ComputePipeline>(*ctx, spirv, k.push_bytes, label, pipeline_cache.get());
  }
  return *slot;
}

void EnvironmentState::release_graph(CompiledGraph* g) {
  if (!graphs.erase(g)) return;
  // The command buffer may still be pending: wait before freeing what it uses.
  try {
    transfer->wait_idle();
  } catch (const Error&) {
    // A lost device cannot be waited on; freeing is still safe once the device is gone.
  }
  if (g->arena.valid()) heap->free(g->arena);
  g->cb.reset();
  g->timestamps.reset();
  g->env = nullptr;
}

}  // namespace detail

// ---- Parameter ----------------------------------------------------------------------------

const detail::ParameterStorage& Parameter::storage(const char* op) const {
  if (!env_) throw UsageError(fmt::format("{}: empty parameter handle", op));
  EnvironmentState* env = detail::live_environment(env_);
  if (!env) {
    throw UsageError(fmt::format("{}: parameter #{} belongs to an Environment that has been destroyed; "
                                 "a Parameter is only valid while its Environment lives (keep the "
                                 "Environment, or create the parameter again in the new one)", op, id_));
  }
  return env->param(id_, op);
}

const Shape& Parameter::shape() const { return storage("Parameter::shape").shape; }
DType Parameter::dtype() const { return storage("Parameter::dtype").dtype; }
bool Parameter::trainable() const { return storage("Parameter::trainable").trainable; }
const std::string& Parameter::name() const { return storage("Parameter::name").name; }

// ---- Environment --------------------------------------------------------------------------

Environment::Environment(const EnvironmentOptions& options) : state_(std::make_unique<EnvironmentState>()) {
  vk::ContextOptions co;
  co.device_selector = flags().device.empty() ? options.device : flags().device;
  co.validation = options.validation || flags().validation;
  co.api_version = flags().api_version;
  co.cooperative_matrix2 = flags().coopmat2 != 0;
  auto& s = *state_;
  s.ctx = vk::Context::create(co);
  s.heap = std::make_unique<vk::Heap>(*s.ctx);
  s.transfer = std::make_unique<vk::Transfer>(*s.ctx);
  s.compiler = std::make_unique<vk::ShaderCompiler>(s.ctx->info().cache_key);
  s.pipeline_cache = std::make_unique<vk::PipelineCache>(*s.ctx);
  s.run_info = s.heap->alloc(256);
  s.transfer->fill_zero(s.run_info, 0, 256);
  const uint32_t no_failed_run = 0xffffffffu;  // DescentStatus.first_failed_run takes atomicMin
  s.transfer->update(s.run_info, detail::kStatusFirstFailedRun, &no_failed_run, 4);
  s.target.cpu = s.ctx->info().is_cpu;
  s.target.max_groups_x = s.ctx->info().max_workgroup_count[0];
  s.target.reduce_threads = flags().reduce_threads;
  s.target.subgroup_size = s.ctx->info().subgroup_size;
  // The coopmat kernel assumes 32-wide subgroups and float16 arithmetic types (fcoopmatNV<16>).
  s.target.coopmat_nv = s.ctx->info().has_cooperative_matrix_nv && s.ctx->info().subgroup_size == 32 &&
                        s.ctx->info().has_float16;
  s.target.coopmat_variant = flags().coopmat_variant;
  // Workgroup-scope matrices also need what the subgroup kernel needs (float16 types).
  s.target.coopmat2 = s.target.coopmat_nv && s.ctx->info().has_coopmat2_workgroup && flags().coopmat2 != 0;
  s.target.matmul_prologue = flags().matmul_prologue;
  s.target.max_shared_memory = s.ctx->info().max_shared_memory;
  s.target.subgroup_broadcast = s.ctx->info().subgroup_broadcast;
  s.target.denorm_preserve = s.ctx->info().denorm_preserve_f32;
  s.target.nan_preserve = s.ctx->info().signed_zero_inf_nan_preserve_f32;
  if (flags().debug >= 1)
    std::fprintf(stderr, "descent: device %s (%s)\n", s.ctx->info().name.c_str(), s.ctx->info().type_name.c_str());
  s.serial_ = detail::register_environment(&s);  // last: a constructor that threw registers nothing
}

Environment::~Environment() {
  auto& s = *state_;
  detail::unregister_environment(s.serial_);  // from here on, its Parameter handles are refused
  try {
    s.transfer->wait_idle();
  } catch (const Error&) {
  }
  for (CompiledGraph* g : std::set<CompiledGraph*>(s.graphs)) s.release_graph(g);
  s.pipelines.clear();
}

Parameter Environment::static_parameter(const Shape& shape, const std::string& name, DType dtype) {
  auto& s = *state_;
  if (name.empty()) throw UsageError("static_parameter: empty name (checkpoints find parameters by name)");
  if (auto it = s.param_by_name.find(name); it != s.param_by_name.end()) {
    const auto& old = s.params[it->second];
    throw UsageError(fmt::format("parameter '{}' {}: this Environment already has a parameter of that "
                                 "name ({} {}); names must be unique (checkpoints find parameters by "
                                 "name): pick another name, or leave the layer's name at its default, "
                                 "which Environment::unique_name makes unique", name, shape.str(),
                                 old.shape.str(), dtype_name(old.dtype)));
  }
  detail::ParameterStorage p;
  p.shape = shape;
  p.name = name;
  p.dtype = dtype;
  uint64_t bytes = std::max<uint64_t>(4, 4 * static_cast<uint64_t>(shape.element_count()));
  p.alloc = s.heap->alloc(bytes);
  s.transfer->fill_zero(p.alloc, 0, p.alloc.size);
  s.params.push_back(std::move(p));
  auto id = static_cast<uint32_t>(s.params.size() - 1);
  s.param_by_name.emplace(name, id);
  return Parameter(state_->serial_, id);
}

std::string Environment::unique_name(const std::string& base) {
  auto& s = *state_;
  if (base.empty()) throw UsageError("unique_name: empty base name");
  // A prefix is free when nothing claimed it and no parameter is called `prefix` or `prefix.*`.
  auto is_free = [&](const std::string& prefix) {
    if (s.claimed_names.count(prefix) || s.param_by_name.count(prefix)) return false;
    auto it = s.param_by_name.lower_bound(prefix + ".");
    return it == s.param_by_name.end() || it->first.compare(0, prefix.size() + 1, prefix + ".") != 0;
  };
  int& next = s.name_counters[base];
  std::string name = next == 0 ? base : fmt::format("{}_{}", base, next);
  while (!is_free(name)) name = fmt::format("{}_{}", base, ++next);
  ++next;
  s.claimed_names.insert(name);
  return name;
}

Parameter Environment::trainable_parameter(const Shape& shape, const std::string& name,
                                           const Initializer& init) {
  Parameter p = static_parameter(shape, name);
  state_->params[p.id()].trainable = true;
  state_->params[p.id()].init = init;
  if (init.kind != Initializer::Kind::kZero) write_parameter(p, init.values(shape, state_->init_seed, p.id()));
  return p;
}

void Environment::reset_parameters(uint64_t seed) {
  state_->init_seed = seed;
  for (uint32_t i = 0; i < state_->params.size(); ++i) {
    const auto& ps = state_->params[i];
    if (ps.trainable) write_parameter(Parameter(state_->serial_, i), ps.init.values(ps.shape, seed, i));
  }
}

std::vector<Parameter> Environment::trainable_parameters() const {
  std::vector<Parameter> r;
  for (uint32_t i = 0; i < state_->params.size(); ++i)
    if (state_->params[i].trainable) r.push_back(Parameter(state_->serial_, i));
  return r;
}

Parameter Environment::static_parameter_with_data(const Shape& shape, const std::string& name,
                                                  std::span<const float> data) {
  Parameter p = static_parameter(shape, name);
  write_parameter(p, data);
  return p;
}

void Environment::check_param(const Parameter& p, const char* op) const {
  if (p.env_ == state_->serial_) return;
  const auto& other = p.storage(op);  // throws for empty handles and destroyed Environments
  throw UsageError(fmt::format("{}: parameter '{}' belongs to another Environment", op, other.name));
}

void Environment::upload(const Parameter& p, const void* data, size_t count, DType dtype) {
  check_param(p, "write_parameter");
  auto& ps = state_->param(p.id(), "write_parameter");
  if (ps.dtype != dtype) {
    throw UsageError(fmt::format("write_parameter: parameter '{}' holds {} but {} values were "
                                 "passed", ps.name, dtype_name(ps.dtype), dtype_name(dtype)));
  }
  if (static_cast<int64_t>(count) != ps.shape.element_count()) {
    throw ShapeError(fmt::format("write_parameter: parameter '{}' has shape {} ({} elements) but "
                                 "{} values were given", ps.name, ps.shape.str(),
                                 ps.shape.element_count(), count));
  }
  state_->transfer->upload(ps.alloc, 0, data, count * 4);
}

void Environment::write_parameter(const Parameter& p, std::span<const float> data) {
  upload(p, data.data(), data.size(), DType::kF32);
}

void Environment::write_parameter(const Parameter& p, std::span<const uint32_t> data) {
  upload(p, data.data(), data.size(), DType::kU32);
}

std::vector<uint32_t> Environment::read_parameter_u32(const Parameter& p) {
  check_param(p, "read_parameter_u32");
  auto& ps = state_->param(p.id(), "read_parameter_u32");
  if (ps.dtype != DType::kU32) {
    throw UsageError(fmt::format("read_parameter_u32: parameter '{}' holds {}, not u32; use "
                                 "read_parameter", ps.name, dtype_name(ps.dtype)));
  }
  std::vector<uint32_t> out(static_cast<size_t>(ps.shape.element_count()));
  state_->transfer->download(ps.alloc, 0, out.data(), out.size() * 4);
  check_device_errors();
  return out;
}

void Environment::write_parameter(const Parameter& p, std::initializer_list<float> data) {
  write_parameter(p, std::span<const float>(data.begin(), data.size()));
}

std::vector<float> Environment::read_parameter(const Parameter& p) {
  check_param(p, "read_parameter");
  auto& ps = state_->param(p.id(), "read_parameter");
  if (ps.dtype != DType::kF32) {
    throw UsageError(fmt::format("read_parameter: parameter '{}' holds {}, not f32; use "
                                 "read_parameter_u32", ps.name, dtype_name(ps.dtype)));
  }
  std::vector<float> out(static_cast<size_t>(ps.shape.element_count()));
  state_->transfer->download(ps.alloc, 0, out.data(), out.size() * 4);
  check_device_errors();
  return out;
}

void Environment::check_device_errors() { detail::check_device_status(*state_); }

float Environment::read_parameter_scalar(const Parameter& p) {
  auto v = read_parameter(p);
  if (v.size() != 1)
    throw ShapeError(fmt::format("read_parameter_scalar: parameter '{}' has shape {}, not one element", p.name(), p.shape().str()));
  return v[0];
}

Graph Environment::build_graph(const std::function<void(Scope&)>& build) {
  Scope scope(*state_);
  build(scope);
  Graph g;
  g.impl_ = detail::compile_graph(*state_, std::move(detail::ScopeAccess::state(scope).ir));
  g.impl_->index = state_->graphs_built++;
  if (!flags().dot_dir.empty()) {
    static int counter = 0;
    g.write_dot(fmt::format("{}/graph_{:03d}.dot", flags().dot_dir, counter++));
  }
  return g;
}

void Environment::run(const Graph& graph, uint32_t seed) {
  if (!graph.impl_) throw UsageError("run: empty Graph (default-constructed or moved from)");
  if (graph.impl_->env != state_.get())
    throw UsageError("run: this Graph was built by another Environment, or its Environment is gone");
  auto& s = *state_;
  // DescentRunInfo {seed, zero = +0.0, run}: one update ahead of the graph in the same submit.
  const uint32_t info[3] = {seed, 0u, ++s.runs};
  s.transfer->update(s.run_info, 0, info, sizeof(info));
  VkCommandBuffer cb = graph.impl_->cb->handle();
  s.transfer->submit(std::span<const VkCommandBuffer>(&cb, 1));
  graph.impl_->has_run = true;
  uint64_t n = graph.impl_->runs++;
  if (graph.impl_->has_checks) {
    s.check_pending = true;
    s.run_log.record(s.runs, graph.impl_->index, n + 1);
  }
  // DESCENT_DEBUG=2: the first run of each graph and every timing_every-th after it wait and print
  // (the other runs stay asynchronous).
  if (flags().debug >= 2 && graph.impl_->timestamps && n % static_cast<uint64_t>(flags().timing_every) == 0)
    print_timings(graph);
}

void Environment::print_timings(const Graph& graph) {
  // One summary: the run's GPU time and its five slowest kernels.
  auto t = last_timings(graph);
  double total = 0;
  for (const auto& k : t) total += k.ms;
  std::vector<size_t> order(t.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return t[a].ms > t[b].ms; });
  std::fprintf(stderr, "descent: graph %u, run %llu: %zu kernels, %.3f ms GPU\n", graph.impl_->index,
               static_cast<unsigned long long>(graph.impl_->runs), t.size(), total);
  for (size_t i = 0; i < order.size() && i < 5; ++i)
    std::fprintf(stderr, "  %.3f ms (%4.1f%%) %s\n", t[order[i]].ms,
                 total > 0 ? 100.0 * t[order[i]].ms / total : 0.0, t[order[i]].label.c_str());
}

void Environment::wait_idle() {
  state_->transfer->wait_idle();
  check_device_errors();
}

std::vector<KernelTiming> Environment::last_timings(const Graph& graph) {
  std::vector<KernelTiming> out;
  if (graph.impl_ && graph.impl_->env != state_.get())
    throw UsageError("last_timings: this Graph was built by another Environment, or its Environment is gone");
  if (!graph.impl_ || !graph.impl_->timestamps || !graph.impl_->has_run) return out;
  wait_idle();
  auto& cg = *graph.impl_;
  auto ns = cg.timestamps->read_ns(0, static_cast<uint32_t>(cg.kernels.size() + 1));
  for (size_t k = 0; k < cg.kernels.size(); ++k)
    out.push_back({cg.kernels[k].label, (ns[k + 1] - ns[k]) * 1e-6});
  return out;
}

std::string Environment::device_name() const { return state_->ctx->info().name; }
bool Environment::device_is_cpu() const { return state_->ctx->info().is_cpu; }
std::vector<std::string> Environment::validation_messages() const { return state_->ctx->validation_messages(); }
size_t Environment::submit_count() const { return state_->transfer->submit_count(); }

// ---- Graph --------------------------------------------------------------------------------

Graph::Graph() = default;
Graph::Graph(Graph&&) noexcept = default;
Graph& Graph::operator=(Graph&&) noexcept = default;
Graph::~Graph() = default;

size_t Graph::kernel_count() const { return impl_ ? impl_->kernels.size() : 0; }

std::vector<std::string> Graph::kernel_labels() const {
  std::vector<std::string> out;
  if (impl_)
    for (const auto& k : impl_->kernels) out.push_back(k.label);
  return out;
}

std::string Graph::kernel_source(size_t i) const {
  if (!impl_ || i >= impl_->generated.size())
    throw UsageError(fmt::format("kernel_source: no kernel {} (graph has {})", i, kernel_count()));
  return impl_->generated[i].source;
}

std::string Graph::dot() const { return impl_ ? detail::graph_dot(*impl_) : std::string("digraph G {}\n"); }

void Graph::write_dot(const std::string& path) const {
  std::ofstream f(path);
  if (!f) throw Error(fmt::format("write_dot: cannot open '{}' for writing", path));
  f << dot();
}

}  // namespace descent
