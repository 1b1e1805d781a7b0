// libFuzzer target: an IDX file, plain or gzip (the magic decides), through all three readers.
// Only descent::Error may come out; what loads must match its header's extents.
#include <cstdlib>

#include "descent/io.hpp"
#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static descent::fuzz::MemFile file("fuzz_idx");
  const std::string& path = file.hold(data, size);
  try {
    descent::IdxArray a = descent::read_idx(path);
    uint64_t product = 1;
    for (int64_t d : a.dims) product *= static_cast<uint64_t>(d);
    if (a.dims.empty() || a.dims.size() > 8 || product != a.data.size()) std::abort();
  } catch (const descent::Error&) {
  }
  try {
    descent::ImageSet s = descent::read_idx_images(path);
    if (static_cast<uint64_t>(s.count * s.rows * s.cols) != s.pixels.size()) std::abort();
  } catch (const descent::Error&) {
  }
  try {
    for (uint8_t label : descent::read_idx_labels(path, 10))
      if (label >= 10) std::abort();
  } catch (const descent::Error&) {
  }
  return 0;
}
