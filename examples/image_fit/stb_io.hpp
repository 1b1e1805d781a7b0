// Image files for image_fit through Debian's libstb: any PNG/JPEG/BMP/... in, PNG out. Example-only
// code (descent itself has no image dependency). Pixels as floats in [0, 1], RGB interleaved.
#pragma once
#include <descent/errors.hpp>

#include <string>
#include <vector>

namespace image_fit {

struct Rgb {
  int width = 0, height = 0;
  std::vector<float> rgb;  // height x width x 3, row-major
};

Rgb load_rgb(const std::string& path);
/// Values are clamped to [0, 1] and rounded to 8 bits.
void save_png(const std::string& path, int width, int height, const std::vector<float>& rgb);

}  // namespace image_fit
