// libFuzzer target: a whole safetensors file (length, JSON header, data) into load_safetensors.
// Only descent::Error may come out; a file that loads must hold what its shapes say. Any other
// exception, crash or sanitizer report is a finding.
#include <cstring>

#include "descent/io.hpp"
#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static descent::fuzz::MemFile file("fuzz_safetensors");
  const std::string& path = file.hold(data, size);
  try {
    std::map<std::string, std::string> metadata;
    auto tensors = descent::load_safetensors(path, &metadata);
    uint64_t bytes = 0;
    for (const auto& t : tensors) {
      if (static_cast<int64_t>(t.data.size()) != t.shape.element_count()) std::abort();
      bytes += 4 * t.data.size();
    }
    if (size < 8 || bytes > size) std::abort();  // the data came from the file
  } catch (const descent::Error&) {
  }
  return 0;
}
