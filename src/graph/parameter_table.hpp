// The narrow view of an Environment's parameters that the graph layer needs while recording:
// each parameter's shape, name, dtype and whether it is trainable, and the Environment's serial.
// Implemented by the runtime (EnvironmentState); nothing here knows about devices or memory.
#pragma once
#include <cstdint>
#include <string>

#include "descent/shape.hpp"

namespace descent::detail {

struct ParameterInfo {
  Shape shape;
  std::string name;
  DType dtype = DType::kF32;
  bool trainable = false;
};

class ParameterTable {
 public:
  virtual ~ParameterTable() = default;
  /// The owning Environment's process-unique serial (Parameter handles carry it).
  virtual uint32_t serial() const = 0;
  /// Parameter `id` of this Environment; UsageError naming `op` for an unknown id.
  virtual const ParameterInfo& info(uint32_t id, const char* op) const = 0;
};

}  // namespace descent::detail
