// Dataset and checkpoint files: IDX (MNIST / Fashion-MNIST, plain or gzip) and safetensors (F32).
// Host-side file code only: no device, no graph. Readers never trust a size in a file before
// checking it against the bytes that are really there, and report every problem as FormatError
// (path, byte offset, what was expected, what to do). Writers replace files atomically.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "descent/errors.hpp"
#include "descent/shape.hpp"

namespace descent {

// ---------------------------------------------------------------------------------------------
// IDX (http://yann.lecun.com/exdb/mnist/): big-endian header, then row-major unsigned bytes.
// Readers accept plain and gzip files (detected by the gzip magic bytes, not by the name).
// Errors: FormatError for bad contents; descent::Error when the file cannot be opened or read.
// Offsets in messages count bytes of the decompressed data for gzip files, except for errors of
// the gzip stream itself, which count bytes of the compressed file.

/// Largest payload (product of the extents) a reader accepts: 2 GiB, far above Fashion-MNIST's
/// 47 MB, and a bound on what a corrupt header can make the reader allocate.
inline constexpr int64_t kMaxIdxBytes = int64_t{1} << 31;

/// Any unsigned-byte IDX file (type code 0x08, 1 to 8 extents).
///   IdxArray a = read_idx("data/x-idx2-ubyte.gz");  // a.dims == {count, features}
struct IdxArray {
  std::vector<int64_t> dims;  // outermost first, as in the header
  std::vector<uint8_t> data;  // row-major, product(dims) bytes
};

/// Images: magic 0x00000803, extents (count, rows, cols), pixel (i, y, x) at (i*rows + y)*cols + x.
///   ImageSet train = read_idx_images("data/fashion_mnist/train-images-idx3-ubyte.gz");
///   // train.count == 60000, train.rows == train.cols == 28
struct ImageSet {
  int64_t count = 0, rows = 0, cols = 0;
  std::vector<uint8_t> pixels;
};

IdxArray read_idx(const std::string& path);

/// Requires magic 0x00000803 and rows, cols >= 1 (count may be 0).
ImageSet read_idx_images(const std::string& path);

/// Requires magic 0x00000801. Every label must be < num_classes (the default accepts any byte):
///   auto labels = read_idx_labels("data/fashion_mnist/t10k-labels-idx1-ubyte.gz", 10);
std::vector<uint8_t> read_idx_labels(const std::string& path, int num_classes = 256);

/// Writers: gzip when the path ends in ".gz" (zlib level 6, header time 0, so the same data
/// always gives the same bytes with one zlib version), plain otherwise. Atomic: a temporary
/// file next to `path` is written, fsynced and renamed over it. Throws UsageError when the
/// sizes disagree or an extent does not fit the 32-bit header field.
void write_idx(const std::string& path, const IdxArray& array);
void write_idx_images(const std::string& path, const ImageSet& images);
void write_idx_labels(const std::string& path, const std::vector<uint8_t>& labels);

// ---------------------------------------------------------------------------------------------
// safetensors (https://github.com/huggingface/safetensors): 8-byte little-endian header length
// N, N bytes of JSON {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__":
// {string: string}}, then the tensor bytes. descent reads and writes F32 only.

/// One named float32 tensor. descent shapes have no zero extents, so neither do these.
struct TensorRecord {
  std::string name;
  Shape shape;
  std::vector<float> data;  // row-major, shape.element_count() values
};

/// Writes `tensors` in the given order (header entries and data alike), data contiguous from
/// offset 0, header padded with spaces so the data starts 8-byte aligned; readable by
/// safetensors.torch.load_file. Atomic (temporary file, fsync, rename): on any failure the old
/// file at `path`, if there was one, is left untouched. Throws UsageError for empty, duplicate
/// or "__metadata__" names, names that are not UTF-8 and data whose size does not match its shape.
///   save_safetensors("ckpt.safetensors", {{"w", Shape{2, 3}, w}, {"step", Shape{}, {42.0f}}},
///                    {{"epoch", "3"}});
void save_safetensors(const std::string& path, const std::vector<TensorRecord>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

/// Reads every tensor, ordered by data offset, after validating the whole file: header length
/// against the file size, JSON syntax, unique names, dtype (F32 only), shape (rank <= 8, extents
/// >= 1), byte ranges (shape product * 4 bytes, in range, contiguous, no overlap, no trailing
/// bytes). Fills `metadata` (when given) with "__metadata__". Memory use is bounded by the file
/// size. Errors: FormatError with path and byte offset; descent::Error when unreadable.
///   auto tensors = load_safetensors("ckpt.safetensors");
std::vector<TensorRecord> load_safetensors(const std::string& path,
                                           std::map<std::string, std::string>* metadata = nullptr);

}  // namespace descent
