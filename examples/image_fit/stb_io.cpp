// stb-based image loading and PNG writing for image_fit (see stb_io.hpp). The file is read here
// and decoded from memory, so the decoder (fuzzed in tests/fuzz) sees exactly what a user's
// file holds.
#include "stb_io.hpp"

#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace image_fit {

namespace {

[[noreturn]] void unreadable(const std::string& name, const std::string& why) {
  throw descent::FormatError(name + ": cannot read the image (" + why +
                             "); give a PNG or JPEG file with --image PATH, or run "
                             "tools/fetch-data.sh for the default astronaut.png");
}

}  // namespace

Rgb decode_rgb(const std::string& name, const unsigned char* bytes, size_t size) {
  if (size > static_cast<size_t>(INT_MAX)) unreadable(name, "file larger than 2 GiB");
  const int n = static_cast<int>(size);
  int w = 0, h = 0, channels = 0;
  // The header's size is checked before stb allocates anything for the pixels.
  if (!stbi_info_from_memory(bytes, n, &w, &h, &channels)) unreadable(name, stbi_failure_reason());
  if (w < 1 || h < 1 || int64_t{w} * h > kMaxPixels) {
    unreadable(name, "it claims " + std::to_string(w) + "x" + std::to_string(h) +
                         " pixels; image_fit takes at most " + std::to_string(kMaxPixels));
  }
  unsigned char* data = stbi_load_from_memory(bytes, n, &w, &h, &channels, 3);
  if (!data) unreadable(name, stbi_failure_reason());
  if (w < 1 || h < 1 || int64_t{w} * h > kMaxPixels) {  // the decoder may disagree with info
    stbi_image_free(data);
    unreadable(name, "the decoded size differs from the header's");
  }
  Rgb r;
  r.width = w;
  r.height = h;
  const size_t values = static_cast<size_t>(w) * h * 3;
  try {
    r.rgb.resize(values);
  } catch (const std::bad_alloc&) {
    stbi_image_free(data);
    throw descent::OutOfMemoryError(name + ": no host memory for the decoded image", values * 4);
  }
  for (size_t i = 0; i < r.rgb.size(); ++i) r.rgb[i] = static_cast<float>(data[i]) / 255.0f;
  stbi_image_free(data);
  if (w < 2 || h < 2)
    throw descent::FormatError(name + ": image too small (" + std::to_string(w) + "x" +
                               std::to_string(h) + ")");
  return r;
}

Rgb load_rgb(const std::string& path) {
  // A FIFO or device would block or never end: only regular files are read.
  std::error_code ec;
  if (std::filesystem::exists(path, ec) && !std::filesystem::is_regular_file(path, ec))
    unreadable(path, "not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in) unreadable(path, "cannot open the file");
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)),
                                   std::istreambuf_iterator<char>());
  if (in.bad()) unreadable(path, "reading failed");
  return decode_rgb(path, bytes.data(), bytes.size());
}

void save_png(const std::string& path, int width, int height, const std::vector<float>& rgb) {
  std::vector<uint8_t> bytes(rgb.size());
  for (size_t i = 0; i < rgb.size(); ++i)
    bytes[i] = static_cast<uint8_t>(std::lround(std::clamp(rgb[i], 0.0f, 1.0f) * 255.0f));
  if (!stbi_write_png(path.c_str(), width, height, 3, bytes.data(), width * 3))
    throw descent::Error(path + ": cannot write the PNG file");
}

}  // namespace image_fit
