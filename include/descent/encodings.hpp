// Input encodings for coordinate networks (image fitting, NeRF-style): sinusoidal positional
// encoding and a multi-resolution hash grid (Mueller et al. 2022, "Instant NGP") for 2-D inputs.
// Both are Modules over [m, 2] coordinates in (-1, 1).
#pragma once
#include <vector>

#include "descent/module.hpp"

namespace descent {

/// [m, d] -> [m, d * 2 * frequencies]: sin(x_i 2^k pi + p pi / 2) for p in {0 (sin), 1 (cos)},
/// k = 0 .. frequencies-1; features ordered input-major, then p, then k (the original's order).
/// The raw input is not included. No parameters; no gradient is needed through it.
class PositionalEncoding : public Module {
 public:
  explicit PositionalEncoding(int frequencies = 8);
  DualArray eval(const DualArray& x, const EvalContext& ctx) const override;
  int64_t output_features(int64_t input_features) const { return input_features * 2 * frequencies_; }

 private:
  int frequencies_;
};

struct HashGridOptions {
  int levels = 10;
  int64_t max_entries = 4096;       // table entries per level (at most)
  int features = 2;                 // per entry
  double min_resolution = 2, max_resolution = 512;
  float init_bound = 1e-4f;         // tables start U(-init_bound, init_bound)
  uint32_t prime = 1526263;         // hashed levels: (x ^ y * prime) % entries
};

/// Multi-resolution hash encoding of [m, 2] coordinates in (-1, 1) -> [m, levels * features].
/// Level l has grid size g_l = floor(min_res * b^l), b = (max_res / min_res)^(1 / (levels - 1)),
/// and (g_l + 1)^2 vertices. Dense levels ((g_l + 1)^2 <= max_entries) index vertex (x, y) at
/// x + y (g_l + 1) — the original XORed there too, a bug that made dense levels collide; hashed
/// levels use (x ^ y * prime) % entries. Each output is the bilinear interpolation of the four
/// surrounding vertices' features. The tables' gradient is one deterministic scatter_add per level
/// (sum order: see Array::scatter_add); no gradient flows to the coordinates. Parameters
/// `<name>.level<l>` with name = Environment::unique_name("hash_grid").
class MultiHashGrid : public Module {
 public:
  MultiHashGrid(Environment& env, const HashGridOptions& options = {});
  DualArray eval(const DualArray& x, const EvalContext& ctx) const override;
  std::vector<Parameter> parameters() const override { return tables_; }
  int64_t output_features() const { return static_cast<int64_t>(options_.levels) * options_.features; }
  /// Grid size and table entries of each level (for reports and tests).
  const std::vector<int64_t>& grid_sizes() const { return grid_; }
  const std::vector<int64_t>& entries() const { return entries_; }

 private:
  HashGridOptions options_;
  std::vector<int64_t> grid_, entries_;
  std::vector<Parameter> tables_;
};

}  // namespace descent
