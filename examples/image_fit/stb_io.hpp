// Image files for image_fit: PNG or JPEG in (image_decode.cpp: libpng, libjpeg-turbo), PNG out
// through Debian's libstb. Example-only code (descent itself has no image dependency). Pixels as
// floats in [0, 1], RGB interleaved.
#pragma once
#include <string>
#include <vector>

#include "image_decode.hpp"

namespace image_fit {

/// Reads a regular file and decodes it (decode_rgb); FormatError when it is not a readable image.
Rgb load_rgb(const std::string& path);
/// Values are clamped to [0, 1] and rounded to 8 bits.
void save_png(const std::string& path, int width, int height, const std::vector<float>& rgb);

}  // namespace image_fit
