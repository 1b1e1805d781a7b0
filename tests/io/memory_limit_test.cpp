// Memory bounds of the loaders, each run in a forked child: under an address-space limit
// (RLIMIT_AS) a load that cannot get its memory throws OutOfMemoryError (never std::bad_alloc
// or an abort), a gzip bomb is rejected before anything is allocated for it, and the header
// of a checkpoint costs a small multiple of its size. Skipped under ASan (it reserves terabytes
// of address space and aborts instead of throwing).
#include <sys/resource.h>
#include <zlib.h>

#include <cstring>

#include "descent/io.hpp"
#include "io_test_util.hpp"

namespace descent::testing {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;

/// A field of /proc/self/status ("VmSize", "VmRSS", "VmHWM") in bytes.
uint64_t proc_status_bytes(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stoull(line.substr(field.size() + 1)) * 1024;
  }
  return 0;
}

/// Caps this (child) process's address space at its current size plus `extra` bytes.
bool limit_address_space(uint64_t extra) {
  rlimit r{};
  r.rlim_cur = r.rlim_max = proc_status_bytes("VmSize") + extra;
  return ::setrlimit(RLIMIT_AS, &r) == 0;
}

/// Exit codes of a child load: what came out of it.
enum Outcome {
  kOom = 0,
  kFormat = 10,
  kOtherError = 11,
  kBadAlloc = 12,
  kOther = 13,
  kLoaded = 14
};
const char* outcome_name(int code) {
  switch (code) {
    case kOom:
      return "OutOfMemoryError";
    case kFormat:
      return "FormatError";
    case kOtherError:
      return "another descent::Error";
    case kBadAlloc:
      return "std::bad_alloc";
    case kOther:
      return "another exception";
    case kLoaded:
      return "no error";
    default:
      return "a crash, abort or timeout (see the child's exit status)";
  }
}

/// Runs `load` in a child under RLIMIT_AS = current + `extra`; returns an Outcome. For an
/// OutOfMemoryError, the child also checks that it names `oom_bytes`.
int load_in_child(uint64_t extra, uint64_t oom_bytes, const std::function<void()>& load) {
  return run_in_child([&] {
    if (!limit_address_space(extra)) return 97;
    try {
      load();
      return int{kLoaded};
    } catch (const OutOfMemoryError& e) {
      std::printf("child: %s\n", e.what());
      return e.bytes() == oom_bytes ? int{kOom} : 96;
    } catch (const FormatError& e) {
      std::printf("child: %s\n", e.what());
      return int{kFormat};
    } catch (const Error&) {
      return int{kOtherError};
    } catch (const std::bad_alloc&) {
      return int{kBadAlloc};
    } catch (...) {
      return int{kOther};
    }
  });
}

/// Makes `path` a sparse file of `size` bytes whose first bytes are `head`.
void sparse_file(const std::string& path, const Bytes& head, uint64_t size) {
  write_bytes(path, head);
  std::filesystem::resize_file(path, size);
}

/// gzip (zlib, level 1) of `head` followed by `zeros` zero bytes, without materialising them.
Bytes gzip_head_and_zeros(const Bytes& head, uint64_t zeros) {
  z_stream s{};
  EXPECT_EQ(deflateInit2(&s, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  const Bytes chunk(kMiB, 0);
  Bytes out, buf(256 * 1024);
  auto pump = [&](const uint8_t* data, size_t n, int flush) {
    s.next_in = const_cast<Bytef*>(data);
    s.avail_in = static_cast<uInt>(n);
    do {
      s.next_out = buf.data();
      s.avail_out = static_cast<uInt>(buf.size());
      deflate(&s, flush);
      out.insert(out.end(), buf.data(), buf.data() + (buf.size() - s.avail_out));
    } while (s.avail_out == 0);
  };
  pump(head.data(), head.size(), Z_NO_FLUSH);
  for (uint64_t left = zeros; left > 0;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(left, chunk.size()));
    pump(chunk.data(), n, Z_NO_FLUSH);
    left -= n;
  }
  pump(nullptr, 0, Z_FINISH);
  deflateEnd(&s);
  return out;
}

/// IDX images header for count x rows x cols.
Bytes idx3_header(uint32_t count, uint32_t rows, uint32_t cols) {
  Bytes h = {0, 0, 8, 3};
  for (uint32_t v : {count, rows, cols})
    for (int shift = 24; shift >= 0; shift -= 8) h.push_back(static_cast<uint8_t>(v >> shift));
  return h;
}

class MemoryLimitTest : public FileTest {
 protected:
  void SetUp() override {
    if (kAsan) GTEST_SKIP() << "RLIMIT_AS does not work under AddressSanitizer";
    FileTest::SetUp();
  }
};

// 512 MiB of tensor data (a sparse file) under a 256 MiB allowance: the allocation fails.
TEST_F(MemoryLimitTest, SafetensorsAllocationFailureIsOutOfMemoryError) {
  std::string header =
      R"({"big":{"dtype":"F32","shape":[131072,1024],"data_offsets":[0,536870912]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  Bytes head;
  for (int i = 0; i < 8; ++i)
    head.push_back(static_cast<uint8_t>(uint64_t{header.size()} >> (8 * i)));
  head.insert(head.end(), header.begin(), header.end());
  sparse_file(path("big.safetensors"), head, head.size() + 512 * kMiB);
  int code =
      load_in_child(256 * kMiB, 512 * kMiB, [&] { load_safetensors(path("big.safetensors")); });
  EXPECT_EQ(code, kOom) << outcome_name(code);
}

TEST_F(MemoryLimitTest, IdxAllocationFailureIsOutOfMemoryErrorPlainAndGzip) {
  const Bytes head = idx3_header(512, 1024, 1024);  // 512 MiB of pixels
  sparse_file(path("big-idx3"), head, head.size() + 512 * kMiB);
  int code = load_in_child(256 * kMiB, 512 * kMiB, [&] { read_idx_images(path("big-idx3")); });
  EXPECT_EQ(code, kOom) << "plain: " << outcome_name(code);
  write_bytes(path("big-idx3.gz"), gzip_head_and_zeros(head, 512 * kMiB));
  code = load_in_child(256 * kMiB, 512 * kMiB, [&] { read_idx_images(path("big-idx3.gz")); });
  EXPECT_EQ(code, kOom) << "gzip: " << outcome_name(code);
}

// 4.7 MB of gzip (zlib level 1) that inflates to 1 GiB: the header promises 512 MiB, so the data
// disagrees with it, and that is found without allocating (64 MiB allowance).
TEST_F(MemoryLimitTest, GzipBombIsRejectedWithoutAllocatingForIt) {
  const Bytes head = idx3_header(512, 1024, 1024);
  Bytes bomb = gzip_head_and_zeros(head, 1024 * kMiB);
  std::printf("[ info     ] gzip bomb: %zu bytes inflate to %ju\n", bomb.size(),
              static_cast<uintmax_t>(16 + 1024 * kMiB));
  write_bytes(path("bomb-idx3.gz"), bomb);
  int code = load_in_child(64 * kMiB, 0, [&] { read_idx_images(path("bomb-idx3.gz")); });
  EXPECT_EQ(code, kFormat) << "too much data: " << outcome_name(code);
  // Less data than promised (256 of 512 MiB) is found without allocating as well.
  write_bytes(path("short-idx3.gz"), gzip_head_and_zeros(head, 256 * kMiB));
  code = load_in_child(64 * kMiB, 0, [&] { read_idx_images(path("short-idx3.gz")); });
  EXPECT_EQ(code, kFormat) << "too little data: " << outcome_name(code);
}

// A valid gzip file whose payload is all that fits: exactly one allocation of the payload.
TEST_F(MemoryLimitTest, GzipPayloadIsAllocatedOnce) {
  const Bytes head = idx3_header(192, 1024, 1024);  // 192 MiB
  write_bytes(path("ok-idx3.gz"), gzip_head_and_zeros(head, 192 * kMiB));
  int code = load_in_child(256 * kMiB, 0, [&] {
    ImageSet s = read_idx_images(path("ok-idx3.gz"));
    if (s.pixels.size() != 192 * kMiB) throw std::runtime_error("wrong size");
  });
  EXPECT_EQ(code, kLoaded) << outcome_name(code);
}

// The JSON header of a checkpoint of many small tensors: peak memory growth during the load
// stays within a small multiple of the file (it was about 20x the header with a JSON DOM).
TEST_F(MemoryLimitTest, CheckpointHeaderMemoryIsAFewTimesItsSize) {
  constexpr size_t kCount = 200'000;
  // Written by another child, so this process's heap holds no freed pages the load could reuse.
  ASSERT_EQ(run_in_child([&] {
              std::vector<TensorRecord> in;
              for (size_t i = 0; i < kCount; ++i)
                in.push_back({"blocks." + std::to_string(i) + ".scale", Shape{1}, {1.0f}});
              save_safetensors(path("small.safetensors"), in);
              return 0;
            }),
            0);
  const uint64_t file = std::filesystem::file_size(path("small.safetensors"));
  int code = run_in_child([&] {
    const uint64_t before = proc_status_bytes("VmRSS");
    auto out = load_safetensors(path("small.safetensors"));
    const uint64_t peak = proc_status_bytes("VmHWM");
    const double ratio = double(peak - std::min(peak, before)) / double(file);
    std::printf("[ memory   ] %zu tensors, %ju-byte file: peak growth %.1f MiB = %.1fx the file\n",
                kCount, static_cast<uintmax_t>(file), double(peak - before) / kMiB, ratio);
    return out.size() == kCount && ratio < 8.0 ? 0 : 1;
  });
  EXPECT_EQ(code, 0);
}

}  // namespace
}  // namespace descent::testing
