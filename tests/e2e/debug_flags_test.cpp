// The debug ladder and its outputs, driven in-process through detail::mutable_flags():
// DESCENT_DEBUG=2 per-kernel timings (and none without it), DEBUG=3/4/5 dumps on stderr, DOT files
// via write_dot and DESCENT_DOT, kernel sources and labels. (ShaderCompileError cannot be reached
// through the public API: generated GLSL always compiles; tests/vulkan covers it directly.)
#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/harness.hpp"
#include "util/flags.hpp"

namespace descent::testing {
namespace {

/// Overrides one flag for a scope (single-threaded tests only).
template <class T>
class FlagOverride {
 public:
  FlagOverride(T& flag, T value) : flag_(flag), saved_(flag) { flag_ = value; }
  ~FlagOverride() { flag_ = saved_; }

 private:
  T& flag_;
  T saved_;
};

/// A graph of three or more kernels (a stored transpose, two reductions, an elementwise output).
struct ThreeKernels {
  Parameter x = env().static_parameter_with_data({16, 24}, env().unique_name("dbg_x"), random_values(16 * 24, 41));
  Parameter rows = env().static_parameter({24}, env().unique_name("dbg_rows"));
  Parameter y = env().static_parameter({16, 24}, env().unique_name("dbg_y"));
  Graph build() const {
    return env().build_graph([&](Scope& s) {
      Array v = s.parameter_value(x);
      Array t = (v * 2.0f).transpose() + 1.0f;
      s.write_parameter_value(rows, t.reduce_sum(1) + t.reduce_max(1));
      s.write_parameter_value(y, v.tanh());
    });
  }
};

std::string temp_dir(const std::string& name) {
  auto dir =
      std::filesystem::path(::testing::TempDir()) / fmt::format("descent_{}_{}", name, getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

TEST(DebugFlags, TimingsOnlyWithDebug2) {
  ThreeKernels k;
  Graph timed;
  {
    FlagOverride<int> debug(detail::mutable_flags().debug, 2);
    timed = k.build();
  }
  ASSERT_GE(timed.kernel_count(), 3u);
  env().run(timed);
  auto t = env().last_timings(timed);
  ASSERT_EQ(t.size(), timed.kernel_count());
  auto labels = timed.kernel_labels();
  for (size_t i = 0; i < t.size(); ++i) {
    EXPECT_EQ(t[i].label, labels[i]);
    EXPECT_GE(t[i].ms, 0.0) << labels[i];
    EXPECT_TRUE(std::isfinite(t[i].ms)) << labels[i];
  }
  env().run(timed);  // a second run replaces the timings
  EXPECT_EQ(env().last_timings(timed).size(), timed.kernel_count());

  Graph plain = k.build();  // debug 0 (the harness default): no timestamp queries recorded
  env().run(plain);
  EXPECT_TRUE(env().last_timings(plain).empty());
  // Timed and untimed graphs compute the same bits.
  auto a = env().read_parameter(k.rows);
  env().run(timed);
  EXPECT_EQ(env().read_parameter(k.rows), a);
  expect_no_validation_messages();
}

// Regression: last_timings() on a DEBUG=2 graph that has not run yet must not read queries that
// were never written (lavapipe answered VK_NOT_READY; the spec allows a driver to wait forever).
// It returns an empty list.
TEST(DebugFlags, TimingsBeforeTheFirstRun) {
  ThreeKernels k;
  Graph timed;
  {
    FlagOverride<int> debug(detail::mutable_flags().debug, 2);
    timed = k.build();
  }
  try {
    EXPECT_TRUE(env().last_timings(timed).empty());
  } catch (const UsageError&) {
  } catch (const std::exception& e) {
    ADD_FAILURE() << "last_timings before any run threw: " << e.what();
  }
}

TEST(DebugFlags, WriteDotAndDescentDot) {
  ThreeKernels k;
  Graph g = k.build();
  std::string dir = temp_dir("dot");
  std::string path = dir + "/graph.dot";
  g.write_dot(path);
  EXPECT_EQ(read_file(path), g.dot());
  EXPECT_THROW(g.write_dot(dir + "/no/such/dir/graph.dot"), Error);
  {
    // DESCENT_DOT=<dir>: every graph built writes a numbered .dot file there.
    FlagOverride<std::string> dot(detail::mutable_flags().dot_dir, dir + "/auto");
    std::filesystem::create_directories(dir + "/auto");
    Graph a = k.build();
    Graph b = k.build();
    std::vector<std::string> files;
    for (const auto& e : std::filesystem::directory_iterator(dir + "/auto"))
      files.push_back(e.path().string());
    ASSERT_EQ(files.size(), 2u);
    for (const auto& f : files) {
      EXPECT_EQ(std::filesystem::path(f).extension(), ".dot");
      EXPECT_EQ(read_file(f), a.dot());  // same graph, same drawing
    }
  }
  std::filesystem::remove_all(dir);
}

TEST(DebugFlags, KernelSourcesAndLabels) {
  ThreeKernels k;
  Graph g = k.build();
  auto labels = g.kernel_labels();
  ASSERT_EQ(labels.size(), g.kernel_count());
  for (size_t i = 0; i < g.kernel_count(); ++i) {
    std::string src = g.kernel_source(i);
    EXPECT_EQ(src.rfind("#version 460", 0), 0u) << "kernel " << i;
    EXPECT_NE(src.find("void main()"), std::string::npos);
    EXPECT_NE(src.find(labels[i]), std::string::npos) << "source names its kernel";
    EXPECT_FALSE(labels[i].empty());
  }
  EXPECT_THROW((void)g.kernel_source(g.kernel_count()), UsageError);
  {
    FlagOverride<bool> off(detail::mutable_flags().disable_fusion, true);
    EXPECT_GT(k.build().kernel_count(), g.kernel_count());
  }
}

TEST(DebugFlags, Debug5DumpsPassesClustersAndGlsl) {
  ThreeKernels k;
  std::string err;
  {
    FlagOverride<int> debug(detail::mutable_flags().debug, 5);
    ::testing::internal::CaptureStderr();
    Graph g = k.build();
    err = ::testing::internal::GetCapturedStderr();
  }
  for (const char* part :
       {"IR as built", "IR after", "kernels", "GLSL of", "#version 460", "graph compiled"})
    EXPECT_NE(err.find(part), std::string::npos) << "DEBUG=5 output lacks \"" << part << "\"";
  ::testing::internal::CaptureStderr();
  Graph quiet = k.build();
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "") << "DEBUG=0 must print nothing";
  expect_no_validation_messages();
}

}  // namespace
}  // namespace descent::testing
