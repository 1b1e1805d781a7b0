// PositionalEncoding and MultiHashGrid (include/descent/encodings.hpp). Index arithmetic is u32
// Array ops; the table lookups are one gather per level (4 corners stacked), so autodiff turns
// them into one scatter_add per level.
#include "descent/encodings.hpp"

#include <fmt/format.h>

#include <cmath>

namespace descent {

PositionalEncoding::PositionalEncoding(int frequencies) : frequencies_(frequencies) {
  if (frequencies < 1 || frequencies > 24)
    throw UsageError(fmt::format("PositionalEncoding: {} frequencies (need 1..24)", frequencies));
}

DualArray PositionalEncoding::eval(const DualArray& x, const EvalContext&) const {
  Shape s = x.shape();
  if (s.rank() != 2) throw ShapeError(fmt::format("PositionalEncoding: input must be [m, d], got {}", s.str()));
  Scope& sc = x.scope();
  int64_t m = s[0], d = s[1], f = frequencies_;
  Shape full{m, d, 2, f};
  // 2^k pi and p pi / 2 as coordinate expressions, exact in float32.
  Array k = sc.coord(full, 3);
  Array freq = (k * 0.69314718055994531f).exp();  // 2^k (exact for these k after rounding below)
  freq = (freq + 0.5f).floor() * 3.14159265358979323846f;
  Array phase = sc.coord(full, 2) * 1.57079632679489661923f;
  DualArray xa = x.reshape(Shape{m, d, 1, 1}).broadcast(full);
  return (xa * DualArray(freq) + DualArray(phase)).sin().reshape(Shape{m, d * 2 * f});
}

MultiHashGrid::MultiHashGrid(Environment& env, const HashGridOptions& o) : options_(o) {
  if (o.levels < 1 || o.features < 1 || o.max_entries < 4 || !(o.min_resolution >= 1) ||
      !(o.max_resolution >= o.min_resolution)) {
    throw UsageError(fmt::format("MultiHashGrid: bad options (levels {}, features {}, entries {}, "
                                 "resolution {}..{})", o.levels, o.features, o.max_entries,
                                 o.min_resolution, o.max_resolution));
  }
  // Growth factor computed in float32 as the original did (grid sizes 2, 3, 6, ..., 511).
  float b = o.levels > 1 ? std::exp((std::log(static_cast<float>(o.max_resolution)) -
                                     std::log(static_cast<float>(o.min_resolution))) /
                                    static_cast<float>(o.levels - 1))
                         : 1.0f;
  std::string name = env.unique_name("hash_grid");
  for (int l = 0; l < o.levels; ++l) {
    auto g = static_cast<int64_t>(static_cast<float>(o.min_resolution) * std::pow(b, static_cast<float>(l)));
    int64_t vertices = (g + 1) * (g + 1);
    grid_.push_back(g);
    entries_.push_back(std::min(vertices, o.max_entries));
    tables_.push_back(env.trainable_parameter(Shape{entries_.back(), o.features},
                                              fmt::format("{}.level{}", name, l),
                                              Initializer::uniform(o.init_bound)));
  }
}

DualArray MultiHashGrid::eval(const DualArray& x, const EvalContext&) const {
  Shape s = x.shape();
  if (s.rank() != 2 || s[1] != 2)
    throw ShapeError(fmt::format("MultiHashGrid: input must be [m, 2] coordinates, got {}", s.str()));
  Scope& sc = x.scope();
  int64_t m = s[0];
  Array xv = x.value();
  std::vector<DualArray> levels;
  for (size_t l = 0; l < grid_.size(); ++l) {
    int64_t g = grid_[l], n = entries_[l];
    bool dense = (g + 1) * (g + 1) <= options_.max_entries;
    Array cf = (xv * 0.5f + 0.5f) * static_cast<float>(g);
    Array c = cf.to_u32();
    Array f = cf - c.to_f32();  // [m, 2]
    Array cx = c.slice(1, 0, 1).reshape(Shape{m}), cy = c.slice(1, 1, 2).reshape(Shape{m});
    Array fx = f.slice(1, 0, 1), fy = f.slice(1, 1, 2);  // [m, 1]
    auto u32 = [&](uint32_t v) { return sc.literal_u32(v); };
    std::vector<Array> idx;
    for (uint32_t dy = 0; dy < 2; ++dy) {
      for (uint32_t dx = 0; dx < 2; ++dx) {
        Array vx = cx + u32(dx), vy = cy + u32(dy);
        Array i = dense ? vx + vy * u32(static_cast<uint32_t>(g + 1))
                        : (vx ^ (vy * u32(options_.prime))) % u32(static_cast<uint32_t>(n));
        idx.push_back(i);
      }
    }
    // Corners in the order (0,0), (1,0), (0,1), (1,1); bilinear weights to match.
    Array all = concat(idx, 0);  // [4m]
    Array wx0 = 1.0f - fx, wy0 = 1.0f - fy;
    Array w = concat({wx0 * wy0, fx * wy0, wx0 * fy, fx * fy}, 1);  // [m, 4]
    DualArray t = sc.parameter(tables_[l]);
    DualArray corners = t.gather(0, all).reshape(Shape{4, m, options_.features});
    Array wt = w.transpose().reshape(Shape{4, m, 1});
    levels.push_back((corners * DualArray(wt)).reduce_sum(0));  // [m, features]
  }
  return concat(levels, 1);
}

}  // namespace descent
