// libFuzzer target for the safetensors header: the input is [2-byte little-endian data size]
// [JSON header]; the target adds the 8-byte length and a data section of that many bytes, so
// mutations go into the JSON. A file that loads is saved again and must load back the same.
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "descent/io.hpp"
#include "fuzz_util.hpp"

namespace {

std::string scratch_path() {
  static const std::string path = [] {
    std::string dir = std::filesystem::temp_directory_path().string() + "/descent-fuzz-XXXXXX";
    if (!::mkdtemp(dir.data())) std::abort();
    return dir + "/roundtrip.safetensors";
  }();
  return path;
}

void check_round_trip(const std::vector<descent::TensorRecord>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  const std::string path = scratch_path();
  descent::save_safetensors(path, tensors, metadata);
  std::map<std::string, std::string> meta2;
  auto back = descent::load_safetensors(path, &meta2);
  if (back.size() != tensors.size() || meta2 != metadata) std::abort();
  for (size_t i = 0; i < back.size(); ++i) {
    if (back[i].name != tensors[i].name || back[i].shape != tensors[i].shape ||
        std::memcmp(back[i].data.data(), tensors[i].data.data(), 4 * back[i].data.size()) != 0)
      std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t data_size = data[0] | (size_t{data[1]} << 8);
  const size_t header = size - 2;
  std::vector<uint8_t> file(8 + header + data_size);
  for (int i = 0; i < 8; ++i) file[i] = static_cast<uint8_t>(uint64_t{header} >> (8 * i));
  std::memcpy(file.data() + 8, data + 2, header);
  for (size_t i = 0; i < data_size; ++i) file[8 + header + i] = static_cast<uint8_t>(i * 37);
  static descent::fuzz::MemFile mem("fuzz_safetensors_header");
  std::vector<descent::TensorRecord> tensors;
  std::map<std::string, std::string> metadata;
  try {
    tensors = descent::load_safetensors(mem.hold(file.data(), file.size()), &metadata);
  } catch (const descent::Error&) {
    return 0;
  }
  // save_safetensors refuses empty names (loading accepts them, as the format does); every other
  // name it refuses (reserved, duplicate, not UTF-8) a loaded file cannot hold.
  for (const auto& t : tensors)
    if (t.name.empty()) return 0;
  check_round_trip(tensors, metadata);
  return 0;
}
