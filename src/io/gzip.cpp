// zlib-backed gzip reading and writing for the IDX files (see gzip.hpp). Every zlib return code
// is handled: truncation, corrupt data, bad CRC and trailing bytes become FormatErrors naming
// the compressed byte offset. Must not allocate based on sizes stored in the data.
#include "io/gzip.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "descent/errors.hpp"
#include "io/file.hpp"

namespace descent::detail {

namespace {
// zlib counts in 32-bit uInt; larger buffers are handed over in pieces of this size.
constexpr uint64_t kMaxZlibChunk = uint64_t{1} << 30;
constexpr const char* kRedownload =
    "The file is damaged: delete it and download it again (tools/fetch-data.sh)";
}  // namespace

bool is_gzip(std::span<const uint8_t> bytes) {
  return bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
}

std::vector<uint8_t> gzip_compress(std::span<const uint8_t> data) {
  z_stream s{};
  // windowBits 15 + 16 selects the gzip wrapper; zlib writes mtime 0 and no file name.
  if (deflateInit2(&s, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw Error("zlib deflateInit2 failed (out of memory?)");
  }
  std::vector<uint8_t> out(
      deflateBound(&s, static_cast<uLong>(std::min<uint64_t>(data.size(), kMaxZlibChunk))) + 64);
  uint64_t fed = 0;
  int ret = Z_OK;
  while (ret != Z_STREAM_END) {
    if (s.avail_in == 0 && fed < data.size()) {
      uint64_t piece = std::min<uint64_t>(data.size() - fed, kMaxZlibChunk);
      s.next_in = const_cast<Bytef*>(data.data() + fed);
      s.avail_in = static_cast<uInt>(piece);
      fed += piece;
    }
    if (s.total_out == out.size()) out.resize(out.size() * 2);
    s.next_out = out.data() + s.total_out;
    s.avail_out = static_cast<uInt>(std::min<uint64_t>(out.size() - s.total_out, kMaxZlibChunk));
    ret = deflate(&s, fed == data.size() ? Z_FINISH : Z_NO_FLUSH);
    if (ret != Z_OK && ret != Z_STREAM_END && ret != Z_BUF_ERROR) {
      deflateEnd(&s);
      throw Error(fmt::format("zlib deflate failed with code {}", ret));
    }
  }
  out.resize(s.total_out);
  deflateEnd(&s);
  return out;
}

GzipReader::GzipReader(std::string path, std::span<const uint8_t> compressed)
    : path_(std::move(path)), in_(compressed) {
  if (inflateInit2(&stream_, 15 + 16) != Z_OK) {
    throw Error("zlib inflateInit2 failed (out of memory?)");
  }
}

GzipReader::~GzipReader() { inflateEnd(&stream_); }

void GzipReader::start_next_member() {
  uint64_t at = consumed();
  if (at == in_.size()) {
    finished_ = true;
    return;
  }
  if (!is_gzip(in_.subspan(at))) {
    format_error(path_, at,
                 fmt::format("{} stray bytes follow the end of the gzip stream (expected the end "
                             "of the file or another gzip member starting 1f 8b; offset in the "
                             "compressed file)",
                             in_.size() - at),
                 kRedownload);
  }
  inflateReset(&stream_);
  member_ended_ = false;
}

size_t GzipReader::read(uint8_t* dst, size_t n) {
  size_t done = 0;
  while (done < n && !finished_) {
    if (member_ended_) {
      start_next_member();
      continue;
    }
    if (stream_.avail_in == 0 && fed_ < in_.size()) {
      uint64_t piece = std::min<uint64_t>(in_.size() - fed_, kMaxZlibChunk);
      stream_.next_in = const_cast<Bytef*>(in_.data() + fed_);
      stream_.avail_in = static_cast<uInt>(piece);
      fed_ += piece;
    }
    stream_.next_out = dst + done;
    stream_.avail_out = static_cast<uInt>(std::min<uint64_t>(n - done, kMaxZlibChunk));
    uInt before = stream_.avail_out;
    int ret = inflate(&stream_, Z_NO_FLUSH);
    done += before - stream_.avail_out;
    switch (ret) {
      case Z_OK:
        break;
      case Z_STREAM_END:  // zlib has checked this member's CRC-32 and length
        member_ended_ = true;
        break;
      case Z_BUF_ERROR:  // no progress possible: with output space left, the input ran out
        format_error(path_, in_.size(),
                     "the gzip stream is truncated (the compressed file ends before the deflate "
                     "data and its 8-byte CRC/length trailer are complete)",
                     kRedownload);
      case Z_DATA_ERROR:
        format_error(path_, consumed(),
                     fmt::format("corrupt gzip data ({}; offset in the compressed file)",
                                 stream_.msg ? stream_.msg : "no detail"),
                     kRedownload);
      case Z_MEM_ERROR:
        throw OutOfMemoryError(fmt::format("zlib ran out of memory decompressing '{}'", path_), 0);
      default:
        throw Error(fmt::format("zlib inflate of '{}' failed with code {}", path_, ret));
    }
  }
  return done;
}

}  // namespace descent::detail
