// Reads DESCENT_* environment variables once; see docs/env_vars.md for what each one does.
#include "util/flags.hpp"

#include <cstdlib>

namespace descent::detail {
namespace {
std::string env_string(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}
int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  long x = std::strtol(v, &end, 10);
  return (end && *end == 0) ? static_cast<int>(x) : fallback;
}
bool env_bool(const char* name) { return env_int(name, 0) != 0; }

Flags read_flags() {
  Flags f;
  f.debug = env_int("DESCENT_DEBUG", 0);
  f.timing_every = env_int("DESCENT_TIMING_EVERY", 100);
  if (f.timing_every < 1) f.timing_every = 100;
  f.disable_fusion = env_bool("DESCENT_DISABLE_FUSION");
  f.validation = env_bool("DESCENT_VALIDATION");
  f.device = env_string("DESCENT_DEVICE");
  f.api_version = env_string("DESCENT_VULKAN_API");
  f.dot_dir = env_string("DESCENT_DOT");
  f.dump_dir = env_string("DESCENT_DUMP");
  f.cache_dir = env_string("DESCENT_CACHE_DIR");
  if (f.cache_dir.empty()) {
    std::string xdg = env_string("XDG_CACHE_HOME");
    std::string home = env_string("HOME");
    if (!xdg.empty()) f.cache_dir = xdg + "/descent";
    else if (!home.empty()) f.cache_dir = home + "/.cache/descent";
  }
  f.no_disk_cache = env_bool("DESCENT_NO_DISK_CACHE");
  f.reduce_threads = env_int("DESCENT_REDUCE_THREADS", 0);
  f.coopmat_variant = env_int("DESCENT_COOPMAT_VARIANT", 0);
  f.matmul_prologue = env_int("DESCENT_MATMUL_PROLOGUE", 0);
  f.coopmat2 = env_int("DESCENT_COOPMAT2", 1);
  f.heap_limit_mb = env_int("DESCENT_HEAP_LIMIT_MB", 0);
  if (f.heap_limit_mb < 0) f.heap_limit_mb = 0;
  return f;
}
}  // namespace

Flags& mutable_flags() {
  static Flags f = read_flags();
  return f;
}
const Flags& flags() { return mutable_flags(); }

}  // namespace descent::detail
