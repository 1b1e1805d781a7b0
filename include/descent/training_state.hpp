// TrainingState: everything a training run depends on, in one safetensors file, so that a run
// stopped after step N and resumed in a new process continues bit for bit as if it had never
// stopped. Built on the public API only (Environment parameter I/O, save/load_safetensors); it
// does not know what a model, an optimiser or a data set is: the caller lists what to keep.
//
//   descent::TrainingState state;
//   state.add(net->parameters()).add(adam)                     // weights, moments, step count
//        .add("epoch", epoch).add("rng", rng).add("order", order)  // host side, by reference
//        .require("network", network_name);                     // must match on load
//   state.save(env, "run.state");                              // atomic (temporary + rename)
//   ...  // a new process, the same setup:
//   state.load(env, "run.state");  // checks everything first, then writes it all
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "descent/environment.hpp"
#include "descent/optimizer.hpp"

namespace descent {

struct TensorRecord;

/// A list of what a run depends on: device parameters (by name) and host variables (by
/// reference: save() reads them, load() assigns them). What bit-exact resume needs in general:
///   - every parameter the step graph reads and writes: weights, optimiser state (moments and the
///     step count: add(optimizer)), accumulators that span the resume point;
///   - the host's random generators (run seeds, sampling, shuffling) and the data order with the
///     position in it;
///   - the counters the schedule is computed from (epoch, step, trial).
/// Values are stored exactly: floats as their bits, generators as their standard text state.
class TrainingState {
 public:
  /// Device parameters (float32), saved as tensors named by Parameter::name().
  TrainingState& add(const std::vector<Parameter>& parameters);
  /// The optimiser's state parameters (Optimizer::state_parameters(): moments, step count, velocities).
  TrainingState& add(const Optimizer& optimizer);
  TrainingState& add(const std::string& key, int64_t& value);
  TrainingState& add(const std::string& key, uint64_t& value);
  TrainingState& add(const std::string& key, int& value);
  TrainingState& add(const std::string& key, double& value);
  TrainingState& add(const std::string& key, float& value);
  TrainingState& add(const std::string& key, std::mt19937_64& generator);
  TrainingState& add(const std::string& key, std::mt19937& generator);
  /// A host array such as a shuffled data order (any u32 values, stored exactly).
  TrainingState& add(const std::string& key, std::vector<uint32_t>& values);
  /// Saved, and on load required to equal `value` (network, batch size, data set): a mismatch
  /// throws UsageError naming the key, the file's value and this run's.
  TrainingState& require(const std::string& key, const std::string& value);

  /// Reads the parameters back from the device and writes one safetensors file: tensors for the
  /// parameters and host arrays, "__metadata__" for the rest (and a format tag). Atomic: a failed
  /// save leaves an older file at `path` untouched. Throws UsageError for duplicate keys/names.
  void save(Environment& env, const std::string& path) const;
  /// Reads `path` and checks everything (format tag, every key and tensor present and well
  /// formed, shapes, required values) before changing anything; then writes the parameters
  /// (uploads queued for the next run) and assigns the host variables. FormatError for a bad or
  /// mismatched file (path and what), UsageError for a required value that differs.
  void load(Environment& env, const std::string& path);

 private:
  enum class Kind { kInt64, kUint64, kInt, kDouble, kFloat, kMt64, kMt32, kU32Array };
  struct Host {
    std::string key;
    Kind kind;
    void* target;
  };
  TrainingState& add_host(const std::string& key, Kind kind, void* target);
  /// The assignment of one host value parsed from the file (FormatError if it does not parse).
  std::function<void()> parse_host(const Host& h, const std::string& text, const std::string& path,
                                   const std::map<std::string, const TensorRecord*>& tensors) const;
  std::vector<Parameter> parameters_;
  std::vector<Host> host_;
  std::map<std::string, std::string> required_;
};

}  // namespace descent
