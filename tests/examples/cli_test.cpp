// The examples' command lines, run as the user would (the built binaries, tiny data written here
// as IDX files, the 64x64 reproducer PNG): bad options and paths fail before training with a clear
// message and a nonzero exit code, every test example counts once, labels are checked at load, a
// NaN loss stops the run, and a resumed run prints the rows of an uninterrupted one.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "descent/io.hpp"

namespace {

struct Result {
  int rc = -1;
  std::string out;  // stdout and stderr
};

/// Runs `args` after the binary (a shell command line) and collects its output.
Result run(const std::string& binary, const std::string& args) {
  std::string cmd = "'" + binary + "' " + args + " 2>&1";
  Result r;
  std::FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int status = pclose(p);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

bool has(const Result& r, const std::string& part) { return r.out.find(part) != std::string::npos; }

/// CSV rows (comment and blank lines left out), by epoch number.
std::vector<std::string> csv_rows(const std::string& path) {
  std::ifstream f(path);
  std::vector<std::string> rows;
  for (std::string line; std::getline(f, line);)
    if (!line.empty() && line[0] != '#') rows.push_back(line);
  return rows;
}

std::string line_with(const Result& r, const std::string& start) {
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(start, 0) == 0) return line;
  return "";
}

class Examples : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           (std::string("descent-cli-") + info->name() + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ / "data");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  /// Fashion-MNIST-shaped IDX files: `pixel(i, k)` and `label(i)` for image i.
  template <class Pixel, class Label>
  void write_split(const std::string& prefix, int64_t count, Pixel pixel, Label label) {
    descent::ImageSet images{count, 28, 28, std::vector<uint8_t>(static_cast<size_t>(count * 784))};
    std::vector<uint8_t> labels(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) {
      for (int64_t k = 0; k < 784; ++k) images.pixels[static_cast<size_t>(i * 784 + k)] = pixel(i, k);
      labels[static_cast<size_t>(i)] = label(i);
    }
    descent::write_idx_images(path("data/" + prefix + "-images-idx3-ubyte.gz"), images);
    descent::write_idx_labels(path("data/" + prefix + "-labels-idx1-ubyte.gz"), labels);
  }
  /// Pseudo-random pixels and labels (a fixed hash of the index).
  void write_random(int64_t train, int64_t test) {
    auto pixel = [](int64_t i, int64_t k) { return static_cast<uint8_t>((i * 7919 + k * 104729) % 251); };
    auto label = [](int64_t i) { return static_cast<uint8_t>((i * 37 + 11) % 10); };
    write_split("train", train, pixel, label);
    write_split("t10k", test, pixel, label);
  }
  Result fashion(const std::string& args) {
    return run(DESCENT_FASHION_MNIST, "--data-dir '" + path("data") + "' " + args);
  }
  std::filesystem::path dir_;
};

void expect_clean(const Result& r) {
  EXPECT_FALSE(has(r, "Vulkan validation")) << r.out;
}

/// Failed before the first training step, with a message holding every part.
void expect_early_failure(const Result& r, const std::vector<std::string>& parts) {
  EXPECT_NE(r.rc, 0) << r.out;
  EXPECT_FALSE(has(r, "epoch: ")) << "trained before failing:\n" << r.out;
  for (const std::string& p : parts) EXPECT_TRUE(has(r, p)) << "lacks '" << p << "':\n" << r.out;
}

TEST_F(Examples, FashionBadOptionsAndPathsFailBeforeTraining) {
  write_random(32, 16);
  expect_early_failure(fashion("linear --batch 0"), {"batch"});
  expect_early_failure(fashion("resnet"), {"resnet"});
  expect_early_failure(run(DESCENT_FASHION_MNIST, "linear --data-dir '" + path("nowhere") + "'"), {path("nowhere")});
  expect_early_failure(fashion("linear -e 1 -m 16 --save '" + path("missing/w.safetensors") + "'"),
                       {"--save", path("missing"), "does not exist"});
  expect_early_failure(fashion("linear -e 1 -m 16 --save-state '" + path("data") + "'"), {"--save-state", "is a directory"});
  expect_early_failure(fashion("linear -e 1 -m 16 --csv '" + path("missing/a.csv") + "'"), {"--csv", "does not exist"});
  expect_early_failure(fashion("linear -e 1 -m 16 --resume '" + path("none.state") + "'"), {"--resume", "cannot open"});
  expect_early_failure(fashion("linear -e 1 -m 64"), {"32 images", "fewer than one batch", "--batch 64"});
}

TEST_F(Examples, FashionLabelsOutsideTheClassesFailAtLoad) {
  write_random(32, 16);
  write_split("train", 32, [](int64_t, int64_t) { return uint8_t{0}; },
              [](int64_t i) { return static_cast<uint8_t>(i == 20 ? 12 : 1); });
  expect_early_failure(fashion("linear -e 1 -m 16"), {"train-labels-idx1-ubyte.gz", "12"});
}

// All-zero images: the linear network's logits are its bias, which one Adam step on labels that
// are all 3 makes predict 3 for every image. 10 of the 1003 test labels are 3, five of them in the
// last 3 + 2 images, so the accuracy is 10 / 1003 exactly when each test image counts once (a
// test batch of 1000 and a remainder of 3: the remainder used to be dropped, giving 5 / 1000).
TEST_F(Examples, FashionCountsEveryTestExampleOnce) {
  auto zero = [](int64_t, int64_t) { return uint8_t{0}; };
  write_split("train", 64, zero, [](int64_t) { return uint8_t{3}; });
  write_split("t10k", 1003, zero, [](int64_t i) { return static_cast<uint8_t>(i < 5 || i >= 998 ? 3 : 7); });
  Result r = fashion("linear -e 1 -m 16 --csv '" + path("a.csv") + "'");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_TRUE(has(r, "1003 test images (1 batch of 1000 and one of 3, each evaluated once)")) << r.out;
  auto rows = csv_rows(path("a.csv"));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].substr(rows[0].rfind(", ") + 2), "0.009970") << rows[0] << " (10 / 1003)";
  expect_clean(r);
}

TEST_F(Examples, FashionNonFiniteLossStopsTheRun) {
  write_random(32, 16);
  Result r = fashion("linear -e 2 -m 16 -o sgd -w nan");
  EXPECT_EQ(r.rc, 1) << r.out;
  for (const char* part : {"training diverged in epoch 1", "check_finite", "'fashion_mnist training loss'",
                           "NaN or infinity", "run 2 of graph #0"})
    EXPECT_TRUE(has(r, part)) << "lacks '" << part << "':\n" << r.out;
  EXPECT_FALSE(has(r, "trial 1: test accuracy")) << r.out;
}

TEST_F(Examples, FashionResumedRunPrintsTheSameRows) {
  write_random(70, 48);
  const std::string common = "conv-net -m 16 -s 3 ";
  Result straight = fashion(common + "-e 3 --csv '" + path("a.csv") + "'");
  ASSERT_EQ(straight.rc, 0) << straight.out;
  Result first = fashion(common + "-e 1 --save-state '" + path("run.state") + "'");
  ASSERT_EQ(first.rc, 0) << first.out;
  Result resumed = fashion(common + "-e 3 --resume '" + path("run.state") + "' --csv '" + path("c.csv") + "'");
  ASSERT_EQ(resumed.rc, 0) << resumed.out;
  EXPECT_TRUE(has(resumed, "resumed")) << resumed.out;
  auto a = csv_rows(path("a.csv")), c = csv_rows(path("c.csv"));
  ASSERT_EQ(a.size(), 3u);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0], a[1]);
  EXPECT_EQ(c[1], a[2]);
  EXPECT_EQ(line_with(resumed, "trial 1:"), line_with(straight, "trial 1:"));
  EXPECT_EQ(line_with(resumed, "epoch: 3,").substr(0, 60), line_with(straight, "epoch: 3,").substr(0, 60));
  expect_early_failure(fashion("linear -m 16 -s 3 -e 3 --resume '" + path("run.state") + "'"),
                       {"network = 'conv-net'", "'linear'"});
  expect_clean(straight);
  expect_clean(resumed);
}

#ifdef DESCENT_IMAGE_FIT
const std::string kPng = std::string(DESCENT_TEST_DATA) + "/reliability/image_fit_multihash_64x64.png";

Result image_fit(const std::string& args) { return run(DESCENT_IMAGE_FIT, "--image '" + kPng + "' " + args); }

/// Width and height from a PNG's IHDR chunk (bytes 16..23, big-endian).
std::pair<uint32_t, uint32_t> png_size(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  unsigned char b[24] = {};
  f.read(reinterpret_cast<char*>(b), 24);
  auto be = [&](int o) { return uint32_t{b[o]} << 24 | uint32_t{b[o + 1]} << 16 | uint32_t{b[o + 2]} << 8 | b[o + 3]; };
  return {be(16), be(20)};
}

// tests/data/reliability/image_fit_multihash_64x64.png: 4096 pixels, not a multiple of the batch;
// rendering the last chunk used to throw IndexError after training.
TEST_F(Examples, ImageFitRendersWhenThePixelsAreNotAMultipleOfTheBatch) {
  Result r = image_fit("multi-hash -e 1 -m 1000 -o '" + path("out") + "'");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_TRUE(has(r, "wrote " + path("out_1.png"))) << r.out;
  EXPECT_EQ(png_size(path("out_1.png")), (std::pair<uint32_t, uint32_t>{64, 64}));
  expect_clean(r);
}

TEST_F(Examples, ImageFitBadPathsFailBeforeTraining) {
  expect_early_failure(image_fit("relu -e 1 -o '" + path("missing/out") + "'"), {"-o", "does not exist"});
  expect_early_failure(image_fit("relu -e 1 --csv '" + path("missing/a.csv") + "'"), {"--csv", "does not exist"});
  expect_early_failure(run(DESCENT_IMAGE_FIT, "relu -e 1 --image '" + path("none.png") + "'"), {path("none.png")});
  expect_early_failure(image_fit("relu -e 1 -m 0"), {"batch"});
}

TEST_F(Examples, ImageFitResumedRunPrintsTheSameRows) {
  const std::string common = "relu -m 1000 -s 5 ";
  Result straight = image_fit(common + "-e 3 --csv '" + path("a.csv") + "'");
  ASSERT_EQ(straight.rc, 0) << straight.out;
  ASSERT_EQ(image_fit(common + "-e 1 --save-state '" + path("run.state") + "'").rc, 0);
  Result resumed = image_fit(common + "-e 3 --resume '" + path("run.state") + "' --csv '" + path("c.csv") + "'");
  ASSERT_EQ(resumed.rc, 0) << resumed.out;
  auto a = csv_rows(path("a.csv")), c = csv_rows(path("c.csv"));
  ASSERT_EQ(a.size(), 3u);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0], a[1]);
  EXPECT_EQ(c[1], a[2]);
  EXPECT_EQ(line_with(resumed, "relu: final loss").substr(0, 28), line_with(straight, "relu: final loss").substr(0, 28));
  expect_early_failure(image_fit("relu -m 500 -s 5 -e 3 --resume '" + path("run.state") + "'"), {"batch = '1000'"});
  expect_clean(resumed);
}
#endif

}  // namespace
