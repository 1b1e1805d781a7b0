// libFuzzer target: GzipReader on arbitrary bytes, read in pieces whose sizes come from the
// input, checking the reader's contract: never more than asked, a short read only at the end
// (and nothing after it). Only FormatError and OutOfMemoryError may come out.
#include <cstdlib>
#include <vector>

#include "descent/errors.hpp"
#include "io/gzip.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t piece = size_t{1} + (data[0] % 64) * 97;  // 1 .. 6112 bytes per read
  std::span<const uint8_t> in(data + 1, size - 1);
  try {
    descent::detail::GzipReader reader("fuzz.gz", in);
    std::vector<uint8_t> out(piece);
    uint64_t total = 0;
    for (;;) {
      size_t got = reader.read(out.data(), piece);
      if (got > piece) std::abort();
      total += got;
      if (got < piece) break;
      if (total > (uint64_t{64} << 20)) return 0;  // a long stream: enough of it checked
    }
    if (reader.read(out.data(), piece) != 0) std::abort();
  } catch (const descent::FormatError&) {
  } catch (const descent::OutOfMemoryError&) {
  }
  return 0;
}
