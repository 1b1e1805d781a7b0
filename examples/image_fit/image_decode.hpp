// Image decoding for image_fit: PNG through libpng's simplified API, JPEG through libjpeg-turbo
// (Debian's libpng-dev, libjpeg62-turbo-dev), from bytes in memory. Example-only code, fuzzed by
// tests/fuzz/fuzz_image. Never trusts a header's size: past kMaxPixels is refused before decoding.
#pragma once
#include <descent/errors.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace image_fit {

/// Largest image accepted (4096 x 4096): a decoded image costs 12 bytes per pixel as floats,
/// and a few bytes of header can claim any size.
inline constexpr int64_t kMaxPixels = int64_t{1} << 24;

struct Rgb {
  int width = 0, height = 0;
  std::vector<float> rgb;  // height x width x 3, row-major, values in [0, 1]
};

/// Decodes a PNG or JPEG file's bytes; `name` is used in messages. FormatError when the bytes
/// are not a readable PNG or JPEG image of at least 2 x 2 pixels; OutOfMemoryError when the
/// decoded image does not fit in host memory.
Rgb decode_rgb(const std::string& name, const unsigned char* bytes, size_t size);

}  // namespace image_fit
