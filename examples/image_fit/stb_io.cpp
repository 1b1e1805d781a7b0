// stb-based image loading and PNG writing for image_fit (see stb_io.hpp).
#include "stb_io.hpp"

#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace image_fit {

Rgb load_rgb(const std::string& path) {
  int w = 0, h = 0, channels = 0;
  unsigned char* data = stbi_load(path.c_str(), &w, &h, &channels, 3);
  if (!data) {
    throw descent::FormatError(path + ": cannot read the image (" + std::string(stbi_failure_reason()) +
                               "); give a PNG or JPEG file with --image PATH, or run tools/fetch-data.sh "
                               "for the default astronaut.png");
  }
  Rgb r;
  r.width = w;
  r.height = h;
  r.rgb.resize(static_cast<size_t>(w) * h * 3);
  for (size_t i = 0; i < r.rgb.size(); ++i) r.rgb[i] = static_cast<float>(data[i]) / 255.0f;
  stbi_image_free(data);
  if (w < 2 || h < 2) throw descent::FormatError(path + ": image too small (" + std::to_string(w) + "x" + std::to_string(h) + ")");
  return r;
}

void save_png(const std::string& path, int width, int height, const std::vector<float>& rgb) {
  std::vector<uint8_t> bytes(rgb.size());
  for (size_t i = 0; i < rgb.size(); ++i)
    bytes[i] = static_cast<uint8_t>(std::lround(std::clamp(rgb[i], 0.0f, 1.0f) * 255.0f));
  if (!stbi_write_png(path.c_str(), width, height, 3, bytes.data(), width * 3))
    throw descent::Error(path + ": cannot write the PNG file");
}

}  // namespace image_fit
