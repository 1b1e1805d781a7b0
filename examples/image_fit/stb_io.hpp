// Image files for image_fit through Debian's libstb: any PNG/JPEG/BMP/... in, PNG out. Example-only
// code (descent itself has no image dependency). Pixels as floats in [0, 1], RGB interleaved.
// Decoding never trusts the header's size: images past kMaxPixels are refused before decoding.
#pragma once
#include <descent/errors.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace image_fit {

/// Largest image accepted (4096 x 4096): a decoded image costs 12 bytes per pixel as floats,
/// and a few bytes of PNG can claim any size.
inline constexpr int64_t kMaxPixels = int64_t{1} << 24;

struct Rgb {
  int width = 0, height = 0;
  std::vector<float> rgb;  // height x width x 3, row-major
};

/// Reads and decodes an image file; FormatError when it is not a readable image.
Rgb load_rgb(const std::string& path);
/// Decodes an image held in memory; `name` is used in messages. FormatError as load_rgb.
Rgb decode_rgb(const std::string& name, const unsigned char* bytes, size_t size);
/// Values are clamped to [0, 1] and rounded to 8 bits.
void save_png(const std::string& path, int width, int height, const std::vector<float>& rgb);

}  // namespace image_fit
