// compile_graph: IR -> passes -> kernels -> GLSL -> pipelines -> memory plan -> recorded command
// buffer. After this, a run is one submit of a pre-recorded command buffer.
#include <fmt/format.h>

#include <chrono>

#include <cstdio>

#include "fuse/cluster.hpp"
#include "graph/passes/passes.hpp"
#include "runtime/memory_plan.hpp"
#include "runtime/state.hpp"
#include "util/assert.hpp"
#include "util/flags.hpp"

namespace descent::detail {

namespace {

struct Range {
  VkBuffer buffer;
  uint64_t begin, end;
  bool overlaps(const Range& o) const { return buffer == o.buffer && begin < o.end && o.begin < end; }
};

Range range_of(const CompiledGraph& cg, NodeId node) {
  const Storage& s = cg.storage.at(node);
  if (s.is_param) {
    const vk::Allocation& a = cg.env->params[s.param].alloc;
    return {a.buffer, a.offset, a.offset + a.size};
  }
  return {cg.arena.buffer, cg.arena.offset + s.offset, cg.arena.offset + s.offset + s.bytes};
}

uint64_t address_of(const CompiledGraph& cg, NodeId node) {
  const Storage& s = cg.storage.at(node);
  if (s.is_param) return cg.env->params[s.param].alloc.address;
  return cg.arena.address + s.offset;
}

/// Records the schedule: a leading barrier (orders us after earlier submissions), then each
/// dispatch, with a barrier only where a kernel touches memory an unsynchronised kernel wrote, or
/// writes memory one read (memory reuse).
void record(CompiledGraph& cg, bool timestamps) {
  auto& ctx = *cg.env->ctx;
  cg.cb = std::make_unique<vk::CommandBuffer>(ctx, "descent graph");
  if (timestamps && vk::TimestampPool::supported(ctx))
    cg.timestamps = std::make_unique<vk::TimestampPool>(ctx, static_cast<uint32_t>(cg.kernels.size() + 1));
  vk::CommandBuffer& cb = *cg.cb;
  cb.begin(true);
  cb.compute_barrier();
  if (cg.timestamps) {
    cb.reset_queries(cg.timestamps->handle(), 0, cg.timestamps->count());
    cb.write_timestamp(cg.timestamps->handle(), 0);
  }
  std::vector<Range> written, read;
  for (size_t k = 0; k < cg.kernels.size(); ++k) {
    const KernelSpec& ks = cg.kernels[k];
    std::vector<Range> r, w;
    for (NodeId in : ks.inputs) r.push_back(range_of(cg, in));
    for (auto& o : ks.outputs) w.push_back(range_of(cg, o.second));
    bool need = false;
    for (const Range& x : r)
      for (const Range& y : written) need = need || x.overlaps(y);
    for (const Range& x : w) {
      for (const Range& y : written) need = need || x.overlaps(y);
      for (const Range& y : read) need = need || x.overlaps(y);
    }
    if (need || cg.timestamps) {
      cb.compute_barrier();
      ++cg.barrier_count;
      written.clear();
      read.clear();
    }
    written.insert(written.end(), w.begin(), w.end());
    read.insert(read.end(), r.begin(), r.end());
    cb.begin_label(ks.label.c_str());
    const auto& push = cg.push[k];
    cb.dispatch(*cg.pipelines[k], push.data(), static_cast<uint32_t>(push.size() * 8),
                cg.generated[k].groups_x, cg.generated[k].groups_y, cg.generated[k].groups_z);
    cb.end_label();
    if (cg.timestamps) cb.write_timestamp(cg.timestamps->handle(), static_cast<uint32_t>(k + 1));
  }
  cb.end();
}

}  // namespace

CompiledGraph::~CompiledGraph() {
  if (env) env->release_graph(this);
}

std::unique_ptr<CompiledGraph> compile_graph(EnvironmentState& env, IrGraph built) {
  const Flags& f = flags();
  const auto t0 = std::chrono::steady_clock::now();
  double pipeline_ms = 0;  // SPIR-V compilation and pipeline creation (caches, driver)
  auto cg = std::make_unique<CompiledGraph>();
  cg->built = built;
  built.compact();
  cg->ir = std::move(built);
  run_passes(cg->ir);
  if (env.target.coopmat2 && pack_float16_matmul_operands(cg->ir)) {
    cg->ir.compact();
    cg->ir.validate();
    if (f.debug >= 5) std::fprintf(stderr, "descent: IR after pack_float16_matmul_operands\n%s", cg->ir.dump().c_str());
  }

  FusionOptions fo;
  fo.enabled = !f.disable_fusion;
  fo.max_bindings = static_cast<int>(env.ctx->info().max_push_constants_size / 8) - 1;
  // Off unless asked for (DESCENT_MATMUL_PROLOGUE=1, tests): on the H100 the conv-net's weight
  // gradients got slower with their patches computed in the loads than with the patches stored
  // (docs/perf/HISTORY.md), and CPU devices' matmul kernels need operands in memory.
  fo.matmul_prologue = env.target.matmul_prologue == 1;
  cg->kernels = build_kernels(cg->ir, fo);
  MemoryPlan plan = plan_memory(cg->ir, cg->kernels);
  cg->storage = std::move(plan.storage);

  if (f.debug >= 3) {
    std::fprintf(stderr, "descent: %zu kernels\n", cg->kernels.size());
    for (size_t k = 0; k < cg->kernels.size(); ++k) {
      std::string m;
      for (NodeId id : cg->kernels[k].members) m += fmt::format(" %{}", id);
      std::fprintf(stderr, "  [%zu] %s:%s\n", k, cg->kernels[k].label.c_str(), m.c_str());
    }
  }
  for (const KernelSpec& k : cg->kernels) {
    for (const Instr& i : k.body)
      cg->has_checks = cg->has_checks || i.kind == Instr::Kind::Gather ||
                       (i.kind == Instr::Kind::Op && (i.op == Op::CheckIndex || i.op == Op::CheckFinite));
    cg->generated.push_back(codegen::generate(k, env.target));
    if (f.debug >= 4) std::fprintf(stderr, "descent: GLSL of %s\n%s\n", k.label.c_str(), cg->generated.back().source.c_str());
    const auto p0 = std::chrono::steady_clock::now();
    cg->pipelines.push_back(&env.pipeline(cg->generated.back(), k.label));
    pipeline_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - p0).count();
  }
  if (plan.arena_bytes) cg->arena = env.heap->alloc(plan.arena_bytes);
  cg->env = &env;  // from here on the destructor returns the arena
  env.graphs.insert(cg.get());
  for (const KernelSpec& k : cg->kernels) {
    std::vector<uint64_t> push{env.run_info.address};
    for (NodeId in : k.inputs) push.push_back(address_of(*cg, in));
    for (auto& o : k.outputs) push.push_back(address_of(*cg, o.second));
    cg->push.push_back(std::move(push));
  }
  record(*cg, f.debug >= 2);
  cg->pipeline_ms = pipeline_ms;
  cg->host_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() - pipeline_ms;
  if (f.debug >= 1) {
    std::fprintf(stderr, "descent: graph compiled: %zu kernels, %zu barriers, arena %.1f KiB, %.1f ms "
                 "(%.1f ms pipelines)\n", cg->kernels.size(), cg->barrier_count,
                 static_cast<double>(plan.arena_bytes) / 1024.0, cg->host_ms + pipeline_ms, pipeline_ms);
  }
  return cg;
}

}  // namespace descent::detail
