// Scope: parameter reads and writes, literals, coordinates and random numbers for a graph being
// built, over the Environment's ParameterTable (graph/parameter_table.hpp). Array ops themselves
// live in builder.cpp, DualArray's in dual_array.cpp. Nothing here knows about devices.
#include <fmt/format.h>

#include "descent/environment.hpp"
#include "graph/builder.hpp"

namespace descent {

using detail::ArrayAccess;
using detail::NodeId;
using detail::Op;
using detail::View;

namespace detail {
void register_scope(uint32_t serial, Scope* s);
}

Scope::Scope(const detail::ParameterTable& params) : state_(std::make_unique<detail::ScopeState>(&params)) {
  state_->owner = this;
  detail::register_scope(state_->serial, this);
}
Scope::~Scope() = default;

const detail::ParameterInfo& Scope::param_of(const Parameter& p, const char* op) {
  if (!p.valid()) throw UsageError(fmt::format("{}: empty Parameter handle", op));
  if (p.env_ == state_->params->serial()) return state_->params->info(p.id(), op);
  const std::string& other = p.name();  // throws for empty handles and destroyed Environments
  throw UsageError(fmt::format("{}: parameter '{}' belongs to another Environment; a graph can "
                               "only use its own Environment's parameters", op, other));
}

namespace detail {
ScopeState& ScopeAccess::state(Scope& s) { return *s.state_; }
}  // namespace detail

Array Scope::parameter_value(const Parameter& p) {
  auto& s = *state_;
  const auto& ps = param_of(p, "parameter_value");
  auto it = s.param_value.find(p.id());
  if (it != s.param_value.end()) return ArrayAccess::make(this, it->second);
  detail::Node n;
  n.op = Op::Input;
  n.shape = ps.shape;
  n.dtype = ps.dtype;
  n.param = p.id();
  n.colour = s.colour;
  NodeId id = s.ir.add(std::move(n));
  s.param_value[p.id()] = id;
  return ArrayAccess::make(this, id);
}

void Scope::write_parameter_value(const Parameter& p, const Array& value, const std::string& writer) {
  auto& s = *state_;
  const auto& ps = param_of(p, "write_parameter_value");
  if (s.param_output.count(p.id())) {
    throw UsageError(fmt::format("{}: parameter '{}' was already written in this graph by {}; a graph "
                                 "writes each parameter once (two optimisers over one parameter, or "
                                 "step() called twice?). Combine the updates into one value, or "
                                 "build separate graphs", writer, ps.name, s.param_writer[p.id()]));
  }
  if (ArrayAccess::scope(value) != this)
    throw UsageError("write_parameter_value: the value was recorded in another scope");
  NodeId v = ArrayAccess::node(value);
  if (s.dtype(v) != ps.dtype) {
    throw UsageError(fmt::format("write_parameter_value: parameter '{}' holds {} but the value is {}",
                                 ps.name, dtype_name(ps.dtype), dtype_name(s.dtype(v))));
  }
  if (s.shape(v) != ps.shape) {
    throw ShapeError(fmt::format("write_parameter_value: parameter '{}' has shape {} but the value "
                                 "has shape {}", ps.name, ps.shape.str(), s.shape(v).str()));
  }
  NodeId out = s.add(Op::Output, ps.shape, {detail::Arg{v, View::identity(ps.shape)}});
  s.ir[out].param = p.id();
  s.param_output[p.id()] = out;
  s.param_writer[p.id()] = writer;
  s.param_value[p.id()] = v;
}

Array Scope::literal(float value) { return ArrayAccess::make(this, state_->literal(value)); }
Array Scope::literal_u32(uint32_t value) { return ArrayAccess::make(this, state_->literal_u32(value)); }

Array Scope::coord(int64_t n) {
  if (n < 1) throw ShapeError(fmt::format("coord: length {} must be >= 1", n));
  NodeId id = state_->add(Op::Coord, Shape{n}, {});
  return ArrayAccess::make(this, id);
}

Array Scope::coord(const Shape& shape, int axis) {
  int ax = shape.axis(axis, "coord");
  Array c = coord(shape[ax]);
  std::vector<int64_t> dims(static_cast<size_t>(shape.rank()), 1);
  dims[static_cast<size_t>(ax)] = shape[ax];
  return c.reshape(Shape(dims)).broadcast(shape);
}

Array Scope::rand_normal(const Shape& shape) {
  Array u1 = rand(shape), u2 = rand(shape);
  return (-2.0f * (1.0f - u1).log()).sqrt() * (6.28318530717958647692f * u2).cos();
}

Array Scope::rand(const Shape& shape) {
  NodeId id = state_->add(Op::Rand, shape, {});
  state_->ir[id].uid = state_->next_rand_uid++;
  return ArrayAccess::make(this, id);
}

}  // namespace descent
