// DualArray plumbing: recording tape entries, set_loss, the single reverse sweep that builds the
// backward graph, gradient lookup, custom ops and Scope::parameter. The derivative rules of the
// built-in ops live in autodiff.cpp; this file must not grow any.
#include "graph/dual_array.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "descent/environment.hpp"
#include "graph/array_ops.hpp"
#include "graph/builder.hpp"
#include "util/warn.hpp"

namespace descent {

using detail::ArrayAccess;
using detail::Tape;

namespace {
Tape& tape_of(const Array& a) { return detail::ScopeAccess::state(*ArrayAccess::scope(a)).tape; }

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
/// Warns (once per process and shapes) when the loss depends on a noted rank broadcast.
void warn_about_rank_broadcasts(const Tape& t, uint32_t loss) {
  if (t.rank_broadcasts.empty()) return;
  std::vector<bool> seen(t.entries.size(), false);
  std::vector<uint32_t> stack{loss};
  while (!stack.empty()) {
    uint32_t i = stack.back();
    stack.pop_back();
    if (i == 0 || seen[i]) continue;
    seen[i] = true;
    auto it = t.rank_broadcasts.find(i);
    if (it != t.rank_broadcasts.end()) {
      detail::warn_once("rank_broadcast " + it->second,
                        fmt::format("set_loss: the loss depends on an op whose operands {} (different "
                                    "ranks broadcast against each other). That is almost always a "
                                    "shape bug, e.g. pred [B, 1] - target [B]; reshape one operand so "
                                    "both have the same shape (target.reshape({{B, 1}})), or give both "
                                    "the same rank if the broadcast is meant", it->second));
      return;
    }
    for (uint32_t in : t.entries[i].inputs) stack.push_back(in);
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

void note_rank_broadcast(const DualArray& result, const Shape& a, const Shape& b) {
  uint32_t id = DualAccess::tape(result);
  const Shape out = result.shape();
  if (id == 0 || a.rank() == b.rank() || a == out || b == out) return;
  // The extents each operand was broadcast along (aligned to the right, NumPy-style).
  auto expanded = [&](const Shape& s) {
    std::vector<int64_t> e;
    for (int i = 0; i < out.rank(); ++i) {
      int j = i - (out.rank() - s.rank());
      if (out[i] > 1 && (j < 0 || s[j] == 1)) e.push_back(out[i]);
    }
    std::sort(e.begin(), e.end());
    return e;
  };
  auto ea = expanded(a), eb = expanded(b);
  if (ea.empty() || ea != eb) return;
  tape_of(result.value()).rank_broadcasts[id] = fmt::format("{} and {} -> {}", a.str(), b.str(), out.str());
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

Array DualArray::set_loss(Reduction reduction) const {
  if (!value_.valid()) throw UsageError("set_loss: empty DualArray");
  Tape& t = tape_of(value_);
  if (t.loss != 0) throw UsageError("set_loss: this scope already has a loss (one per scope)");
  if (!requires_grad()) {
    throw UsageError(fmt::format("set_loss: the loss {} does not depend on any parameter read with "
                                 "scope.parameter(), so there is nothing to differentiate",
                                 shape().str()));
  }
  Shape s = shape();
  int64_t count = 1;  // the seed is 1 / count
  switch (reduction) {
    case Reduction::kBatchMean: count = s.rank() == 0 ? 1 : s[0]; break;
    case Reduction::kMean: count = s.element_count(); break;
    case Reduction::kSum: break;
    case Reduction::kNone:
      throw UsageError("set_loss: Reduction::kNone is for per-sample losses; the loss that is "
                       "minimised needs kBatchMean, kMean or kSum");
  }
  warn_about_rank_broadcasts(t, tape_);
  t.loss = tape_;
  t.seed = scope().literal(1.0f / static_cast<float>(count)).broadcast(s);
  return value_;
}

Array DualArray::grad() const {
  if (!value_.valid()) throw UsageError("grad: empty DualArray");
  if (value_.dtype() != DType::kF32) {
    throw UsageError(fmt::format("grad: a {} value {} has no gradient (only f32 values do)",
                                 dtype_name(value_.dtype()), shape().str()));
  }
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
  if (ps.dtype != DType::kF32) {
    throw UsageError(fmt::format("parameter: '{}' holds {}, which has no gradient; read it with "
                                 "parameter_value()", ps.name, dtype_name(ps.dtype)));
  }
  Array v = parameter_value(p);
  if (s.param_output.count(p.id())) return DualArray(v);
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
    if (state_->params->info(id, "trainable_parameters").trainable) r.push_back(Parameter(state_->params->serial(), id));
  return r;
}

}  // namespace descent
