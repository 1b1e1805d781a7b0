// The device status words (shaders/common.glsl: DescentStatus): read and reset at the host's
// synchronisations, turned into IndexError / NonFiniteError naming the first failing run. Device
// work is only the one download and one update; the messages come from graph/device_checks.
#include <fmt/format.h>

#include "graph/device_checks.hpp"
#include "runtime/state.hpp"

namespace descent::detail {

static_assert(kStatusFlags == kStatusFirstFailedRun + 4, "one download reads both");

void RunLog::record(uint32_t run, uint32_t graph, uint64_t graph_run) {
  if (!spans.empty() && spans.back().graph == graph && spans.back().last_run + 1 == run) {
    spans.back().last_run = run;
    return;
  }
  if (spans.size() < kMaxSpans) spans.push_back({run, run, graph, graph_run});
}

std::string RunLog::describe(uint32_t run) const {
  for (const Span& s : spans) {
    if (run < s.first_run || run > s.last_run) continue;
    return fmt::format("in run {} of graph #{} (the Environment's run {})",
                       s.graph_run + (run - s.first_run), s.graph, run);
  }
  return fmt::format("in the Environment's run {}", run);
}

void check_device_status(EnvironmentState& s) {
  if (!s.check_pending) return;
  s.check_pending = false;
  // first_failed_run, then the status word of each kind.
  uint32_t status[1 + kCheckKinds] = {};
  s.transfer->download(s.run_info, kStatusFirstFailedRun, status, sizeof(status));
  RunLog log = std::move(s.run_log);
  s.run_log = RunLog();
  const uint32_t flags[kCheckKinds] = {status[1], status[2]};
  if (!flags[0] && !flags[1]) return;
  const uint32_t reset[1 + kCheckKinds] = {0xffffffffu, 0u, 0u};
  s.transfer->update(s.run_info, kStatusFirstFailedRun, reset, sizeof(reset));
  throw_device_check_errors(flags, log.describe(status[0]));
}

}  // namespace descent::detail
