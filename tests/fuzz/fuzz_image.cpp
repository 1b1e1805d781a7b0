// libFuzzer target: image_fit's image decoder (examples/image_fit/image_decode.cpp over libpng
// and libjpeg-turbo). Only descent::Error may come out; a decoded image must have its claimed
// size within the example's pixel limit.
#include <cstdlib>

#include "image_decode.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    image_fit::Rgb r = image_fit::decode_rgb("fuzz", data, size);
    if (r.width < 2 || r.height < 2 || int64_t{r.width} * r.height > image_fit::kMaxPixels ||
        r.rgb.size() != static_cast<size_t>(r.width) * r.height * 3)
      std::abort();
  } catch (const descent::Error&) {
  }
  return 0;
}
