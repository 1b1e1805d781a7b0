// libFuzzer target, differential: the input is a plain IDX file; it is read as given and again
// after gzip compression (descent's writer). Both reads must agree: the same extents and bytes,
// or both a FormatError. Mutations thereby reach the gzip reading path with meaningful content.
#include <cstdlib>

#include "descent/io.hpp"
#include "fuzz_util.hpp"
#include "io/gzip.hpp"

namespace {

/// The array, or no dims when the read failed with FormatError.
descent::IdxArray read_or_empty(const std::string& path) {
  try {
    return descent::read_idx(path);
  } catch (const descent::FormatError&) {
    return {};
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A plain input starting with the gzip magic would be read as gzip: not this target's case.
  if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b) return 0;
  static descent::fuzz::MemFile plain("fuzz_idx_plain"), packed("fuzz_idx_gz");
  descent::IdxArray a = read_or_empty(plain.hold(data, size));
  std::vector<uint8_t> gz = descent::detail::gzip_compress({data, size});
  descent::IdxArray b = read_or_empty(packed.hold(gz.data(), gz.size()));
  if (a.dims != b.dims || a.data != b.data) std::abort();
  return 0;
}
