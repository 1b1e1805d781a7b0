// IDX reader and writer (MNIST / Fashion-MNIST files; format in include/descent/io.hpp).
// Reading order: magic, extents, size checks, then the payload. No allocation is sized by the
// header alone: plain files are checked against their real size first; a gzip stream is first
// decompressed into a small scratch buffer to check that it holds exactly what the header
// promises, and only then is the payload allocated (once) and decompressed again. Host code only.
#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <span>

#include "descent/io.hpp"
#include "io/file.hpp"
#include "io/gzip.hpp"
#include "util/assert.hpp"

namespace descent {

namespace {

using detail::format_error;

constexpr int kIdxTypeU8 = 0x08;
constexpr int kMaxIdxRank = kMaxRank;
// Scratch buffer of the checking pass over a gzip stream.
constexpr uint64_t kScratchBytes = uint64_t{256} << 10;

const char* type_name(int code) {
  switch (code) {
    case 0x08:
      return "unsigned byte";
    case 0x09:
      return "signed byte";
    case 0x0B:
      return "int16";
    case 0x0C:
      return "int32";
    case 0x0D:
      return "float32";
    case 0x0E:
      return "float64";
    default:
      return "unknown type";
  }
}

/// The decompressed bytes of an IDX file, plain or gzip, read front to back.
class IdxSource {
 public:
  explicit IdxSource(const std::string& path)
      : file_(path, "check the path; descent's tools/fetch-data.sh downloads Fashion-MNIST") {
    uint8_t head[2] = {0, 0};
    if (file_.size() >= 2) file_.read_at(0, head, 2);
    if (detail::is_gzip(head)) {
      compressed_ = file_.read_all();
      gzip_.emplace(path, compressed_);
    }
  }
  bool gzip() const { return gzip_.has_value(); }
  /// Starts decompressing again from the first byte (gzip only).
  void restart() {
    gzip_.emplace(file_.path(), compressed_);
    offset_ = 0;
  }
  /// Bytes left in a plain file (unknown before decompression for gzip).
  uint64_t plain_remaining() const { return file_.size() - offset_; }
  uint64_t offset() const { return offset_; }

  size_t read(uint8_t* dst, size_t n) {
    size_t got = n;
    if (gzip_) {
      got = gzip_->read(dst, n);
    } else {
      got = static_cast<size_t>(std::min<uint64_t>(n, plain_remaining()));
      file_.read_at(offset_, dst, got);
    }
    offset_ += got;
    return got;
  }

 private:
  detail::InputFile file_;
  std::vector<uint8_t> compressed_;
  std::optional<detail::GzipReader> gzip_;
  uint64_t offset_ = 0;
};

std::string dims_str(const std::vector<int64_t>& dims) {
  return fmt::format("[{}]", fmt::join(dims, ", "));
}

const char* kind_name(int rank) {
  return rank == 3 ? "IDX images: count, rows, cols" : rank == 1 ? "IDX labels: count" : "IDX";
}

/// Reads and checks magic and extents; `want_rank` 0 accepts any rank. Returns the extents.
std::vector<int64_t> read_header(IdxSource& src, const std::string& path, int want_rank) {
  const std::string where = src.gzip() ? " (offsets count decompressed bytes)" : "";
  uint8_t magic[4];
  size_t got = src.read(magic, 4);
  if (got < 4) {
    format_error(path, got,
                 fmt::format("the data ends after {} bytes, inside the 4-byte IDX magic number{}",
                             got, where),
                 "The file is empty or truncated: delete it and download it again");
  }
  uint32_t m = (uint32_t{magic[0]} << 24) | (uint32_t{magic[1]} << 16) | (magic[2] << 8) | magic[3];
  if (magic[0] != 0 || magic[1] != 0) {
    format_error(
        path, 0,
        fmt::format("expected an IDX magic number 0x0000TTRR (two zero bytes, type, "
                    "rank) but found 0x{:08x}{}",
                    m, where),
        "This is not an IDX file (or a gzip file whose header is damaged): check the path");
  }
  if (magic[2] != kIdxTypeU8) {
    format_error(path, 2,
                 fmt::format("IDX type code 0x{:02x} ({}) is not supported; expected 0x08 "
                             "(unsigned byte)",
                             magic[2], type_name(magic[2])),
                 "descent reads unsigned-byte IDX files only: convert the data to bytes");
  }
  int rank = magic[3];
  if (want_rank > 0 && rank != want_rank) {
    format_error(path, 0,
                 fmt::format("expected magic 0x0000080{} ({}) but found 0x{:08x} (rank {})",
                             want_rank, kind_name(want_rank), m, rank),
                 "Check that images and labels files were not swapped");
  }
  if (rank < 1 || rank > kMaxIdxRank) {
    format_error(path, 3, fmt::format("IDX rank {} is outside 1..{}", rank, kMaxIdxRank),
                 "The file is corrupt or not an IDX file");
  }
  uint8_t raw[4 * kMaxIdxRank];
  got = src.read(raw, static_cast<size_t>(4 * rank));
  if (got < static_cast<size_t>(4 * rank)) {
    format_error(path, 4 + got,
                 fmt::format("the data ends inside the header: expected {} big-endian 4-byte "
                             "extents after the magic{}",
                             rank, where),
                 "The file is truncated: delete it and download it again");
  }
  std::vector<int64_t> dims(static_cast<size_t>(rank));
  int64_t product = 1;
  for (int i = 0; i < rank; ++i) {
    const uint8_t* b = raw + 4 * i;
    dims[i] = (int64_t{b[0]} << 24) | (int64_t{b[1]} << 16) | (int64_t{b[2]} << 8) | b[3];
    if (i > 0 && dims[i] == 0) {
      format_error(path, 4 + 4 * i,
                   fmt::format("extent {} of {} is 0; only the first extent "
                               "(the count) may be 0",
                               i, dims_str(dims)),
                   "The file is corrupt");
    }
    // Each extent < 2^32 and the running product <= 2^31 (checked below), so this cannot overflow.
    product *= dims[i];
    if (product > kMaxIdxBytes) {
      format_error(path, 4 + 4 * i,
                   fmt::format("the extents {} (so far) describe more than {} bytes, the most "
                               "descent reads from one IDX file",
                               dims_str(dims), kMaxIdxBytes),
                   "The count or size fields are corrupt, or the file is not meant for descent");
    }
  }
  return dims;
}

/// gzip: checks that the stream decompresses to exactly `payload` bytes after the header
/// (into a scratch buffer: a stream that disagrees with its header, such as a gzip bomb, costs
/// no allocation), then allocates the payload once and decompresses the stream again into it.
/// Twice the inflate time buys memory use of exactly the payload.
void read_gzip_payload(IdxSource& src, const std::string& path, uint64_t payload,
                       const std::string& extents, std::vector<uint8_t>& data) {
  const uint64_t header = src.offset();
  std::vector<uint8_t> scratch(static_cast<size_t>(std::min(payload + 1, kScratchBytes)));
  uint64_t seen = 0;
  for (;;) {
    const size_t got = src.read(scratch.data(), scratch.size());
    seen += got;
    if (seen > payload) {
      format_error(path, header + payload,
                   fmt::format("unexpected bytes follow the {} data bytes of extents {} "
                               "(offsets count decompressed bytes)",
                               payload, extents),
                   "The counts in the header disagree with the data: the file is corrupt");
    }
    if (got < scratch.size()) break;  // the stream ended, its CRCs and lengths checked
  }
  if (seen < payload) {
    format_error(path, header + seen,
                 fmt::format("the decompressed data ends after {} of the {} data bytes the "
                             "extents {} need",
                             seen, payload, extents),
                 "The counts in the header disagree with the data: the file is corrupt");
  }
  src.restart();
  uint8_t skipped[4 + 4 * kMaxIdxRank];
  src.read(skipped, static_cast<size_t>(header));
  detail::allocate(data, payload, path);
  for (uint64_t have = 0; have < payload;) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(payload - have, uint64_t{1} << 30));
    const size_t got = src.read(data.data() + have, want);
    DESCENT_ASSERT(got == want, "the second pass over a checked gzip stream came up short");
    have += got;
  }
}

IdxArray read_idx_checked(const std::string& path, int want_rank) {
  IdxSource src(path);
  IdxArray out;
  out.dims = read_header(src, path, want_rank);
  const uint64_t header = src.offset();
  uint64_t payload = 1;
  for (int64_t d : out.dims) payload *= static_cast<uint64_t>(d);
  const std::string extents = dims_str(out.dims);
  if (src.gzip()) {
    read_gzip_payload(src, path, payload, extents, out.data);
    return out;
  }
  // Plain file: its size is known, so compare before allocating anything.
  uint64_t avail = src.plain_remaining();
  if (avail < payload) {
    format_error(path, header + avail,
                 fmt::format("the file ends after {} data bytes but the extents {} need {}", avail,
                             extents, payload),
                 "The file is truncated or its header is corrupt: download it again");
  }
  if (avail > payload) {
    format_error(path, header + payload,
                 fmt::format("{} unexpected bytes follow the {} data bytes of extents {}",
                             avail - payload, payload, extents),
                 "The counts in the header disagree with the file size: the file is corrupt");
  }
  detail::allocate(out.data, payload, path);
  src.read(out.data.data(), static_cast<size_t>(payload));
  return out;
}

bool ends_with_gz(const std::string& path) {
  return path.size() >= 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
}

}  // namespace

IdxArray read_idx(const std::string& path) {
  return detail::map_bad_alloc(path, [&] { return read_idx_checked(path, 0); });
}

ImageSet read_idx_images(const std::string& path) {
  IdxArray a = detail::map_bad_alloc(path, [&] { return read_idx_checked(path, 3); });
  return ImageSet{a.dims[0], a.dims[1], a.dims[2], std::move(a.data)};
}

std::vector<uint8_t> read_idx_labels(const std::string& path, int num_classes) {
  if (num_classes < 1 || num_classes > 256) {
    throw UsageError(fmt::format("read_idx_labels: num_classes {} is outside 1..256", num_classes));
  }
  IdxArray a = detail::map_bad_alloc(path, [&] { return read_idx_checked(path, 1); });
  for (size_t i = 0; i < a.data.size(); ++i) {
    if (a.data[i] >= num_classes) {
      format_error(path, 8 + i,
                   fmt::format("label {} of sample {} is not below the {} classes expected",
                               a.data[i], i, num_classes),
                   "The labels file is corrupt or belongs to another dataset");
    }
  }
  return std::move(a.data);
}

namespace {

/// Shared by the three writers, so none of them copies the payload before compressing.
void write_idx_bytes(const std::string& path, const std::vector<int64_t>& dims,
                     std::span<const uint8_t> data) {
  const size_t rank = dims.size();
  if (rank < 1 || rank > static_cast<size_t>(kMaxIdxRank)) {
    throw UsageError(
        fmt::format("write_idx '{}': rank {} is outside 1..{}", path, rank, kMaxIdxRank));
  }
  uint64_t product = 1;
  std::vector<uint8_t> bytes = {0, 0, kIdxTypeU8, static_cast<uint8_t>(rank)};
  for (size_t i = 0; i < rank; ++i) {
    int64_t d = dims[i];
    if (d < (i == 0 ? 0 : 1) || d > int64_t{0xffffffff}) {
      throw UsageError(fmt::format("write_idx '{}': extent {} of {} is outside {}..2^32-1", path, i,
                                   dims_str(dims), i == 0 ? 0 : 1));
    }
    product *= static_cast<uint64_t>(d);
    if (product > static_cast<uint64_t>(kMaxIdxBytes)) {
      throw UsageError(fmt::format("write_idx '{}': extents {} exceed the {} bytes readers accept",
                                   path, dims_str(dims), kMaxIdxBytes));
    }
    for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<uint8_t>(d >> shift));
  }
  if (product != data.size()) {
    throw UsageError(fmt::format("write_idx '{}': extents {} need {} bytes but {} were given", path,
                                 dims_str(dims), product, data.size()));
  }
  bytes.insert(bytes.end(), data.begin(), data.end());
  if (ends_with_gz(path)) bytes = detail::gzip_compress(bytes);
  detail::AtomicFile file(path);
  file.write(bytes.data(), bytes.size());
  file.commit();
}

}  // namespace

void write_idx(const std::string& path, const IdxArray& array) {
  write_idx_bytes(path, array.dims, array.data);
}

void write_idx_images(const std::string& path, const ImageSet& images) {
  if (images.rows < 1 || images.cols < 1) {
    throw UsageError(fmt::format("write_idx_images '{}': rows {} and cols {} must be >= 1", path,
                                 images.rows, images.cols));
  }
  write_idx_bytes(path, {images.count, images.rows, images.cols}, images.pixels);
}

void write_idx_labels(const std::string& path, const std::vector<uint8_t>& labels) {
  write_idx_bytes(path, {static_cast<int64_t>(labels.size())}, labels);
}

}  // namespace descent
