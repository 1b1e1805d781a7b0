// Test helpers for tests/ops/views_test.cpp: a chain of view ops (Step) applied both on the device
// (Array) and on the host by an independent gather, plus the two checks every view case runs:
// exact vs reference + host, and op(view) == op(contiguous host copy) bit for bit.
// Header-only, test-only; everything lives in descent::testing::view_chain.
#pragma once
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "support/harness.hpp"

namespace descent::testing::view_chain {

// ---- A view chain applied both on the device (Array) and on the host (independent gather) ----

struct Host {
  Shape shape;
  std::vector<float> v;
};

inline std::vector<int64_t> unravel(int64_t l, const Shape& s) {
  std::vector<int64_t> c(static_cast<size_t>(s.rank()));
  for (int j = s.rank() - 1; j >= 0; --j) {
    c[j] = l % s[j];
    l /= s[j];
  }
  return c;
}
inline int64_t ravel(const std::vector<int64_t>& c, const Shape& s) {
  int64_t l = 0;
  for (int j = 0; j < s.rank(); ++j) l = l * s[j] + c[j];
  return l;
}
/// out[c] = a[src(c)], or 0 where src returns false (zero padding).
inline Host gather(const Host& a, const Shape& out,
                   const std::function<bool(std::vector<int64_t>&)>& src) {
  Host r{out, std::vector<float>(static_cast<size_t>(out.element_count()))};
  for (int64_t l = 0; l < out.element_count(); ++l) {
    auto c = unravel(l, out);
    r.v[l] = src(c) ? a.v[ravel(c, a.shape)] : 0.0f;
  }
  return r;
}
/// Python's slice.indices(n), written out independently of the library.
inline std::vector<int64_t> py_range(int64_t n, int64_t start, int64_t stop, int64_t step) {
  auto fix = [&](int64_t i, int64_t lo, int64_t hi) {
    return i < 0 ? std::max(i + n, lo) : std::min(i, hi);
  };
  std::vector<int64_t> idx;
  if (step > 0) {
    for (int64_t i = fix(start, 0, n); i < fix(stop, 0, n); i += step) idx.push_back(i);
  } else {
    for (int64_t i = fix(start, -1, n - 1); i > fix(stop, -1, n - 1); i += step) idx.push_back(i);
  }
  return idx;
}

struct Step {
  enum Kind { kBcast, kReshape, kPerm, kT, kSlice, kPad, kInsert, kRemove, kFlatten } kind;
  std::vector<int64_t> a;
  PadMode mode = PadMode::kZero;
};
inline Step bc(std::vector<int64_t> to) { return {Step::kBcast, std::move(to)}; }
inline Step rs(std::vector<int64_t> to) { return {Step::kReshape, std::move(to)}; }
inline Step perm(std::vector<int64_t> p) { return {Step::kPerm, std::move(p)}; }
inline Step tr() { return {Step::kT, {}}; }
inline Step sl(int64_t axis, int64_t start, int64_t stop, int64_t step = 1) {
  return {Step::kSlice, {axis, start, stop, step}};
}
inline Step pd(int64_t axis, int64_t before, int64_t after, PadMode m = PadMode::kZero) {
  return {Step::kPad, {axis, before, after}, m};
}
inline Step ins(int64_t axis) { return {Step::kInsert, {axis}}; }
inline Step rm(int64_t axis) { return {Step::kRemove, {axis}}; }
inline Step flat() { return {Step::kFlatten, {}}; }

inline Array apply(Array x, const std::vector<Step>& steps) {
  for (const Step& s : steps) {
    switch (s.kind) {
      case Step::kBcast:
        x = x.broadcast(Shape(s.a));
        break;
      case Step::kReshape:
        x = x.reshape(Shape(s.a));
        break;
      case Step::kPerm:
        x = x.permute(std::vector<int>(s.a.begin(), s.a.end()));
        break;
      case Step::kT:
        x = x.transpose();
        break;
      case Step::kSlice:
        x = x.slice(static_cast<int>(s.a[0]), s.a[1], s.a[2], s.a[3]);
        break;
      case Step::kPad:
        x = x.pad(static_cast<int>(s.a[0]), s.a[1], s.a[2], s.mode);
        break;
      case Step::kInsert:
        x = x.insert_axis(static_cast<int>(s.a[0]));
        break;
      case Step::kRemove:
        x = x.remove_axis(static_cast<int>(s.a[0]));
        break;
      case Step::kFlatten:
        x = x.flatten();
        break;
    }
  }
  return x;
}

inline Host apply(Host x, const std::vector<Step>& steps) {
  for (const Step& s : steps) {
    const Shape in = x.shape;
    switch (s.kind) {
      case Step::kBcast: {
        Shape to(s.a);
        int lead = to.rank() - in.rank();
        x = gather(x, to, [&](std::vector<int64_t>& c) {
          std::vector<int64_t> sc(static_cast<size_t>(in.rank()));
          for (int i = 0; i < in.rank(); ++i) sc[i] = in[i] == 1 ? 0 : c[i + lead];
          c = sc;
          return true;
        });
        break;
      }
      case Step::kReshape:
        x.shape = Shape(s.a);
        break;
      case Step::kFlatten:
        x.shape = Shape{in[0], in.element_count() / in[0]};
        break;
      case Step::kInsert:
        x.shape = in.insert_axis(static_cast<int>(s.a[0]), 1);
        break;
      case Step::kRemove:
        x.shape = in.remove_axis(static_cast<int>(s.a[0]));
        break;
      case Step::kT:
      case Step::kPerm: {
        std::vector<int> p(static_cast<size_t>(in.rank()));
        for (int j = 0; j < in.rank(); ++j) p[j] = j;
        if (s.kind == Step::kT)
          std::swap(p[in.rank() - 1], p[in.rank() - 2]);
        else
          for (int j = 0; j < in.rank(); ++j)
            p[j] = static_cast<int>(s.a[j] < 0 ? s.a[j] + in.rank() : s.a[j]);
        x = gather(x, in.permuted(p), [&](std::vector<int64_t>& c) {
          std::vector<int64_t> sc(c.size());
          for (size_t j = 0; j < p.size(); ++j) sc[p[j]] = c[j];
          c = sc;
          return true;
        });
        break;
      }
      case Step::kSlice: {
        int ax = static_cast<int>(s.a[0] < 0 ? s.a[0] + in.rank() : s.a[0]);
        auto idx = py_range(in[ax], s.a[1], s.a[2], s.a[3]);
        x = gather(x, in.with_axis(ax, static_cast<int64_t>(idx.size())),
                   [&](std::vector<int64_t>& c) {
                     c[ax] = idx[c[ax]];
                     return true;
                   });
        break;
      }
      case Step::kPad: {
        int ax = static_cast<int>(s.a[0] < 0 ? s.a[0] + in.rank() : s.a[0]);
        x = gather(x, in.with_axis(ax, in[ax] + s.a[1] + s.a[2]), [&](std::vector<int64_t>& c) {
          int64_t k = c[ax] - s.a[1];
          if ((k < 0 || k >= in[ax]) && s.mode == PadMode::kZero) return false;
          c[ax] = std::clamp<int64_t>(k, 0, in[ax] - 1);
          return true;
        });
        break;
      }
    }
  }
  return x;
}

inline bool same_bits(float a, float b) { return std::memcmp(&a, &b, 4) == 0; }

inline void expect_bits(const std::vector<float>& got, const std::vector<float>& want,
                        const std::string& ctx) {
  ASSERT_EQ(got.size(), want.size()) << ctx;
  int bad = 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (!same_bits(got[i], want[i]) && bad++ < 5)
      ADD_FAILURE() << ctx << ": element " << i << " got " << got[i] << " want " << want[i];
}

// ---- the view alone, against the reference and the host gather ----

struct ViewCase {
  const char* name;
  Shape in;
  std::vector<Step> steps;
  int kernels;  // expected fused kernel count of "view then write", -1: unchecked
};

inline void check_view(const ViewCase& c, const std::vector<float>& values) {
  CheckOptions o;
  o.expected_kernels = c.kernels;
  auto r = check_op(
      c.name, {{c.in, values}}, [&](Scope&, auto& x) { return apply(x[0], c.steps); }, o);
  Host want = apply(Host{c.in, values}, c.steps);
  expect_bits(r.gpu, want.v, std::string(c.name) + " vs host gather");
}

// ---- op(view) == op(contiguous copy), the copy computed on the host and uploaded ----

/// Runs ops on apply(x, steps) and on a parameter holding the host-computed view; returns all
/// outputs (view side) after checking both sides agree bit for bit. `full`: elementwise, select,
/// sum, max and a two-axis sum as separate kernels; otherwise one fused elementwise+sum kernel per
/// side (every distinct kernel costs ~30 ms of lavapipe compile time on a cold cache).
inline std::vector<std::vector<float>> check_view_vs_copy(const std::string& name, const Shape& in,
                                                          const std::vector<float>& values,
                                                          const std::vector<Step>& steps,
                                                          bool full) {
  Host h = apply(Host{in, values}, steps);
  auto a = env().static_parameter_with_data(in, env().unique_name("view_src"), values);
  auto b = env().static_parameter_with_data(h.shape, env().unique_name("view_copy"), h.v);
  auto ew = [](const Array& x) { return (x * 1.5f + 0.25f).abs().sqrt() - x.exp() * 0.125f; };
  std::vector<std::function<Array(const Array&)>> ops;
  if (!full) {
    ops.push_back([&](const Array& x) { return h.shape.rank() ? ew(x).reduce_sum(-1) : ew(x); });
  } else {
    ops.push_back(ew);
    ops.push_back([](const Array& x) { return x.max(x * -0.5f).select(x, x * x); });
    if (h.shape.rank() >= 1) {
      ops.push_back([](const Array& x) { return x.reduce_sum(-1); });
      ops.push_back([](const Array& x) { return (x * 2.0f).reduce_max(0); });
    }
    if (h.shape.rank() >= 2)
      ops.push_back([](const Array& x) { return x.exp().reduce_sum({0, 1}); });
  }
  std::vector<Parameter> outs;
  auto g = env().build_graph([&](Scope& s) {
    Array v = apply(s.parameter_value(a), steps);
    Array cpy = s.parameter_value(b);
    for (auto& op : ops) {
      Array x = op(v), y = op(cpy);
      outs.push_back(env().static_parameter(x.shape(), env().unique_name("op_view")));
      outs.push_back(env().static_parameter(y.shape(), env().unique_name("op_copy")));
      s.write_parameter_value(outs[outs.size() - 2], x);
      s.write_parameter_value(outs.back(), y);
    }
  });
  env().run(g);
  std::vector<std::vector<float>> res;
  for (size_t i = 0; i < outs.size(); i += 2) {
    res.push_back(env().read_parameter(outs[i]));
    expect_bits(res.back(), env().read_parameter(outs[i + 1]),
                fmt::format("{}: op {} on view vs on contiguous copy", name, i / 2));
  }
  expect_no_validation_messages();
  return res;
}

}  // namespace descent::testing::view_chain
