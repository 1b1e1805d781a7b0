// Checkpoints: parameters of an Environment saved to / loaded from a safetensors file (F32, one
// tensor per parameter, named by Parameter::name()). Writes are atomic; loads check every name and
// shape before writing anything, so a bad file leaves the parameters untouched.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "descent/environment.hpp"

namespace descent {

/// Reads the parameters back from the device and writes them (in this order) to `path`.
/// Parameter names must be unique. Optional string metadata goes into "__metadata__".
void save_parameters(Environment& env, const std::string& path, const std::vector<Parameter>& params,
                     const std::map<std::string, std::string>& metadata = {});

/// Loads every parameter in `params` from `path` (by name; extra tensors in the file are ignored).
/// Throws FormatError naming the file and the first missing or mis-shaped tensor.
void load_parameters(Environment& env, const std::string& path, const std::vector<Parameter>& params);

}  // namespace descent
