// Image file reading and PNG writing for image_fit (see stb_io.hpp). The file is read here and
// decoded from memory by image_decode.cpp, so the decoder the fuzzer tests (tests/fuzz) sees
// exactly what a user's file holds.
#include "stb_io.hpp"

#include <stb/stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace image_fit {

Rgb load_rgb(const std::string& path) {
  auto unreadable = [&](const std::string& why) {
    throw descent::FormatError(path + ": cannot read the image (" + why +
                               "); give a PNG or JPEG file with --image PATH, or run "
                               "tools/fetch-data.sh for the default astronaut.png");
  };
  // A FIFO or device would block or never end: only regular files are read.
  std::error_code ec;
  if (std::filesystem::exists(path, ec) && !std::filesystem::is_regular_file(path, ec))
    unreadable("not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in) unreadable("cannot open the file");
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)),
                                   std::istreambuf_iterator<char>());
  if (in.bad()) unreadable("reading failed");
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
