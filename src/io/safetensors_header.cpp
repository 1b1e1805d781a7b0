// Streaming parser of safetensors headers (see safetensors_header.hpp). nlohmann's SAX interface
// feeds a state machine that knows the format's three levels (root object, entry or metadata
// object, shape or offsets array), so no JSON tree is built, nothing recurses, and hostile
// nesting is refused where it starts. Must never put untrusted JSON into a message except
// through quoted_excerpt() / a bounded excerpt.
#include "io/safetensors_header.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <iterator>
#include <nlohmann/json.hpp>

#include "descent/errors.hpp"
#include "io/file.hpp"

namespace descent::detail {

namespace {

using nlohmann::json;

constexpr std::string_view kMetadataKey = "__metadata__";
constexpr const char* kKnownDtypes[] = {
    "BOOL", "U8",  "I8",  "I16", "U16", "F16",     "BF16",    "I32",     "U32",     "F32",
    "F64",  "I64", "U64", "C64", "F4",  "F8_E5M2", "F8_E4M3", "F8_E8M0", "F6_E2M3", "F6_E3M2"};
constexpr const char* kCorrupt = "The checkpoint is corrupt or truncated: use another copy";
// Shaders index with 32-bit signed integers (see Shape): the most elements a tensor may have.
constexpr uint64_t kMaxElements = (uint64_t{1} << 31) - 1;
// Messages quote at most this much of a JSON library message (which may echo the input).
constexpr size_t kMaxQuotedMessage = 160;

/// Longest prefix of `s` of at most `max` bytes that does not split a UTF-8 character.
size_t utf8_prefix(std::string_view s, size_t max) {
  if (s.size() <= max) return s.size();
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return n;
}

/// A char iterator that publishes how far the JSON lexer has read: nlohmann's SAX events carry
/// no positions, so the handler reads them from here.
class TrackedIterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;
  TrackedIterator(const char* p, const char** cursor) : p_(p), cursor_(cursor) {}
  reference operator*() const { return *p_; }
  TrackedIterator& operator++() {
    *cursor_ = ++p_;
    return *this;
  }
  TrackedIterator operator++(int) {
    TrackedIterator old = *this;
    ++*this;
    return old;
  }
  bool operator==(const TrackedIterator& o) const { return p_ == o.p_; }

 private:
  const char* p_;
  const char** cursor_;
};

enum class Level { kTop, kRoot, kEntry, kMetadata, kShape, kOffsets, kDone };
enum Field : unsigned { kNoField = 0, kDtype = 1, kShapeField = 2, kOffsetsField = 4 };

/// The entry being read: raw fields, checked when its object closes.
struct PendingEntry {
  unsigned seen = 0;
  Field field = kNoField;  // whose value comes next
  std::string dtype;
  std::array<uint64_t, kMaxRank> dims{};
  size_t rank = 0;  // may exceed kMaxRank; only the first kMaxRank extents are kept
  std::array<uint64_t, 2> offsets{};
  size_t offset_count = 0;
};

/// nlohmann SAX handler (the json_sax interface, duck-typed). Each event either advances the
/// state machine or throws FormatError; nothing is returned as false.
class HeaderHandler {
 public:
  HeaderHandler(const std::string& path, std::string_view text, uint64_t data_size,
                const char* const* cursor)
      : path_(path), text_(text), data_size_(data_size), cursor_(cursor) {}

  bool null() { return scalar(); }
  bool boolean(bool) { return scalar(); }
  bool number_integer(json::number_integer_t) { return scalar(); }
  bool number_unsigned(json::number_unsigned_t value);
  bool number_float(json::number_float_t, const json::string_t&) { return scalar(); }
  bool string(json::string_t& value);
  bool binary(json::binary_t&) { return scalar(); }  // the JSON lexer never produces these
  bool start_object(std::size_t);
  bool key(json::string_t& key);
  bool end_object();
  bool start_array(std::size_t);
  bool end_array();
  bool parse_error(std::size_t position, const std::string& token, const json::exception& ex);

  SafetensorsHeader finish();

 private:
  [[noreturn]] void fail(uint64_t offset, const std::string& problem,
                         const char* advice = kCorrupt) const {
    format_error(path_, offset, problem, advice);
  }
  [[noreturn]] void bad_entry(const std::string& what) const {
    fail(name_offset_, fmt::format("tensor {}: {}", quoted_excerpt(name_), what));
  }
  [[noreturn]] void bad_value() const;
  [[noreturn]] void nested(const char* kind) const;
  bool scalar() { bad_value(); }
  uint64_t key_offset() const;
  uint64_t bracket_offset() const { return 8 + static_cast<uint64_t>(*cursor_ - text_.data()) - 1; }
  void entry_key(const std::string& key);
  void finish_entry();
  Shape checked_shape() const;

  const std::string& path_;
  std::string_view text_;
  uint64_t data_size_;
  const char* const* cursor_;  // one past the last byte the lexer has read
  Level level_ = Level::kTop;
  bool seen_metadata_ = false;
  std::string name_;  // current root key (tensor name or "__metadata__")
  uint64_t name_offset_ = 8;
  std::string meta_key_;
  uint64_t meta_key_offset_ = 8;
  PendingEntry entry_;
  SafetensorsHeader out_;
};

/// The lexer has just read a key's closing quote: walk back to the opening quote (one preceded
/// by an even number of backslashes). Linear in the key's length.
uint64_t HeaderHandler::key_offset() const {
  size_t i = static_cast<size_t>(*cursor_ - text_.data());
  if (i > 0) --i;  // the closing quote
  while (i > 0) {
    --i;
    if (text_[i] != '"') continue;
    size_t backslashes = 0;
    while (backslashes < i && text_[i - 1 - backslashes] == '\\') ++backslashes;
    if (backslashes % 2 == 0) return 8 + i;
  }
  return 8;
}

/// A value of the wrong kind for where it appears (also the scalar cases of start_*).
void HeaderHandler::bad_value() const {
  switch (level_) {
    case Level::kTop:
      fail(8, "the JSON header is not an object");
    case Level::kRoot:
      if (name_ == kMetadataKey) fail(name_offset_, "\"__metadata__\" is not a JSON object");
      bad_entry("its entry is not a JSON object");
    case Level::kEntry:
      if (entry_.field == kDtype) bad_entry("dtype is not a string");
      if (entry_.field == kShapeField) bad_entry("shape is not an array");
      bad_entry("data_offsets is not a pair [begin, end] of unsigned integers");
    case Level::kMetadata:
      fail(meta_key_offset_,
           fmt::format("\"__metadata__\" value for {} is not a string", quoted_excerpt(meta_key_)));
    case Level::kShape:
      bad_entry("shape holds a non-integer or negative extent");
    case Level::kOffsets:
      bad_entry("data_offsets is not a pair [begin, end] of unsigned integers");
    case Level::kDone:
      break;
  }
  fail(8, "the JSON header has a value after its end");
}

/// An array or object where the format has only numbers: reported where it starts.
void HeaderHandler::nested(const char* kind) const {
  const char* field = level_ == Level::kShape ? "shape" : "data_offsets";
  fail(bracket_offset(),
       fmt::format("tensor {}: {} holds a nested {}; expected {}", quoted_excerpt(name_), field,
                   kind,
                   level_ == Level::kShape ? "unsigned integer extents"
                                           : "a pair [begin, end] of unsigned integers"));
}

bool HeaderHandler::number_unsigned(json::number_unsigned_t value) {
  if (level_ == Level::kShape) {
    if (entry_.rank < kMaxRank) entry_.dims[entry_.rank] = value;
    ++entry_.rank;
    return true;
  }
  if (level_ == Level::kOffsets) {
    if (entry_.offset_count < 2) entry_.offsets[entry_.offset_count] = value;
    ++entry_.offset_count;
    return true;
  }
  return scalar();
}

bool HeaderHandler::string(json::string_t& value) {
  if (level_ == Level::kEntry && entry_.field == kDtype) {
    entry_.dtype = std::move(value);
    return true;
  }
  if (level_ == Level::kMetadata) {
    out_.metadata.emplace(std::move(meta_key_), std::move(value));
    return true;
  }
  return scalar();
}

bool HeaderHandler::start_object(std::size_t) {
  if (level_ == Level::kTop) {
    level_ = Level::kRoot;
    return true;
  }
  if (level_ == Level::kRoot) {
    level_ = name_ == kMetadataKey ? Level::kMetadata : Level::kEntry;
    entry_ = PendingEntry{};
    return true;
  }
  if (level_ == Level::kShape || level_ == Level::kOffsets) nested("object");
  return scalar();
}

bool HeaderHandler::start_array(std::size_t) {
  if (level_ == Level::kEntry && entry_.field == kShapeField) {
    level_ = Level::kShape;
    return true;
  }
  if (level_ == Level::kEntry && entry_.field == kOffsetsField) {
    level_ = Level::kOffsets;
    return true;
  }
  if (level_ == Level::kShape || level_ == Level::kOffsets) nested("array");
  return scalar();
}

bool HeaderHandler::key(json::string_t& key) {
  const uint64_t at = key_offset();
  if (level_ == Level::kRoot) {
    if (key == kMetadataKey) {
      if (seen_metadata_)
        fail(at, "the JSON header has the key \"__metadata__\" twice in one object");
      seen_metadata_ = true;
    }
    name_ = std::move(key);
    name_offset_ = at;
  } else if (level_ == Level::kMetadata) {
    if (out_.metadata.count(key)) {
      fail(at,
           fmt::format("the JSON header has the key {} twice in one object", quoted_excerpt(key)));
    }
    meta_key_ = std::move(key);
    meta_key_offset_ = at;
  } else {
    entry_key(key);
  }
  return true;
}

void HeaderHandler::entry_key(const std::string& key) {
  Field f = key == "dtype"          ? kDtype
            : key == "shape"        ? kShapeField
            : key == "data_offsets" ? kOffsetsField
                                    : kNoField;
  if (f == kNoField) {
    bad_entry(fmt::format("unexpected field {} (expected dtype, shape, data_offsets)",
                          quoted_excerpt(key)));
  }
  if (entry_.seen & f) {
    fail(key_offset(),
         fmt::format("the JSON header has the key \"{}\" twice in one object (tensor {})", key,
                     quoted_excerpt(name_)));
  }
  entry_.seen |= f;
  entry_.field = f;
}

bool HeaderHandler::end_object() {
  if (level_ == Level::kEntry) {
    finish_entry();
    level_ = Level::kRoot;
  } else if (level_ == Level::kMetadata) {
    level_ = Level::kRoot;
  } else {
    level_ = Level::kDone;
  }
  return true;
}

bool HeaderHandler::end_array() {
  if (level_ == Level::kShape && entry_.rank > static_cast<size_t>(kMaxRank)) {
    bad_entry(fmt::format("shape has rank {}; descent arrays have at most {} axes", entry_.rank,
                          kMaxRank));
  }
  if (level_ == Level::kOffsets && entry_.offset_count != 2)
    bad_entry("data_offsets is not a pair [begin, end] of unsigned integers");
  level_ = Level::kEntry;
  return true;
}

bool HeaderHandler::parse_error(std::size_t position, const std::string& token,
                                const json::exception& ex) {
  // Where the parser stopped; for an overflowing number (406), where the number starts.
  uint64_t at = position > 0 ? position - 1 : 0;
  if (ex.id == 406 && token.size() <= position) at = position - token.size();
  at = std::min<uint64_t>(at, text_.size());
  std::string_view why = ex.what();
  if (size_t cut = why.find("] "); cut != std::string_view::npos) why.remove_prefix(cut + 2);
  size_t n = utf8_prefix(why, kMaxQuotedMessage);
  fail(8 + at, fmt::format("the JSON header does not parse: {}{}", why.substr(0, n),
                           n < why.size() ? "..." : ""));
}

/// The entry's object has closed: all three fields, F32, a valid shape, a matching byte range.
void HeaderHandler::finish_entry() {
  if (entry_.seen != (kDtype | kShapeField | kOffsetsField))
    bad_entry("missing one of the fields dtype, shape, data_offsets");
  const std::string& d = entry_.dtype;
  if (d != "F32") {
    bool known = std::find_if(std::begin(kKnownDtypes), std::end(kKnownDtypes),
                              [&](const char* k) { return d == k; }) != std::end(kKnownDtypes);
    fail(name_offset_,
         fmt::format("tensor {} has {} dtype {}; descent loads F32 only", quoted_excerpt(name_),
                     known ? "the" : "the unknown", quoted_excerpt(d)),
         "Convert the tensors to float32 before saving (e.g. {k: v.float() for k, v in "
         "sd.items()})");
  }
  Shape shape = checked_shape();
  const uint64_t begin = entry_.offsets[0], end = entry_.offsets[1];
  if (begin > end)
    bad_entry(fmt::format("data_offsets [{}, {}] end before they begin", begin, end));
  const uint64_t bytes = static_cast<uint64_t>(shape.element_count()) * 4;
  if (end - begin != bytes) {
    bad_entry(fmt::format("shape {} needs {} bytes of F32 data but data_offsets [{}, {}] span {}",
                          shape.str(), bytes, begin, end, end - begin));
  }
  if (end > data_size_) {
    const uint64_t data_start = 8 + text_.size();
    fail(data_start + std::min(begin, data_size_),
         fmt::format("tensor {} has data_offsets [{}, {}] but the data section (from byte {}) "
                     "holds only {} bytes",
                     quoted_excerpt(name_), begin, end, data_start, data_size_));
  }
  out_.entries.push_back(SafetensorsEntry{std::move(name_), shape, begin, end, name_offset_});
}

/// Extents >= 1 whose product fits a descent array; rank <= kMaxRank was checked at the ']'.
Shape HeaderHandler::checked_shape() const {
  const auto first = entry_.dims.begin(), last = first + static_cast<std::ptrdiff_t>(entry_.rank);
  const std::string str = fmt::format("[{}]", fmt::join(first, last, ", "));
  // count <= 2^31 - 1 (checked per step) keeps count * extent below 2^62.
  uint64_t count = 1;
  for (auto it = first; it != last; ++it) {
    if (*it == 0) {
      fail(name_offset_,
           fmt::format("tensor {} has shape {} with no elements", quoted_excerpt(name_), str),
           "descent arrays have no empty extents: drop the tensor before saving");
    }
    if (*it > kMaxElements || count * *it > kMaxElements) {
      bad_entry(
          fmt::format("shape {} has more than 2^31-1 elements, the most a descent array "
                      "holds",
                      str));
    }
    count *= *it;
  }
  return Shape(std::vector<int64_t>(first, last));
}

/// Names must be unique. Sorting is O(n log n); of equal names the later one is reported, and
/// of several duplicated names the one whose second copy comes first.
SafetensorsHeader HeaderHandler::finish() {
  if (level_ != Level::kDone) fail(8 + text_.size(), "the JSON header ends inside its object");
  const auto& entries = out_.entries;
  std::vector<size_t> order(entries.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return entries[a].name != entries[b].name ? entries[a].name < entries[b].name : a < b;
  });
  const SafetensorsEntry* duplicate = nullptr;
  for (size_t i = 1; i < order.size(); ++i) {
    const SafetensorsEntry& e = entries[order[i]];
    if (e.name == entries[order[i - 1]].name &&
        (!duplicate || e.name_offset < duplicate->name_offset))
      duplicate = &e;
  }
  if (duplicate) {
    fail(duplicate->name_offset, fmt::format("the JSON header has the key {} twice in one object",
                                             quoted_excerpt(duplicate->name)));
  }
  return std::move(out_);
}

}  // namespace

std::string quoted_excerpt(std::string_view s) {
  constexpr size_t kMax = 64;
  const size_t n = utf8_prefix(s, kMax);
  std::string out = "\"";
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  if (n < s.size())
    out += fmt::format("...\" ({} bytes)", s.size());
  else
    out += "\"";
  return out;
}

SafetensorsHeader parse_safetensors_header(const std::string& path, std::string_view text,
                                           uint64_t data_size) {
  // nlohmann's lexer takes a NUL byte for the end of the input; a valid header holds none.
  if (const void* nul = std::memchr(text.data(), 0, text.size())) {
    format_error(path, 8 + static_cast<uint64_t>(static_cast<const char*>(nul) - text.data()),
                 "the JSON header does not parse: it holds a NUL byte", kCorrupt);
  }
  const char* cursor = text.data();
  HeaderHandler handler(path, text, data_size, &cursor);
  bool complete = false;
  try {
    complete = json::sax_parse(TrackedIterator(text.data(), &cursor),
                               TrackedIterator(text.data() + text.size(), &cursor), &handler);
  } catch (const json::exception& e) {
    // The SAX path reports errors through parse_error(); this is a second line of defence so
    // that no JSON library exception type can leave the loader.
    std::string_view why = e.what();
    format_error(path, 8 + static_cast<uint64_t>(cursor - text.data()),
                 fmt::format("the JSON header does not parse: {}",
                             why.substr(0, utf8_prefix(why, kMaxQuotedMessage))),
                 kCorrupt);
  }
  if (!complete) format_error(path, 8, "the JSON header does not parse", kCorrupt);
  return handler.finish();
}

}  // namespace descent::detail
