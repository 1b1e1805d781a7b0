// safetensors checkpoints (F32 only; format in include/descent/io.hpp): atomic save, and a load
// that validates the whole header against the real file size before it allocates tensor memory.
// Rules follow the reference implementation (huggingface/safetensors): header <= 100 MB, starts
// with '{', data ranges contiguous from 0 to the end of the file. Host code only.
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "descent/io.hpp"
#include "io/file.hpp"

namespace descent {

namespace {

using nlohmann::json;

// The reference loader's limit; a larger header is a corrupt length field, not a checkpoint.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr const char* kMetadataKey = "__metadata__";
constexpr const char* kKnownDtypes[] = {
    "BOOL", "U8",  "I8",  "I16", "U16", "F16",     "BF16",    "I32",     "U32",     "F32",
    "F64",  "I64", "U64", "C64", "F4",  "F8_E5M2", "F8_E4M3", "F8_E8M0", "F6_E2M3", "F6_E3M2"};
constexpr const char* kCorrupt = "The checkpoint is corrupt or truncated: use another copy";

/// One header entry, checked on its own (the layout checks come after all entries are read).
struct Entry {
  std::string name;
  std::vector<int64_t> dims;
  uint64_t begin = 0, end = 0;  // byte range relative to the start of the data section
  uint64_t header_offset = 0;   // where the entry's name appears in the file, for messages
};

void to_little_endian(uint8_t* bytes, size_t count) {
  if constexpr (std::endian::native == std::endian::big) {
    for (size_t i = 0; i < count; ++i) std::reverse(bytes + 4 * i, bytes + 4 * i + 4);
  } else {
    (void)bytes;
    (void)count;
  }
}

class Loader {
 public:
  explicit Loader(const std::string& path)
      : path_(path), file_(path, "check the path; checkpoints are written by save_parameters") {}
  std::vector<TensorRecord> load(std::map<std::string, std::string>* metadata);

 private:
  [[noreturn]] void fail(uint64_t offset, const std::string& problem,
                         const char* advice = kCorrupt) const {
    detail::format_error(path_, offset, problem, advice);
  }
  void read_header();
  json parse_header();
  uint64_t key_offset(const std::string& key, size_t occurrence = 0) const;
  Entry check_entry(const std::string& name, const json& info) const;
  void check_layout(std::vector<Entry>& entries) const;

  std::string path_;
  detail::InputFile file_;
  std::string text_;  // the JSON header
  uint64_t data_start_ = 0, data_size_ = 0;
};

void Loader::read_header() {
  const uint64_t size = file_.size();
  if (size < 8) {
    fail(size, fmt::format("the file has {} bytes; a safetensors file starts with an 8-byte "
                           "little-endian header length",
                           size));
  }
  uint8_t raw[8];
  file_.read_at(0, raw, 8);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | raw[i];
  if (n > kMaxHeaderBytes) {
    fail(0,
         fmt::format("the header length field says {} bytes, more than the {} a safetensors "
                     "header may have",
                     n, kMaxHeaderBytes),
         "This is not a safetensors file or its first 8 bytes are corrupt");
  }
  if (n > size - 8) {
    fail(0, fmt::format("the header length field says {} bytes but only {} bytes follow it", n,
                        size - 8));
  }
  text_.resize(n);
  file_.read_at(8, text_.data(), n);
  if (n == 0 || text_[0] != '{') {
    fail(8, "expected the JSON header to start with '{'",
         "This is not a safetensors file or its header is corrupt");
  }
  data_start_ = 8 + n;
  data_size_ = size - data_start_;
}

/// Byte offset of the n-th occurrence of the JSON-quoted key in the header (start of header if
/// the file spells it with other escapes).
uint64_t Loader::key_offset(const std::string& key, size_t occurrence) const {
  std::string quoted = json(key).dump(-1, ' ', false, json::error_handler_t::replace);
  size_t at = text_.find(quoted);
  for (size_t i = 0; i < occurrence && at != std::string::npos; ++i)
    at = text_.find(quoted, at + 1);
  return 8 + (at == std::string::npos ? 0 : at);
}

json Loader::parse_header() {
  // nlohmann keeps the last of duplicate keys silently; the callback sees every key, so a stack
  // of per-object key sets catches duplicates at any depth.
  std::vector<std::set<std::string>> open_objects;
  std::string duplicate;
  auto callback = [&](int, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) open_objects.emplace_back();
    if (event == json::parse_event_t::object_end && !open_objects.empty()) open_objects.pop_back();
    if (event == json::parse_event_t::key && !open_objects.empty() && duplicate.empty()) {
      const auto& key = parsed.get_ref<const std::string&>();
      if (!open_objects.back().insert(key).second) duplicate = key;
    }
    return true;
  };
  json header;
  try {
    header = json::parse(text_, callback);
  } catch (const json::parse_error& e) {
    uint64_t at = std::min<uint64_t>(e.byte > 0 ? e.byte - 1 : 0, text_.size());
    std::string why = e.what();
    if (size_t cut = why.find("] "); cut != std::string::npos) why = why.substr(cut + 2);
    fail(8 + at, fmt::format("the JSON header does not parse: {}", why));
  }
  if (!duplicate.empty()) {
    fail(key_offset(duplicate, 1),
         fmt::format("the JSON header has the key \"{}\" twice in one object", duplicate));
  }
  if (!header.is_object()) fail(8, "the JSON header is not an object");
  return header;
}

Entry Loader::check_entry(const std::string& name, const json& info) const {
  Entry e{name, {}, 0, 0, key_offset(name)};
  const uint64_t at = e.header_offset;
  auto bad = [&](const std::string& what) {
    fail(at, fmt::format("tensor \"{}\": {}", name, what));
  };
  if (!info.is_object()) bad("its entry is not a JSON object");
  for (const auto& [key, value] : info.items()) {
    if (key != "dtype" && key != "shape" && key != "data_offsets") {
      bad(fmt::format("unexpected field \"{}\" (expected dtype, shape, data_offsets)", key));
    }
  }
  if (!info.contains("dtype") || !info.contains("shape") || !info.contains("data_offsets")) {
    bad("missing one of the fields dtype, shape, data_offsets");
  }
  const json& dtype = info["dtype"];
  if (!dtype.is_string()) bad("dtype is not a string");
  const std::string& d = dtype.get_ref<const std::string&>();
  if (d != "F32") {
    bool known = std::find_if(std::begin(kKnownDtypes), std::end(kKnownDtypes),
                              [&](const char* k) { return d == k; }) != std::end(kKnownDtypes);
    fail(at,
         fmt::format("tensor \"{}\" has {} dtype \"{}\"; descent loads F32 only", name,
                     known ? "the" : "the unknown", d),
         "Convert the tensors to float32 before saving (e.g. {k: v.float() for k, v in "
         "sd.items()})");
  }
  const json& shape = info["shape"];
  if (!shape.is_array()) bad("shape is not an array");
  if (shape.size() > static_cast<size_t>(kMaxRank)) {
    bad(fmt::format("shape has rank {}; descent arrays have at most {} axes", shape.size(),
                    kMaxRank));
  }
  // count <= 2^31 - 1 (checked per step) keeps count * extent below 2^63.
  uint64_t count = 1;
  for (const json& x : shape) {
    if (!x.is_number_unsigned())
      bad(fmt::format("shape {} holds a non-integer or negative extent", shape.dump()));
    uint64_t extent = x.get<uint64_t>();
    if (extent == 0) {
      fail(at, fmt::format("tensor \"{}\" has shape {} with no elements", name, shape.dump()),
           "descent arrays have no empty extents: drop the tensor before saving");
    }
    if (extent > (uint64_t{1} << 31) || count * extent > (uint64_t{1} << 31) - 1) {
      bad(fmt::format("shape {} has more than 2^31-1 elements, the most a descent array holds",
                      shape.dump()));
    }
    count *= extent;
    e.dims.push_back(static_cast<int64_t>(extent));
  }
  const json& offsets = info["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
      !offsets[1].is_number_unsigned()) {
    bad(fmt::format("data_offsets {} is not a pair [begin, end] of unsigned integers",
                    offsets.dump()));
  }
  e.begin = offsets[0].get<uint64_t>();
  e.end = offsets[1].get<uint64_t>();
  if (e.begin > e.end)
    bad(fmt::format("data_offsets [{}, {}] end before they begin", e.begin, e.end));
  if (e.end - e.begin != count * 4) {
    bad(fmt::format("shape {} needs {} bytes of F32 data but data_offsets [{}, {}] span {}",
                    shape.dump(), count * 4, e.begin, e.end, e.end - e.begin));
  }
  if (e.end > data_size_) {
    fail(data_start_ + std::min(e.begin, data_size_),
         fmt::format("tensor \"{}\" has data_offsets [{}, {}] but the data section (from byte {}) "
                     "holds only {} bytes",
                     name, e.begin, e.end, data_start_, data_size_));
  }
  return e;
}

/// The data section must be exactly the concatenation of the tensors' ranges.
void Loader::check_layout(std::vector<Entry>& entries) const {
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t pos = 0;
  const Entry* previous = nullptr;
  for (const Entry& e : entries) {
    if (e.begin < pos) {
      fail(data_start_ + e.begin,
           fmt::format("tensor \"{}\" [{}, {}] overlaps tensor \"{}\" [{}, {}]", e.name, e.begin,
                       e.end, previous->name, previous->begin, previous->end));
    }
    if (e.begin > pos) {
      fail(data_start_ + pos, fmt::format("{} unused bytes before tensor \"{}\" [{}, {}]; "
                                          "safetensors data must be contiguous",
                                          e.begin - pos, e.name, e.begin, e.end));
    }
    pos = e.end;
    previous = &e;
  }
  if (pos != data_size_) {
    fail(data_start_ + pos,
         fmt::format("{} bytes follow the last tensor's data", data_size_ - pos));
  }
}

std::vector<TensorRecord> Loader::load(std::map<std::string, std::string>* metadata) {
  read_header();
  json header = parse_header();
  std::vector<Entry> entries;
  std::map<std::string, std::string> meta;
  for (const auto& [name, info] : header.items()) {
    if (name != kMetadataKey) {
      entries.push_back(check_entry(name, info));
      continue;
    }
    if (!info.is_object()) fail(key_offset(name), "\"__metadata__\" is not a JSON object");
    for (const auto& [key, value] : info.items()) {
      if (!value.is_string()) {
        fail(key_offset(key),
             fmt::format("\"__metadata__\" value for \"{}\" is not a string", key));
      }
      meta[key] = value.get<std::string>();
    }
  }
  check_layout(entries);
  // Every range is inside the file and they do not overlap: total allocation == data size.
  std::vector<TensorRecord> out;
  out.reserve(entries.size());
  for (Entry& e : entries) {
    TensorRecord r{std::move(e.name), Shape(e.dims), std::vector<float>((e.end - e.begin) / 4)};
    file_.read_at(data_start_ + e.begin, r.data.data(), e.end - e.begin);
    to_little_endian(reinterpret_cast<uint8_t*>(r.data.data()), r.data.size());
    out.push_back(std::move(r));
  }
  if (metadata) *metadata = std::move(meta);
  return out;
}

}  // namespace

void save_safetensors(const std::string& path, const std::vector<TensorRecord>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const TensorRecord& t : tensors) {
    if (t.name.empty() || t.name == kMetadataKey || !names.insert(t.name).second) {
      throw UsageError(
          fmt::format("save_safetensors '{}': tensor name \"{}\" is empty, reserved "
                      "or used twice",
                      path, t.name));
    }
    if (static_cast<int64_t>(t.data.size()) != t.shape.element_count()) {
      throw UsageError(
          fmt::format("save_safetensors '{}': tensor \"{}\" has shape {} ({} "
                      "values) but {} values of data",
                      path, t.name, t.shape.str(), t.shape.element_count(), t.data.size()));
    }
    uint64_t bytes = t.data.size() * sizeof(float);
    header[t.name] = {
        {"dtype", "F32"}, {"shape", t.shape.dims()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::ordered_json::exception& e) {
    throw UsageError(
        fmt::format("save_safetensors '{}': a name or metadata string is not valid "
                    "UTF-8 ({})",
                    path, e.what()));
  }
  // Spaces after the JSON (allowed by the format) make 8 + N a multiple of 8, so the data
  // section, and with it every F32 tensor, starts 8-byte aligned when the file is mapped.
  text.append((8 - text.size() % 8) % 8, ' ');
  uint8_t length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(uint64_t{text.size()} >> (8 * i));
  detail::AtomicFile file(path);
  file.write(length, 8);
  file.write(text.data(), text.size());
  for (const TensorRecord& t : tensors) {
    if constexpr (std::endian::native == std::endian::little) {
      file.write(t.data.data(), t.data.size() * sizeof(float));
    } else {
      std::vector<float> copy = t.data;
      to_little_endian(reinterpret_cast<uint8_t*>(copy.data()), copy.size());
      file.write(copy.data(), copy.size() * sizeof(float));
    }
  }
  file.commit();
}

std::vector<TensorRecord> load_safetensors(const std::string& path,
                                           std::map<std::string, std::string>* metadata) {
  return Loader(path).load(metadata);
}

}  // namespace descent
