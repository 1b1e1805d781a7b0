// The places where descent follows PyTorch, or refuses a silent mistake (docs/semantics.md):
// cross-entropy labels (out of range, ignore label, smoothing, sequences), Adam's formula and bias
// corrections, set_loss reductions, unique parameter names, one write per parameter per graph,
// dtype checks of reads, the rank-broadcast warning, error messages that point the right way, and
// DESCENT_DEBUG=2's periodic summaries.
#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <numeric>

#include "support/harness.hpp"
#include "util/flags.hpp"

namespace descent::testing {
namespace {

const float kNaN = std::numeric_limits<float>::quiet_NaN();

/// Runs a graph that writes softmax_cross_entropy(logits, labels, o) and d/dlogits.
struct CrossEntropyRun {
  std::vector<float> loss, grad;
};
CrossEntropyRun cross_entropy(const Shape& ls, const std::vector<float>& logits, const Shape& ys,
                              const std::vector<float>& labels, const CrossEntropyOptions& o) {
  Environment& e = env();
  auto pz = e.static_parameter_with_data(ls, e.unique_name("ce_logits"), logits);
  auto py = e.static_parameter_with_data(ys, e.unique_name("ce_labels"), labels);
  Parameter loss, grad = e.static_parameter(ls, e.unique_name("ce_grad"));
  Graph g = e.build_graph([&](Scope& s) {
    DualArray z = s.parameter(pz);
    DualArray l = softmax_cross_entropy(z, s.parameter_value(py), o);
    l.set_loss(Reduction::kSum);  // d(sum of the returned values)/dz
    loss = e.static_parameter(l.shape(), e.unique_name("ce_loss"));
    s.write_parameter_value(loss, l.value());
    s.write_parameter_value(grad, z.grad());
  });
  e.run(g);
  return {e.read_parameter(loss), e.read_parameter(grad)};
}

/// PyTorch's cross entropy of one row (float64): loss and d loss / d z for smoothing s.
double row_loss(const float* z, int64_t n, int64_t y, double s, std::vector<double>* dz) {
  double m = -INFINITY, sum = 0, mean = 0;
  for (int64_t j = 0; j < n; ++j) m = std::max(m, static_cast<double>(z[j]));
  for (int64_t j = 0; j < n; ++j) sum += std::exp(z[j] - m), mean += z[j];
  double lse = m + std::log(sum);
  if (dz) {
    dz->assign(static_cast<size_t>(n), 0.0);
    for (int64_t j = 0; j < n; ++j)
      (*dz)[static_cast<size_t>(j)] = std::exp(z[j] - m) / sum - (1 - s) * (j == y) - s / static_cast<double>(n);
  }
  return lse - (1 - s) * z[y] - s * mean / static_cast<double>(n);
}

TEST(CrossEntropy, LabelOutsideTheClassesIsAnIndexError) {
  // One row of 5 logits; labels 5, -1, 2.5 and NaN are not class indices. The loss of such a row is
  // 0 (no gradient either), and the next synchronisation throws IndexError naming the loss.
  const std::vector<float> z{0.5f, -1.0f, 2.0f, 0.25f, 1.0f};
  for (float bad : {5.0f, -1.0f, 2.5f, kNaN}) {
    try {
      cross_entropy(Shape{1, 5}, z, Shape{1}, {bad}, {});
      ADD_FAILURE() << "label " << bad << ": no IndexError";
    } catch (const IndexError& err) {
      EXPECT_NE(std::string(err.what()).find("softmax_cross_entropy"), std::string::npos) << err.what();
      EXPECT_NE(std::string(err.what()).find("[0, 5)"), std::string::npos) << err.what();
    }
  }
  // The device flag was cleared by the throw: a good label afterwards reads normally.
  auto ok = cross_entropy(Shape{1, 5}, z, Shape{1}, {2.0f}, {});
  EXPECT_NEAR(ok.loss[0], row_loss(z.data(), 5, 2, 0, nullptr), 1e-6);
  expect_no_validation_messages();
}

TEST(CrossEntropy, IgnoredRowsAddNothingAndLeaveTheMean) {
  const int64_t m = 6, n = 4;
  std::vector<float> z = random_values(m * n, 501, -3.0f, 3.0f);
  z[4 * n + 1] = std::numeric_limits<float>::infinity();  // an ignored row may hold anything
  const std::vector<float> y{1, -100, 3, 0, -100, 2};
  CrossEntropyOptions o;
  o.ignore_label = -100.0f;
  auto rows = cross_entropy(Shape{m, n}, z, Shape{m, 1}, y, o);
  o.reduction = Reduction::kMean;
  auto mean = cross_entropy(Shape{m, n}, z, Shape{m}, y, o);
  double total = 0;
  for (int64_t i = 0; i < m; ++i) {
    std::vector<double> dz;
    bool ignored = y[static_cast<size_t>(i)] == -100;
    double l = ignored ? 0.0 : row_loss(&z[static_cast<size_t>(i * n)], n, static_cast<int64_t>(y[static_cast<size_t>(i)]), 0, &dz);
    total += l;
    EXPECT_NEAR(rows.loss[static_cast<size_t>(i)], l, 1e-5 * (1 + l)) << "row " << i;
    for (int64_t j = 0; j < n; ++j) {
      float g = rows.grad[static_cast<size_t>(i * n + j)], gm = mean.grad[static_cast<size_t>(i * n + j)];
      if (ignored) {
        EXPECT_EQ(g, 0.0f) << i << "," << j;
        EXPECT_EQ(gm, 0.0f) << i << "," << j;
      } else {
        EXPECT_NEAR(g, dz[static_cast<size_t>(j)], 1e-6) << i << "," << j;
        EXPECT_NEAR(gm, dz[static_cast<size_t>(j)] / 4.0, 1e-6) << i << "," << j;  // 4 rows count
      }
    }
  }
  ASSERT_EQ(mean.loss.size(), 1u);
  EXPECT_NEAR(mean.loss[0], total / 4.0, 1e-5 * total);
  // Every row ignored: the mean is 0 / 0 = NaN, as PyTorch.
  auto none = cross_entropy(Shape{2, n}, std::vector<float>(2 * n, 0.5f), Shape{2}, {-100, -100}, o);
  EXPECT_TRUE(std::isnan(none.loss[0]));
}

TEST(CrossEntropy, LabelSmoothingMatchesPyTorchsFormula) {
  const int64_t m = 5, n = 7;
  std::vector<float> z = random_values(m * n, 502, -4.0f, 4.0f);
  const std::vector<float> y{0, 6, 3, 3, 1};
  CrossEntropyOptions o;
  o.label_smoothing = 0.2f;
  auto r = cross_entropy(Shape{m, n}, z, Shape{m}, y, o);
  for (int64_t i = 0; i < m; ++i) {
    std::vector<double> dz;
    double l = row_loss(&z[static_cast<size_t>(i * n)], n, static_cast<int64_t>(y[static_cast<size_t>(i)]), 0.2, &dz);
    EXPECT_NEAR(r.loss[static_cast<size_t>(i)], l, 2e-6 * (1 + l)) << "row " << i;
    for (int64_t j = 0; j < n; ++j)
      EXPECT_NEAR(r.grad[static_cast<size_t>(i * n + j)], dz[static_cast<size_t>(j)], 1e-6) << i << "," << j;
  }
  o.label_smoothing = 1.5f;
  EXPECT_THROW(cross_entropy(Shape{m, n}, z, Shape{m}, y, o), UsageError);
}

TEST(CrossEntropy, SequenceLogitsMeanOverEveryPosition) {
  // [B, T, V] logits and [B, T] labels; kMean divides by B * T (PyTorch's reduction='mean').
  const int64_t b = 2, t = 3, v = 5;
  std::vector<float> z = random_values(b * t * v, 503, -2.0f, 2.0f);
  const std::vector<float> y{4, 0, 2, 1, 1, 3};
  CrossEntropyOptions o;
  o.reduction = Reduction::kMean;
  auto r = cross_entropy(Shape{b, t, v}, z, Shape{b, t}, y, o);
  double total = 0;
  for (int64_t i = 0; i < b * t; ++i) {
    std::vector<double> dz;
    total += row_loss(&z[static_cast<size_t>(i * v)], v, static_cast<int64_t>(y[static_cast<size_t>(i)]), 0, &dz);
    for (int64_t j = 0; j < v; ++j)
      EXPECT_NEAR(r.grad[static_cast<size_t>(i * v + j)], dz[static_cast<size_t>(j)] / 6.0, 1e-6);
  }
  EXPECT_NEAR(r.loss[0], total / 6.0, 1e-5 * total);
  EXPECT_THROW(cross_entropy(Shape{b, t, v}, z, Shape{b * t}, y, {}), ShapeError);
}

TEST(SetLoss, ReductionsSeedTheGradient) {
  // A [2, 3, 1] loss: kBatchMean seeds 1/2 (sum over T), kMean 1/6 (PyTorch), kSum 1.
  Environment& e = env();
  auto pw = e.static_parameter_with_data(Shape{2, 3, 1}, e.unique_name("sl_w"), std::vector<float>(6, 1.0f));
  for (auto [red, want] : {std::pair<Reduction, float>{Reduction::kBatchMean, 0.5f},
                           {Reduction::kMean, 1.0f / 6.0f}, {Reduction::kSum, 1.0f}}) {
    auto grad = e.static_parameter(Shape{2, 3, 1}, e.unique_name("sl_grad"));
    Graph g = e.build_graph([&](Scope& s) {
      DualArray w = s.parameter(pw);
      (w * 1.0f).set_loss(red);
      s.write_parameter_value(grad, w.grad());
    });
    e.run(g);
    for (float v : e.read_parameter(grad)) EXPECT_EQ(v, want);
  }
  EXPECT_THROW(e.build_graph([&](Scope& s) { s.parameter(pw).set_loss(Reduction::kNone); }), UsageError);
}

/// One Adam step on w from state (t - 1, m, v) with gradient g, in float64 as torch.optim.Adam.
double torch_adam_step(double w, double g, double m, double v, int t, double lr, double b1, double b2,
                       double eps) {
  m = b1 * m + (1 - b1) * g;
  v = b2 * v + (1 - b2) * g * g;
  double denom = std::sqrt(v) / std::sqrt(1 - std::pow(b2, t)) + eps;
  return w - lr / (1 - std::pow(b1, t)) * m / denom;
}

/// Runs one Adam step at step count t over w with a constant gradient c (loss = sum(w * c)).
std::vector<float> adam_step(const std::vector<float>& w0, const std::vector<float>& c, float t,
                             const std::vector<float>& m0, const std::vector<float>& v0, float lr) {
  Environment& e = env();
  auto n = static_cast<int64_t>(w0.size());
  auto w = e.trainable_parameter(Shape{n}, e.unique_name("adam_w"));
  e.write_parameter(w, w0);
  auto pc = e.static_parameter_with_data(Shape{n}, e.unique_name("adam_c"), c);
  Adam adam(e, {w});
  e.write_parameter(adam.state_parameters()[0], {t - 1.0f});
  e.write_parameter(adam.state_parameters()[1], m0);
  e.write_parameter(adam.state_parameters()[2], v0);
  Graph g = e.build_graph([&](Scope& s) {
    (s.parameter(w) * DualArray(s.parameter_value(pc))).reduce_sum(0, true).set_loss();
    adam.step(s, lr);
  });
  e.run(g);
  return e.read_parameter(w);
}

TEST(AdamFormula, EpsilonAfterTheBiasCorrectionAsPyTorch) {
  // Gradients near epsilon: the original's form (epsilon before the bias correction) is 31.6x
  // PyTorch's epsilon at step 1 and moved these steps by up to 74%.
  const std::vector<float> w0{1.0f, -2.0f, 0.5f, 3.0f}, c{1e-8f, -3e-8f, 1e-7f, 1e-6f};
  const std::vector<float> zero(4, 0.0f);
  auto got = adam_step(w0, c, 1.0f, zero, zero, 0.01f);
  for (size_t i = 0; i < w0.size(); ++i) {
    double want = torch_adam_step(w0[i], c[i], 0, 0, 1, 0.01, 0.9, 0.999, 1e-8);
    double step = want - w0[i], got_step = static_cast<double>(got[i]) - w0[i];
    EXPECT_NEAR(got_step, step, 1e-3 * std::fabs(step) + 2e-7) << "element " << i;
  }
}

TEST(AdamFormula, BiasCorrectionsStayNearFloat32Rounding) {
  // One step from a given state at step counts up to 10^5: the update's relative error against
  // float64 must stay near float32 rounding (1 - beta2^t in float32 cancels to ~1e-5 at small t).
  const std::vector<float> w0{0.0f, 0.0f, 0.0f}, c{0.5f, -2.0f, 1e-3f};
  const std::vector<float> m0{0.1f, -0.3f, 2e-4f}, v0{0.02f, 0.5f, 3e-7f};
  double worst = 0;
  for (int t : {1, 2, 3, 10, 100, 1000, 4000, 20000, 100000}) {
    auto got = adam_step(w0, c, static_cast<float>(t), m0, v0, 1e-3f);
    for (size_t i = 0; i < w0.size(); ++i) {
      // Host state in float32 (as the device holds it), formula in float64.
      double want = torch_adam_step(0, c[i], m0[i], v0[i], t, static_cast<double>(1e-3f), 0.9, 0.999, 1e-8);
      double rel = std::fabs(got[i] - want) / std::fabs(want);
      worst = std::max(worst, rel);
      EXPECT_LT(rel, 2e-6) << "t = " << t << " element " << i << ": " << got[i] << " vs " << want;
    }
  }
  RecordProperty("adam_worst_relative_error", fmt::format("{:.3g}", worst));
}

TEST(ParameterNames, DefaultLayerNamesAreUnique) {
  Environment e;  // a fresh Environment: the default names start from "dense"
  Dense a(e, 2, 4), b(e, 4, 1);
  EXPECT_EQ(a.weight().name(), "dense.w");
  EXPECT_EQ(b.weight().name(), "dense_1.w");
  auto c = Dense::builder(3, 3).with_name("dense_2").build(e);  // an explicit name is taken as is
  Dense d(e, 1, 1);
  EXPECT_EQ(d.weight().name(), "dense_3.w");
  try {
    Dense::builder(3, 3).with_name("dense").build(e);
    ADD_FAILURE() << "a duplicate explicit name was accepted";
  } catch (const UsageError& err) {
    EXPECT_NE(std::string(err.what()).find("'dense.w'"), std::string::npos) << err.what();
  }
  EXPECT_THROW(e.static_parameter(Shape{1}, "dense_1.b"), UsageError);
  // Two blur pools (fixed parameters) and two Adams no longer collide either.
  MaxBlurPool2D p1(e, 4), p2(e, 4);
  Adam o1(e, a.parameters()), o2(e, b.parameters());
  EXPECT_EQ(o1.state_parameters()[0].name(), "adam.t");
  EXPECT_EQ(o2.state_parameters()[0].name(), "adam_1.t");
  (void)c;
}

TEST(ParameterWrites, TwoWritesInOneGraphNameBothWriters) {
  Environment& e = env();
  auto w = e.trainable_parameter(Shape{3}, e.unique_name("two_writes"));
  Sgd sgd(e, {w});
  Adam adam(e, {w});
  auto build = [&](const std::function<void(Scope&)>& steps) {
    return e.build_graph([&](Scope& s) {
      (s.parameter(w) * 2.0f).reduce_sum(0, true).set_loss();
      steps(s);
    });
  };
  try {
    build([&](Scope& s) { sgd.step(s, 0.1f); adam.step(s, 0.1f); });
    ADD_FAILURE() << "two optimisers wrote one parameter";
  } catch (const UsageError& err) {
    std::string m = err.what();
    EXPECT_NE(m.find("Sgd::step"), std::string::npos) << m;
    EXPECT_NE(m.find("Adam::step"), std::string::npos) << m;
    EXPECT_NE(m.find("two_writes"), std::string::npos) << m;
  }
  EXPECT_THROW(build([&](Scope& s) { sgd.step(s, 0.1f); sgd.step(s, 0.1f); }), UsageError);
  EXPECT_NO_THROW(build([&](Scope& s) { sgd.step(s, 0.1f); }));
}

TEST(ParameterDtypes, ReadsAndGradientsCheckTheDtype) {
  Environment& e = env();
  auto f = e.static_parameter(Shape{2}, e.unique_name("dt_f"));
  auto u = e.static_parameter(Shape{2}, e.unique_name("dt_u"), DType::kU32);
  EXPECT_THROW(e.read_parameter_u32(f), UsageError);
  EXPECT_THROW(e.read_parameter(u), UsageError);
  EXPECT_THROW(e.read_parameter_scalar(u), UsageError);
  EXPECT_NO_THROW(e.read_parameter(f));
  EXPECT_NO_THROW(e.read_parameter_u32(u));
  EXPECT_THROW(e.build_graph([&](Scope& s) { (void)s.parameter(u); }), UsageError);
  auto w = e.trainable_parameter(Shape{2}, e.unique_name("dt_w"));
  EXPECT_THROW(e.build_graph([&](Scope& s) {
    s.parameter(w).reduce_sum(0, true).set_loss();
    (void)DualArray(s.parameter_value(u)).grad();
  }), UsageError);
}

TEST(Warnings, LossFromOperandsOfDifferentRankWarnsOnce) {
  std::vector<std::string> heard;
  auto old = set_warning_handler([&](const std::string& w) { heard.push_back(w); });
  Environment& e = env();
  const int64_t b = 8;
  auto w = e.trainable_parameter(Shape{3, 1}, e.unique_name("wb_w"));
  auto x = e.static_parameter_with_data(Shape{b, 3}, e.unique_name("wb_x"), random_values(b * 3, 510));
  auto y = e.static_parameter_with_data(Shape{b}, e.unique_name("wb_y"), random_values(b, 511));
  auto loss = [&](bool reshape) {
    return e.build_graph([&](Scope& s) {
      DualArray pred = DualArray(s.parameter_value(x)).matmul(s.parameter(w));  // [B, 1]
      Array target = s.parameter_value(y);                                        // [B]
      if (reshape) target = target.reshape(Shape{b, 1});
      (pred - DualArray(target)).square().set_loss();
    });
  };
  loss(true);  // the same shapes: silent
  EXPECT_TRUE(heard.empty());
  loss(false);  // [B, 1] - [B] -> [B, B]
  ASSERT_EQ(heard.size(), 1u);
  EXPECT_NE(heard[0].find("[8, 1] and [8] -> [8, 8]"), std::string::npos) << heard[0];
  EXPECT_NE(heard[0].find("reshape"), std::string::npos) << heard[0];
  loss(false);  // once per process
  EXPECT_EQ(heard.size(), 1u);
  // A same-rank outer broadcast ([B, 1] * [1, 3]) is explicit: no warning.
  e.build_graph([&](Scope& s) {
    DualArray pred = DualArray(s.parameter_value(x)).matmul(s.parameter(w));
    (pred * DualArray(s.literal(1.0f).broadcast(Shape{1, 3}))).set_loss();
  });
  EXPECT_EQ(heard.size(), 1u);
  // A throwing handler turns the warning into an error.
  set_warning_handler([](const std::string& m) { throw UsageError(m); });
  EXPECT_THROW(loss(false), UsageError);
  set_warning_handler(old);
}

TEST(Messages, PointTheRightWay) {
  Environment& e = env();
  auto p = e.static_parameter(Shape{2}, e.unique_name("msg_p"));
  try {
    load_parameters(e, "/nonexistent/descent_checkpoint.safetensors", {p});
    ADD_FAILURE() << "no error for a missing checkpoint";
  } catch (const Error& err) {
    std::string m = err.what();
    EXPECT_EQ(m.find("fetch-data"), std::string::npos) << m;
    EXPECT_NE(m.find("save_parameters"), std::string::npos) << m;
  }
  auto x = e.static_parameter(Shape{5, 28, 28, 1}, e.unique_name("msg_x"));
  auto expect_message = [&](const std::function<void(Scope&)>& fn, const std::string& part,
                            const std::string& absent) {
    try {
      e.build_graph(fn);
      ADD_FAILURE() << "no ShapeError (expected '" << part << "')";
    } catch (const ShapeError& err) {
      std::string m = err.what();
      EXPECT_NE(m.find(part), std::string::npos) << m;
      if (!absent.empty()) EXPECT_EQ(m.find(absent), std::string::npos) << m;
    }
  };
  // The slice that was asked for, not the clamped one.
  expect_message([&](Scope& s) { (void)s.parameter_value(x).slice(1, 30, 40); }, "[30:40:1]", "[28:28");
  // A PyTorch-layout (OIHW) filter [16, 1, 3, 3] for a 1-channel image.
  expect_message([&](Scope& s) {
    (void)conv2d(s.parameter_value(x), s.literal(0.0f).broadcast(Shape{16, 1, 3, 3}));
  }, "OHWI", "divisible");
}

TEST(DebugTwo, PrintsOneSummaryEveryNRuns) {
  Environment& e = env();
  auto x = e.static_parameter_with_data(Shape{64}, e.unique_name("dbg2_x"), random_values(64, 520));
  auto y = e.static_parameter(Shape{64}, e.unique_name("dbg2_y"));
  auto& f = detail::mutable_flags();
  int saved_debug = f.debug, saved_every = f.timing_every;
  f.debug = 2;
  f.timing_every = 4;
  Graph g = e.build_graph([&](Scope& s) { s.write_parameter_value(y, s.parameter_value(x).exp() * 2.0f); });
  ::testing::internal::CaptureStderr();
  for (int i = 0; i < 10; ++i) e.run(g);
  e.wait_idle();
  std::string out = ::testing::internal::GetCapturedStderr();
  f.debug = saved_debug;
  f.timing_every = saved_every;
  int summaries = 0;
  for (size_t pos = out.find("descent: graph "); pos != std::string::npos; pos = out.find("descent: graph ", pos + 1))
    ++summaries;
  EXPECT_EQ(summaries, 3) << out;  // runs 1, 5 and 9
  EXPECT_NE(out.find("run 9:"), std::string::npos) << out;
}

}  // namespace
}  // namespace descent::testing
