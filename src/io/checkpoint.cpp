// save_parameters / load_parameters (include/descent/checkpoint.hpp): glue between the public
// Environment parameter I/O and the safetensors file code. No file parsing here.
#include "descent/checkpoint.hpp"

#include <fmt/format.h>

#include <set>

#include "descent/io.hpp"

namespace descent {

void save_parameters(Environment& env, const std::string& path, const std::vector<Parameter>& params,
                     const std::map<std::string, std::string>& metadata) {
  std::vector<TensorRecord> records;
  std::set<std::string> names;
  for (const Parameter& p : params) {
    if (!names.insert(p.name()).second) {
      throw UsageError(fmt::format("save_parameters: two parameters are named '{}'; names must be "
                                   "unique in a checkpoint", p.name()));
    }
    if (p.dtype() != DType::kF32)
      throw UsageError(fmt::format("save_parameters: parameter '{}' is not float32", p.name()));
    records.push_back(TensorRecord{p.name(), p.shape(), env.read_parameter(p)});
  }
  save_safetensors(path, records, metadata);
}

void load_parameters(Environment& env, const std::string& path, const std::vector<Parameter>& params) {
  std::vector<TensorRecord> records = load_safetensors(path);
  std::map<std::string, const TensorRecord*> by_name;
  for (const TensorRecord& r : records) by_name[r.name] = &r;
  for (const Parameter& p : params) {  // check everything before writing anything
    auto it = by_name.find(p.name());
    if (it == by_name.end()) {
      throw FormatError(fmt::format("{}: no tensor named '{}' (the file has {} tensors); was it saved "
                                    "from the same network?", path, p.name(), records.size()));
    }
    if (it->second->shape != p.shape()) {
      throw FormatError(fmt::format("{}: tensor '{}' has shape {} but the parameter has shape {}",
                                    path, p.name(), it->second->shape.str(), p.shape().str()));
    }
  }
  for (const Parameter& p : params) env.write_parameter(p, by_name.at(p.name())->data);
}

}  // namespace descent
