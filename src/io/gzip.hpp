// gzip for src/io: streaming decompression of an in-memory gzip file with strict end checks
// (truncation, CRC, trailing garbage), and deterministic compression for the writers.
// Knows nothing about IDX; the caller decides how many bytes it expects, so a corrupt size field
// can never make this code allocate: it only fills buffers the caller owns.
#pragma once
#include <zlib.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace descent::detail {

/// True when the bytes start with the gzip magic 1f 8b.
bool is_gzip(std::span<const uint8_t> bytes);

/// Level-6 gzip of `data` with a zero timestamp: the same input gives the same bytes.
std::vector<uint8_t> gzip_compress(std::span<const uint8_t> data);

/// Decompresses one or more concatenated gzip members (as gunzip does). `compressed` must
/// outlive the reader. Errors are FormatErrors at an offset into the compressed file.
class GzipReader {
 public:
  GzipReader(std::string path, std::span<const uint8_t> compressed);
  ~GzipReader();
  GzipReader(const GzipReader&) = delete;
  GzipReader& operator=(const GzipReader&) = delete;

  /// Fills up to n bytes of dst; returns fewer only when the data has ended, and then only after
  /// the last member's CRC and length were checked and no stray bytes follow it.
  size_t read(uint8_t* dst, size_t n);

 private:
  uint64_t consumed() const { return fed_ - stream_.avail_in; }
  void start_next_member();
  std::string path_;
  std::span<const uint8_t> in_;
  z_stream stream_{};
  uint64_t fed_ = 0;           // compressed bytes handed to zlib so far
  bool member_ended_ = false;  // zlib reported Z_STREAM_END for the current member
  bool finished_ = false;      // the file ended cleanly after a member
};

}  // namespace descent::detail
