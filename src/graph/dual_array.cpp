// DualArray plumbing: recording tape entries, set_loss, the single reverse sweep that builds the
// backward graph, gradient lookup, custom ops and Scope::parameter. The derivative rules of the
// built-in ops live in autodiff.cpp; this file must not grow any.
#include "graph/dual_array.hpp"

#include <fmt/format.h>

#include "descent/environment.hpp"
#include "graph/array_ops.hpp"
#include "graph/builder.hpp"
#include "runtime/state.hpp"

namespace descent {

using detail::ArrayAccess;
using detail::Tape;

namespace {
Tape& tape_of(const Array& a) { return ArrayAccess::scope(a)->state().tape; }

/// Builds every gradient reachable backwards from the loss, in reverse tape order. Sums of several
/// contributions are left-deep chains in that (deterministic) order.
void sweep(Tape& t) {
  t.grads.assign(t.entries.size(), Array());
  t.grads[t.loss] = t.seed;
  t.swept = true;
  for (uint32_t i = t.loss; i > 0; --i) {
    Array g = t.grads[i];
    const detail::TapeEntry& e = t.entries[i];
    if (!g.valid() || !e.backward) continue;
    std::vector<Array> parts = e.backward(g);
    if (parts.size() != e.inputs.size()) {
      throw UsageError(fmt::format("DualArray backward: an op with {} inputs returned {} gradients",
                                   e.inputs.size(), parts.size()));
    }
    for (size_t j = 0; j < parts.size(); ++j) {
      uint32_t in = e.inputs[j];
      if (in == 0 || !parts[j].valid()) continue;
      const Shape& want = t.entries[in].shape;
      if (parts[j].shape() != want) {
        throw ShapeError(fmt::format("DualArray backward: gradient for input {} has shape {} but "
                                     "the input has shape {}", j, parts[j].shape().str(), want.str()));
      }
      t.grads[in] = t.grads[in].valid() ? t.grads[in] + parts[j] : parts[j];
    }
  }
}
}  // namespace

namespace detail {

DualArray record(const Array& value, const std::vector<DualArray>& inputs, Backward backward) {
  bool any = false;
  for (const DualArray& d : inputs) any = any || d.requires_grad();
  if (!any) return DualArray(value);
  Tape& t = tape_of(value);
  TapeEntry e;
  for (const DualArray& d : inputs) e.inputs.push_back(DualAccess::tape(d));
  e.backward = std::move(backward);
  e.shape = value.shape();
  t.entries.push_back(std::move(e));
  return DualAccess::make(value, static_cast<uint32_t>(t.entries.size() - 1));
}

Array unbroadcast(const Array& g, const Shape& to) {
  Shape from = g.shape();
  if (from == to) return g;
  int lead = from.rank() - to.rank();
  std::vector<int> axes;
  for (int i = 0; i < from.rank(); ++i)
    if (i < lead || (to[i - lead] == 1 && from[i] != 1)) axes.push_back(i);
  Array r = axes.empty() ? g : g.reduce_sum(axes, true);
  return r.reshape(to);
}

}  // namespace detail

Array DualArray::set_loss() const {
  if (!value_.valid()) throw UsageError("set_loss: empty DualArray");
  Tape& t = tape_of(value_);
  if (t.loss != 0) throw UsageError("set_loss: this scope already has a loss (one per scope)");
  if (!requires_grad()) {
    throw UsageError(fmt::format("set_loss: the loss {} does not depend on any parameter read with "
                                 "scope.parameter(), so there is nothing to differentiate",
                                 shape().str()));
  }
  Shape s = shape();
  int64_t batch = s.rank() == 0 ? 1 : s[0];
  t.loss = tape_;
  t.seed = scope().literal(1.0f / static_cast<float>(batch)).broadcast(s);
  return value_;
}

Array DualArray::grad() const {
  if (!value_.valid()) throw UsageError("grad: empty DualArray");
  Tape& t = tape_of(value_);
  if (t.loss == 0) {
    throw UsageError(fmt::format("grad: no loss in this scope yet; call set_loss() on the loss "
                                 "before asking for gradients (value {})", shape().str()));
  }
  if (!t.swept) sweep(t);
  if (tape_ != 0 && tape_ < t.grads.size() && t.grads[tape_].valid()) return t.grads[tape_];
  return scope().literal(0.0f).broadcast(shape());
}

DualArray DualArray::custom(const Array& value, const std::vector<DualArray>& inputs,
                            std::function<std::vector<Array>(const Array& grad)> backward) {
  if (!backward) throw UsageError("DualArray::custom: empty backward function");
  return detail::record(value, inputs, std::move(backward));
}

DualArray Scope::parameter(const Parameter& p) {
  auto& s = *state_;
  const auto& ps = param_of(p, "parameter");
  Array v = parameter_value(p);
  if (ps.dtype != DType::kF32 || s.param_output.count(p.id())) return DualArray(v);
  Tape& t = s.tape;
  auto it = t.param_leaf.find(p.id());
  if (it != t.param_leaf.end()) return DualAccess::make(v, it->second);
  detail::TapeEntry e;
  e.shape = ps.shape;
  t.entries.push_back(std::move(e));
  auto leaf = static_cast<uint32_t>(t.entries.size() - 1);
  t.param_leaf[p.id()] = leaf;
  t.param_order.push_back(p.id());
  return DualAccess::make(v, leaf);
}

std::vector<Parameter> Scope::trainable_parameters() const {
  std::vector<Parameter> r;
  for (uint32_t id : state_->tape.param_order)
    if (state_->env->params[id].trainable) r.push_back(Parameter(state_->env, id));
  return r;
}

}  // namespace descent
