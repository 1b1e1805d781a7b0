// The one registry of runtime flags (environment variables). Nothing else in descent calls getenv.
// Every flag is documented in docs/env_vars.md; flags are read once, on first use.
#pragma once
#include <string>

namespace descent::detail {

struct Flags {
  int debug = 0;                  // DESCENT_DEBUG=0..5
  int timing_every = 100;         // DESCENT_TIMING_EVERY=n: DESCENT_DEBUG>=2 prints every n-th run of a graph
  bool disable_fusion = false;    // DESCENT_DISABLE_FUSION=1
  bool validation = false;        // DESCENT_VALIDATION=1
  std::string device;             // DESCENT_DEVICE=<index|name part>
  std::string api_version;        // DESCENT_VULKAN_API=1.2|1.3 (override the requested API)
  std::string dot_dir;            // DESCENT_DOT=<dir>: write a .dot per compiled graph
  std::string dump_dir;           // DESCENT_DUMP=<dir>: write the GLSL of kernels that fail to compile
  std::string cache_dir;          // DESCENT_CACHE_DIR=<dir> (default: $XDG_CACHE_HOME/descent)
  bool no_disk_cache = false;     // DESCENT_NO_DISK_CACHE=1
  int reduce_threads = 0;         // DESCENT_REDUCE_THREADS=n: override threads per reduced row
  int coopmat_variant = 0;        // DESCENT_COOPMAT_VARIANT=n: force a cooperative-matrix tile table entry
  int matmul_prologue = 0;        // DESCENT_MATMUL_PROLOGUE=1: compute single-node matmul operands in the loads
  int coopmat2 = 1;               // DESCENT_COOPMAT2=0: no workgroup-scope tensor-core kernels
  int heap_limit_mb = 0;          // DESCENT_HEAP_LIMIT_MB=n: hold at most n MiB per memory heap (0: the heap size)
};

/// The flags, read from the environment on first call.
const Flags& flags();

/// Tests override flags through this (single-threaded use only).
Flags& mutable_flags();

}  // namespace descent::detail
