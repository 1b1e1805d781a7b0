// safetensors checkpoints (F32 only; format in include/descent/io.hpp): atomic save, and a load
// that validates the whole header against the real file size before it allocates tensor memory.
// Rules follow the reference implementation (huggingface/safetensors): header <= 100 MB, starts
// with '{', data ranges contiguous from 0 to the end of the file. The header itself is parsed by
// safetensors_header.cpp (streaming, no JSON tree). Host code only.
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "descent/io.hpp"
#include "io/file.hpp"
#include "io/safetensors_header.hpp"

namespace descent {

namespace {

using detail::SafetensorsEntry;

// The reference loader's limit (safetensors' MAX_HEADER_SIZE; the format description itself
// sets none): a larger header is a corrupt length field, not a checkpoint. It also bounds the
// memory a header can cost (a small multiple of this, see docs/reliability.md).
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr const char* kMetadataKey = "__metadata__";
constexpr const char* kCorrupt = "The checkpoint is corrupt or truncated: use another copy";

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
  std::vector<SafetensorsEntry*> check_layout(std::vector<SafetensorsEntry>& entries) const;

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
  detail::allocate(text_, n, path_);
  file_.read_at(8, text_.data(), n);
  if (n == 0 || text_[0] != '{') {
    fail(8, "expected the JSON header to start with '{'",
         "This is not a safetensors file or its header is corrupt");
  }
  data_start_ = 8 + n;
  data_size_ = size - data_start_;
}

/// The data section must be exactly the concatenation of the tensors' ranges. Returns the
/// entries ordered by offset.
std::vector<SafetensorsEntry*> Loader::check_layout(std::vector<SafetensorsEntry>& entries) const {
  std::vector<SafetensorsEntry*> order(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) order[i] = &entries[i];
  std::sort(order.begin(), order.end(), [](const SafetensorsEntry* a, const SafetensorsEntry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t pos = 0;
  const SafetensorsEntry* previous = nullptr;
  for (const SafetensorsEntry* e : order) {
    if (e->begin < pos) {
      fail(data_start_ + e->begin,
           fmt::format("tensor {} [{}, {}] overlaps tensor {} [{}, {}]",
                       detail::quoted_excerpt(e->name), e->begin, e->end,
                       detail::quoted_excerpt(previous->name), previous->begin, previous->end));
    }
    if (e->begin > pos) {
      fail(data_start_ + pos,
           fmt::format("{} unused bytes before tensor {} [{}, {}]; "
                       "safetensors data must be contiguous",
                       e->begin - pos, detail::quoted_excerpt(e->name), e->begin, e->end));
    }
    pos = e->end;
    previous = e;
  }
  if (pos != data_size_) {
    fail(data_start_ + pos,
         fmt::format("{} bytes follow the last tensor's data", data_size_ - pos));
  }
  return order;
}

std::vector<TensorRecord> Loader::load(std::map<std::string, std::string>* metadata) {
  read_header();
  detail::SafetensorsHeader header = detail::parse_safetensors_header(path_, text_, data_size_);
  std::string().swap(text_);  // the header text is not needed any more
  std::vector<SafetensorsEntry*> order = check_layout(header.entries);
  // Every range is inside the file and they do not overlap: total allocation == data size.
  std::vector<TensorRecord> out;
  out.reserve(order.size());
  for (SafetensorsEntry* e : order) {
    TensorRecord r{std::move(e->name), e->shape, {}};
    detail::allocate(r.data, (e->end - e->begin) / 4, path_);
    file_.read_at(data_start_ + e->begin, r.data.data(), e->end - e->begin);
    to_little_endian(reinterpret_cast<uint8_t*>(r.data.data()), r.data.size());
    out.push_back(std::move(r));
  }
  if (metadata) *metadata = std::move(header.metadata);
  return out;
}

/// A JSON string literal for `s` (nlohmann escapes it; not valid UTF-8 is a UsageError).
std::string json_string(const std::string& s, const std::string& path) {
  try {
    return nlohmann::json(s).dump();
  } catch (const nlohmann::json::exception& e) {
    throw UsageError(
        fmt::format("save_safetensors '{}': a name or metadata string is not valid "
                    "UTF-8 ({})",
                    path, e.what()));
  }
}

/// The header JSON, written out directly: a JSON tree with insertion order costs a linear
/// search per key (quadratic in the tensor count).
std::string header_text(const std::string& path, const std::vector<TensorRecord>& tensors,
                        const std::map<std::string, std::string>& metadata) {
  std::string text = "{";
  if (!metadata.empty()) {
    text += fmt::format("\"{}\":{{", kMetadataKey);
    for (const auto& [key, value] : metadata) {
      if (text.back() != '{') text += ',';
      text += json_string(key, path) + ":" + json_string(value, path);
    }
    text += "}";
  }
  std::set<std::string_view> names;
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
    const uint64_t bytes = t.data.size() * sizeof(float);
    if (text.size() > 1) text += ',';
    text += fmt::format("{}:{{\"dtype\":\"F32\",\"shape\":[{}],\"data_offsets\":[{},{}]}}",
                        json_string(t.name, path), fmt::join(t.shape.dims(), ","), offset,
                        offset + bytes);
    offset += bytes;
  }
  return text + "}";
}

}  // namespace

void save_safetensors(const std::string& path, const std::vector<TensorRecord>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::string text = header_text(path, tensors, metadata);
  if (text.size() + 7 > kMaxHeaderBytes) {
    throw UsageError(
        fmt::format("save_safetensors '{}': the header would have {} bytes, more than "
                    "the {} safetensors readers accept (too many or too long names)",
                    path, text.size(), kMaxHeaderBytes));
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
  return detail::map_bad_alloc(path, [&] { return Loader(path).load(metadata); });
}

}  // namespace descent
