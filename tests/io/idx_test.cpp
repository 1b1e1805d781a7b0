// IDX files: round trips (plain and gzip), the byte layout against a hand-made fixture,
// and the corruption catalogue (bad magic, truncation at every length, overflowing counts,
// trailing bytes, damaged gzip): each must be a FormatError naming the path and byte offset.
#include <zlib.h>

#include "descent/io.hpp"
#include "io_test_util.hpp"

namespace descent::testing {
namespace {

/// gzip by zlib directly (not descent's writer), so the reader is tested against other output.
Bytes gzip(const Bytes& raw, int level = 9) {
  z_stream s{};
  EXPECT_EQ(deflateInit2(&s, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  Bytes out(deflateBound(&s, raw.size()) + 64);
  s.next_in = const_cast<Bytef*>(raw.data());
  s.avail_in = static_cast<uInt>(raw.size());
  s.next_out = out.data();
  s.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&s, Z_FINISH), Z_STREAM_END);
  out.resize(s.total_out);
  deflateEnd(&s);
  return out;
}

Bytes gunzip(const Bytes& gz) {
  z_stream s{};
  EXPECT_EQ(inflateInit2(&s, 15 + 16), Z_OK);
  Bytes out(1 << 20);
  s.next_in = const_cast<Bytef*>(gz.data());
  s.avail_in = static_cast<uInt>(gz.size());
  s.next_out = out.data();
  s.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&s, Z_FINISH), Z_STREAM_END);
  out.resize(s.total_out);
  inflateEnd(&s);
  return out;
}

/// Two 3x4 images, written out by hand from the IDX description.
const Bytes kImagesFixture = {0, 0, 8, 3, 0, 0,  0,  2,   0, 0, 0, 3, 0, 0, 0, 4, 1, 2, 3, 4,
                              5, 6, 7, 8, 9, 10, 11, 255, 0, 0, 0, 0, 0, 0, 9, 9, 9, 9, 9, 9};
ImageSet fixture_images() {
  return ImageSet{2, 3, 4, Bytes(kImagesFixture.begin() + 16, kImagesFixture.end())};
}
const Bytes kLabelsFixture = {0, 0, 8, 1, 0, 0, 0, 3, 7, 0, 9};

class IdxTest : public FileTest {};

TEST_F(IdxTest, WriterMatchesHandMadeBytesPlainAndGzip) {
  write_idx_images(path("a-idx3-ubyte"), fixture_images());
  EXPECT_EQ(read_bytes(path("a-idx3-ubyte")), kImagesFixture);
  write_idx_images(path("a-idx3-ubyte.gz"), fixture_images());
  Bytes gz = read_bytes(path("a-idx3-ubyte.gz"));
  ASSERT_GE(gz.size(), 10u);
  EXPECT_EQ(gz[0], 0x1f);
  EXPECT_EQ(gz[1], 0x8b);
  EXPECT_EQ(gz[4] | gz[5] | gz[6] | gz[7], 0) << "gzip header time must be 0 (deterministic)";
  EXPECT_EQ(gunzip(gz), kImagesFixture);
  write_idx_labels(path("l.gz"), {7, 0, 9});
  EXPECT_EQ(gunzip(read_bytes(path("l.gz"))), kLabelsFixture);
}

TEST_F(IdxTest, RoundTripsImagesLabelsAndGenericArrays) {
  ImageSet big{300, 28, 28, {}};
  for (int64_t i = 0; i < big.count * 28 * 28; ++i)
    big.pixels.push_back(static_cast<uint8_t>(i * 7 + i / 13));
  for (const char* name : {"big", "big.gz"}) {
    write_idx_images(path(name), big);
    ImageSet back = read_idx_images(path(name));
    EXPECT_EQ(back.count, 300);
    EXPECT_EQ(back.rows, 28);
    EXPECT_EQ(back.cols, 28);
    EXPECT_EQ(back.pixels, big.pixels);
  }
  std::vector<uint8_t> labels = {3, 1, 4, 1, 5, 9, 2, 6};
  write_idx_labels(path("l.gz"), labels);
  EXPECT_EQ(read_idx_labels(path("l.gz"), 10), labels);
  write_idx_labels(path("empty.gz"), {});
  EXPECT_TRUE(read_idx_labels(path("empty.gz")).empty());
  IdxArray a{{2, 3, 1, 2}, Bytes(12, 5)};
  write_idx(path("a.gz"), a);
  IdxArray b = read_idx(path("a.gz"));
  EXPECT_EQ(b.dims, a.dims);
  EXPECT_EQ(b.data, a.data);
}

TEST_F(IdxTest, ReadsOtherGzipOutputAndConcatenatedMembers) {
  write_bytes(path("x.gz"), gzip(kImagesFixture, 1));
  EXPECT_EQ(read_idx_images(path("x.gz")).pixels, fixture_images().pixels);
  // gunzip accepts concatenated members; so does descent.
  Bytes first(kImagesFixture.begin(), kImagesFixture.begin() + 20);
  Bytes rest(kImagesFixture.begin() + 20, kImagesFixture.end());
  Bytes two = gzip(first);
  Bytes tail = gzip(rest);
  two.insert(two.end(), tail.begin(), tail.end());
  write_bytes(path("two.gz"), two);
  EXPECT_EQ(read_idx_images(path("two.gz")).pixels, fixture_images().pixels);
}

TEST_F(IdxTest, BadMagicTypeAndRank) {
  auto check = [&](Bytes bytes, uint64_t offset, const std::string& needle) {
    write_bytes(path("m"), bytes);
    expect_format_error([&] { read_idx_images(path("m")); }, path("m"), offset, needle);
    write_bytes(path("m.gz"), gzip(bytes));
    expect_format_error([&] { read_idx_images(path("m.gz")); }, path("m.gz"), offset, needle);
  };
  Bytes b = kImagesFixture;
  b[0] = 0x50;  // e.g. a PNG or text file
  check(b, 0, "expected an IDX magic number");
  b = kImagesFixture;
  b[2] = 0x0D;
  check(b, 2, "float32");
  b = kImagesFixture;
  b[3] = 1;
  check(b, 0, "expected magic 0x00000803");
  check(kLabelsFixture, 0, "swapped");
  write_bytes(path("i"), kImagesFixture);
  expect_format_error([&] { read_idx_labels(path("i")); }, path("i"), 0, "0x00000801");
  b = kImagesFixture;
  b[3] = 0;
  write_bytes(path("r0"), b);
  expect_format_error([&] { read_idx(path("r0")); }, path("r0"), 3, "rank 0");
  b[3] = 9;
  write_bytes(path("r9"), b);
  expect_format_error([&] { read_idx(path("r9")); }, path("r9"), 3, "rank 9");
}

TEST_F(IdxTest, ZeroAndOverflowingExtentsAreRejectedBeforeAllocating) {
  Bytes b = kImagesFixture;
  b[15] = 0;  // cols = 0
  write_bytes(path("z"), b);
  expect_format_error([&] { read_idx_images(path("z")); }, path("z"), 12, "is 0");
  // 0xffffffff^3 overflows 64 bits; the check must stop at the first extent past 2 GiB.
  Bytes huge = {0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  write_bytes(path("h"), huge);
  expect_format_error([&] { read_idx_images(path("h")); }, path("h"), 4, "more than");
  write_bytes(path("h.gz"), gzip(huge));
  expect_format_error([&] { read_idx_images(path("h.gz")); }, path("h.gz"), 4, "more than");
  // 65536 * 128 * 128 = 2^30: allowed by the cap, but a 16-byte header has no such data.
  Bytes claim = {0, 0, 8, 3, 0, 1, 0, 0, 0, 0, 0, 128, 0, 0, 0, 128};
  write_bytes(path("c"), claim);
  expect_format_error([&] { read_idx_images(path("c")); }, path("c"), 16, "need 1073741824");
  write_bytes(path("c.gz"), gzip(claim));
  expect_format_error([&] { read_idx_images(path("c.gz")); }, path("c.gz"), 16, "ends after 0 of");
  // Labels beyond the class count.
  write_bytes(path("l"), kLabelsFixture);
  expect_format_error([&] { read_idx_labels(path("l"), 9); }, path("l"), 10, "label 9");
}

TEST_F(IdxTest, TruncationAtEveryLengthPlainAndGzip) {
  for (size_t n = 0; n < kImagesFixture.size(); ++n) {
    write_bytes(path("t"), Bytes(kImagesFixture.begin(), kImagesFixture.begin() + n));
    std::string m =
        expect_format_error([&] { read_idx_images(path("t")); }, path("t"), std::nullopt);
    if (::testing::Test::HasFailure()) FAIL() << "plain prefix of " << n << " bytes: " << m;
  }
  // A whole gzip stream of every prefix (counts disagree with data) ...
  for (size_t n = 0; n < kImagesFixture.size(); ++n) {
    write_bytes(path("t.gz"), gzip(Bytes(kImagesFixture.begin(), kImagesFixture.begin() + n)));
    expect_format_error([&] { read_idx_images(path("t.gz")); }, path("t.gz"), std::nullopt);
    if (::testing::Test::HasFailure()) FAIL() << "gzip of a " << n << "-byte prefix";
  }
  // ... and every prefix of the gzip file itself (broken stream, lost CRC trailer).
  Bytes gz = gzip(kImagesFixture);
  for (size_t n = 0; n < gz.size(); ++n) {
    write_bytes(path("p.gz"), Bytes(gz.begin(), gz.begin() + n));
    expect_format_error([&] { read_idx_images(path("p.gz")); }, path("p.gz"), std::nullopt);
    if (::testing::Test::HasFailure()) FAIL() << "gzip file cut to " << n << " bytes";
  }
}

TEST_F(IdxTest, TrailingBytesAndGarbageAfterGzip) {
  Bytes b = kImagesFixture;
  b.push_back(0);
  write_bytes(path("x"), b);
  expect_format_error([&] { read_idx_images(path("x")); }, path("x"), 40, "unexpected bytes");
  write_bytes(path("x.gz"), gzip(b));
  expect_format_error([&] { read_idx_images(path("x.gz")); }, path("x.gz"), 40, "unexpected bytes");
  Bytes gz = gzip(kImagesFixture);
  const uint64_t end = gz.size();
  gz.push_back(0);
  write_bytes(path("g.gz"), gz);
  expect_format_error([&] { read_idx_images(path("g.gz")); }, path("g.gz"), end, "stray bytes");
}

TEST_F(IdxTest, EveryFlippedGzipByteIsDetectedOrHarmless) {
  Bytes gz = gzip(kImagesFixture);
  for (size_t i = 0; i < gz.size(); ++i) {
    Bytes bad = gz;
    bad[i] ^= 0x55;
    write_bytes(path("f.gz"), bad);
    try {
      ImageSet s = read_idx_images(path("f.gz"));
      // Only header fields zlib ignores (time, extra flags, OS) may change without notice.
      EXPECT_TRUE(i >= 4 && i < 10) << "flip at " << i << " went unnoticed";
      EXPECT_EQ(s.pixels, fixture_images().pixels);
    } catch (const FormatError& e) {
      EXPECT_NE(std::string(e.what()).find(path("f.gz")), std::string::npos);
    }
  }
}

TEST_F(IdxTest, MissingFileAndBadWriterArguments) {
  try {
    read_idx_images(path("nope.gz"));
    FAIL() << "no exception";
  } catch (const FormatError&) {
    FAIL() << "a missing file is not a format error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nope.gz"), std::string::npos);
  }
  EXPECT_THROW(write_idx_images(path("w"), ImageSet{2, 2, 2, Bytes(7)}), UsageError);
  EXPECT_THROW(write_idx_images(path("w"), ImageSet{1, 0, 2, {}}), UsageError);
  EXPECT_THROW(write_idx(path("w"), IdxArray{{}, {}}), UsageError);
  EXPECT_THROW(write_idx(path("w"), IdxArray{{int64_t{1} << 32}, {}}), UsageError);
  EXPECT_FALSE(std::filesystem::exists(path("w")));
  EXPECT_THROW(read_idx_labels(path("w"), 0), UsageError);
}

}  // namespace
}  // namespace descent::testing
