// The JSON header of a safetensors file, parsed and checked in one streaming pass (no JSON tree,
// no recursion): entries, metadata and every per-entry rule. Used by safetensors.cpp, which does
// the file reading and the layout checks across entries. Must not read the file or allocate
// more than a small multiple of the header text.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "descent/shape.hpp"

namespace descent::detail {

/// One tensor entry; its rules (F32, extents, byte count, inside the data section) hold.
struct SafetensorsEntry {
  std::string name;
  Shape shape;
  uint64_t begin = 0, end = 0;  // byte range relative to the start of the data section
  uint64_t name_offset = 0;     // file offset of the entry's quoted name, for messages
};

struct SafetensorsHeader {
  std::vector<SafetensorsEntry> entries;  // in header order; names are unique
  std::map<std::string, std::string> metadata;
};

/// Parses `text`, the header of `path` (file bytes 8 .. 8 + text.size()), whose data section
/// holds `data_size` bytes. Every problem is a FormatError with the file offset; nesting deeper
/// than the format's three levels is rejected where it starts. Time O(n log n) in the entries.
SafetensorsHeader parse_safetensors_header(const std::string& path, std::string_view text,
                                           uint64_t data_size);

/// `s` in double quotes for a message: at most 64 bytes of it (cut at a UTF-8 character
/// boundary, "..." appended), control bytes written as \xNN.
std::string quoted_excerpt(std::string_view s);

}  // namespace descent::detail
