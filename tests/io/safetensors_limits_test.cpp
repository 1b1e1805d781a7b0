// Limits for safetensors: hostile headers (deep nesting, overflowing numbers, huge entry
// counts) must end in a FormatError with path and byte offset, in time linear in the file and
// memory bounded by it. Uses the committed reproducers under tests/data/reliability.
// Timings are printed; their limits are generous multiples of what this machine measures.
#include <chrono>
#include <cstring>

#include "descent/io.hpp"
#include "io_test_util.hpp"

namespace descent::testing {
namespace {

Bytes st_file(const std::string& header, const Bytes& data = {}) {
  Bytes out;
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<uint8_t>(uint64_t{header.size()} >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// Loads `path` expecting a FormatError; returns the seconds it took.
double timed_format_error(const std::string& path, std::optional<uint64_t> offset,
                          const std::string& needle) {
  auto start = std::chrono::steady_clock::now();
  expect_format_error([&] { load_safetensors(path); }, path, offset, needle);
  return seconds_since(start);
}

class SafetensorsLimitsTest : public FileTest {};

// The reproducers overflowed the stack in the error path (a recursive JSON dump of the shape).
TEST_F(SafetensorsLimitsTest, DeeplyNestedShapeAndOffsetsAreFormatErrors) {
  std::string m = expect_format_error(
      [&] { load_safetensors(test_data("reliability/st_deep_shape_stack_overflow.safetensors")); },
      "st_deep_shape_stack_overflow.safetensors", 38, "nested");
  EXPECT_LT(m.size(), 600u) << "the message must not quote the nested JSON";
  m = expect_format_error(
      [&] {
        load_safetensors(test_data("reliability/st_deep_offsets_stack_overflow.safetensors"));
      },
      "st_deep_offsets_stack_overflow.safetensors", 57, "nested");
  EXPECT_LT(m.size(), 600u);
}

// A million levels anywhere in the header: every place a value may appear.
TEST_F(SafetensorsLimitsTest, MillionLevelNestingAnywhereIsAFormatError) {
  const std::string deep = std::string(1'000'000, '[') + std::string(1'000'000, ']');
  const std::string cases[] = {
      R"({"__metadata__":{"k":)" + deep + "}}",
      R"({"__metadata__":)" + deep + "}",
      R"({"w":)" + deep + "}",
      R"({"w":{"dtype":)" + deep + "}}",
      R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":)" + deep + "}}",
      R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"v":)" + deep + "}",
      R"({"w":{"dtype":"F32","data_offsets":[0,4],"shape":[1, {"a":)" + deep + "}]}}",
      R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,)" + deep + "]}}",
  };
  for (const std::string& header : cases) {
    write_bytes(path("deep.safetensors"), st_file(header, Bytes(4)));
    std::string m = expect_format_error([&] { load_safetensors(path("deep.safetensors")); },
                                        path("deep.safetensors"), std::nullopt);
    EXPECT_LT(m.size(), 600u) << header.substr(0, 60);
  }
}

// 1e400 made the JSON library throw its own out_of_range, which escaped catch (descent::Error&).
TEST_F(SafetensorsLimitsTest, NumberOverflowIsAFormatErrorAtTheNumber) {
  const std::string repro =
      test_data("reliability/st_number_overflow_untyped_exception.safetensors");
  ASSERT_EQ(std::filesystem::file_size(repro), 71u);
  // {"a": {"dtype":"F32","shape":[1e400] ...: the number starts at header byte 30, file byte 38.
  expect_format_error([&] { load_safetensors(repro); }, "st_number_overflow", 38, "1e400");
  for (const std::string& number :
       {std::string("-1e400"), std::string("1e999999999999"), "1" + std::string(400, '0') + ".5"}) {
    write_bytes(path("n.safetensors"), st_file(R"({"__metadata__":{"k":)" + number + "}}"));
    expect_format_error([&] { load_safetensors(path("n.safetensors")); }, path("n.safetensors"),
                        std::nullopt);
  }
}

// Whatever goes wrong inside the header, only descent errors come out (never a JSON library type).
TEST_F(SafetensorsLimitsTest, OnlyFormatErrorsComeOutOfHostileHeaders) {
  const std::string cases[] = {
      R"({"w":{"dtype":"F32","shape":[1e400],"data_offsets":[0,4]}})",
      R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,1e400]}})",
      R"({"w":{"dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,4]}})",
      R"({"w":{"dtype":"F32","shape":[-9223372036854775809],"data_offsets":[0,4]}})",
      R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"__metadata__":{"k":"\ud800"}})",
      R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"__metadata__":{"k":"\u00"}})",
      R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"__metadata__":{"k":"a)"
      "\x01"
      R"("}})",
      R"({"w":{"dtype":null,"shape":true,"data_offsets":false}})",
      R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}} , )",
      R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})" + std::string(1, '\0'),
  };
  for (const std::string& header : cases) {
    write_bytes(path("h.safetensors"), st_file(header, Bytes(4)));
    expect_format_error([&] { load_safetensors(path("h.safetensors")); }, path("h.safetensors"),
                        std::nullopt);
  }
}

// Loading was quadratic in the tensor count (10,000 tensors took 11 s). 100,000 must be fast.
TEST_F(SafetensorsLimitsTest, HundredThousandTensorsSaveAndLoadInLinearTime) {
  constexpr int kCount = 100'000;
  std::vector<TensorRecord> in;
  in.reserve(kCount);
  for (int i = 0; i < kCount; ++i) {
    in.push_back({"layer" + std::to_string(i) + ".weight", Shape{2}, {float(i), -float(i)}});
  }
  auto start = std::chrono::steady_clock::now();
  save_safetensors(path("many.safetensors"), in);
  const double save_s = seconds_since(start);
  start = std::chrono::steady_clock::now();
  std::vector<TensorRecord> out = load_safetensors(path("many.safetensors"));
  const double load_s = seconds_since(start);
  std::printf("[ timing   ] %d tensors (%ju bytes): save %.3f s, load %.3f s\n", kCount,
              static_cast<uintmax_t>(std::filesystem::file_size(path("many.safetensors"))), save_s,
              load_s);
  ASSERT_EQ(out.size(), in.size());
  for (int i : {0, 1, kCount / 2, kCount - 1}) {
    EXPECT_EQ(out[i].name, in[i].name);
    EXPECT_EQ(out[i].data, in[i].data);
  }
  EXPECT_LT(load_s, 5.0 * kTimeSlack);
  EXPECT_LT(save_s, 5.0 * kTimeSlack);
}

// The crafted reproducers: 30,000 overlapping entries (60 s before) and 50,000 empty sibling
// objects (14 s inside the JSON library's callback mode).
TEST_F(SafetensorsLimitsTest, CraftedEntryFloodsAreRejectedFast) {
  double s = timed_format_error(test_data("reliability/st_quadratic_30000_entries_60s.safetensors"),
                                8 + 1800001, "overlaps");
  std::printf("[ timing   ] 30,000 overlapping entries rejected in %.3f s\n", s);
  EXPECT_LT(s, 1.0 * kTimeSlack);
  s = timed_format_error(test_data("reliability/st_50k_sibling_objects_14s.safetensors"), 9,
                         "missing");
  std::printf("[ timing   ] 50,000 empty sibling objects rejected in %.3f s\n", s);
  EXPECT_LT(s, 1.0 * kTimeSlack);
}

// Duplicate names among many entries are still found, at the second occurrence.
TEST_F(SafetensorsLimitsTest, DuplicateNameAmongManyEntries) {
  std::string header = "{";
  const std::string entry = R"({"dtype":"F32","shape":[1],"data_offsets":[)";
  constexpr int kCount = 20'000;
  uint64_t duplicate_at = 0;
  for (int i = 0; i < kCount; ++i) {
    std::string name = i == kCount - 1 ? "t7" : "t" + std::to_string(i);
    if (i == kCount - 1) duplicate_at = 8 + header.size();
    header += "\"" + name + "\":" + entry + std::to_string(4 * i) + "," +
              std::to_string(4 * i + 4) + "]}" + (i + 1 < kCount ? "," : "}");
  }
  write_bytes(path("dup.safetensors"), st_file(header, Bytes(4 * kCount)));
  double s = timed_format_error(path("dup.safetensors"), duplicate_at, "\"t7\" twice");
  EXPECT_LT(s, 1.0 * kTimeSlack);
}

// Messages quote names and values only in part: a 1 MB tensor name does not make a 1 MB message.
TEST_F(SafetensorsLimitsTest, MessagesQuoteLongStringsInPart) {
  const std::string name(1'000'000, 'n');
  write_bytes(
      path("long.safetensors"),
      st_file("{\"" + name + R"(":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}})", Bytes(4)));
  std::string m = expect_format_error([&] { load_safetensors(path("long.safetensors")); },
                                      path("long.safetensors"), 9, "I32");
  EXPECT_LT(m.size(), 1000u);
  write_bytes(path("bad.safetensors"), st_file("{\"" + name + "\xff\":1}"));
  m = expect_format_error([&] { load_safetensors(path("bad.safetensors")); },
                          path("bad.safetensors"), std::nullopt, "does not parse");
  EXPECT_LT(m.size(), 1000u);
}

}  // namespace
}  // namespace descent::testing
