// PNG and JPEG decoding for image_fit (see image_decode.hpp). libpng's simplified API handles
// its errors inside libpng; libjpeg reports errors by longjmp, so its decoder is a C-style
// function whose frame holds no object with a destructor. Both decoders are mature and fuzzed
// upstream; the stb_image decoders this example used (Debian 12's 2022 snapshot) wrote past a
// Huffman table and overflowed ints on corrupt JPEGs within minutes of fuzzing.
#include "image_decode.hpp"

#include <jpeglib.h>
#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace image_fit {

namespace {

[[noreturn]] void unreadable(const std::string& name, const std::string& why) {
  throw descent::FormatError(name + ": cannot read the image (" + why +
                             "); give a PNG or JPEG file with --image PATH, or run "
                             "tools/fetch-data.sh for the default astronaut.png");
}

void check_size(const std::string& name, uint64_t w, uint64_t h) {
  if (w < 2 || h < 2 || w * h > static_cast<uint64_t>(kMaxPixels)) {
    unreadable(name, "it is " + std::to_string(w) + "x" + std::to_string(h) +
                         " pixels; image_fit takes 2x2 up to " + std::to_string(kMaxPixels) +
                         " pixels");
  }
}

/// RGB floats from 8-bit pixels with `channels` values each (the first three are RGB).
Rgb to_floats(const std::string& name, const unsigned char* pixels, int w, int h, int channels) {
  Rgb r;
  r.width = w;
  r.height = h;
  const size_t count = static_cast<size_t>(w) * h;
  try {
    r.rgb.resize(count * 3);
  } catch (const std::bad_alloc&) {
    throw descent::OutOfMemoryError(name + ": no host memory for the decoded image", count * 12);
  }
  for (size_t i = 0; i < count; ++i)
    for (int c = 0; c < 3; ++c)
      r.rgb[3 * i + c] = static_cast<float>(pixels[i * channels + c]) / 255.0f;
  return r;
}

Rgb decode_png(const std::string& name, const unsigned char* bytes, size_t size) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, bytes, size)) unreadable(name, image.message);
  struct Free {  // png_image_free releases what begin_read allocated, on every path
    png_image* p;
    ~Free() { png_image_free(p); }
  } free_image{&image};
  check_size(name, image.width, image.height);
  // RGBA, then the alpha is dropped (as stb_image did), rather than composited onto black.
  image.format = PNG_FORMAT_RGBA;
  std::vector<unsigned char> pixels;
  try {
    pixels.resize(PNG_IMAGE_SIZE(image));
  } catch (const std::bad_alloc&) {
    throw descent::OutOfMemoryError(name + ": no host memory for the PNG pixels",
                                    PNG_IMAGE_SIZE(image));
  }
  if (!png_image_finish_read(&image, nullptr, pixels.data(), 0, nullptr))
    unreadable(name, image.message);
  return to_floats(name, pixels.data(), static_cast<int>(image.width),
                   static_cast<int>(image.height), 4);
}

struct JpegErrors {
  jpeg_error_mgr mgr;  // first: libjpeg passes a pointer to it
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void jpeg_fail(j_common_ptr c) {
  auto* e = reinterpret_cast<JpegErrors*>(c->err);
  c->err->format_message(c, e->message);
  std::longjmp(e->jump, 1);
}

/// Warnings (corrupt data libjpeg would paper over) count as errors; trace messages are dropped.
void jpeg_message(j_common_ptr c, int level) {
  if (level < 0) jpeg_fail(c);
}

/// A progressive JPEG can hold thousands of scans, each a pass over the image: past this many
/// it is refused (libjpeg-turbo's advice for untrusted input; real files have about 10).
constexpr int kMaxJpegScans = 500;

void jpeg_progress(j_common_ptr c) {
  auto* d = reinterpret_cast<j_decompress_ptr>(c);
  if (d->is_decompressor && d->input_scan_number > kMaxJpegScans) {
    std::snprintf(reinterpret_cast<JpegErrors*>(c->err)->message, JMSG_LENGTH_MAX,
                  "more than %d progressive scans", kMaxJpegScans);
    std::longjmp(reinterpret_cast<JpegErrors*>(c->err)->jump, 1);
  }
}

/// libjpeg decode to malloc'd RGB bytes, or nullptr with `why` filled. Only plain C data lives
/// in this frame, so the longjmp of an error skips no destructor.
unsigned char* jpeg_decode(const unsigned char* bytes, size_t size, int* w, int* h, char* why) {
  jpeg_decompress_struct cinfo;
  JpegErrors errors;
  jpeg_progress_mgr progress{};
  unsigned char* volatile pixels = nullptr;
  cinfo.err = jpeg_std_error(&errors.mgr);
  errors.mgr.error_exit = jpeg_fail;
  errors.mgr.emit_message = jpeg_message;
  errors.message[0] = 0;
  if (setjmp(errors.jump)) {
    std::free(pixels);
    jpeg_destroy_decompress(&cinfo);
    std::snprintf(why, JMSG_LENGTH_MAX, "%s", errors.message);
    return nullptr;
  }
  jpeg_create_decompress(&cinfo);
  progress.progress_monitor = jpeg_progress;
  cinfo.progress = &progress;
  jpeg_mem_src(&cinfo, bytes, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  *w = static_cast<int>(cinfo.image_width);
  *h = static_cast<int>(cinfo.image_height);
  const uint64_t pixel_count = uint64_t{cinfo.image_width} * cinfo.image_height;
  if (cinfo.image_width < 2 || cinfo.image_height < 2 ||
      pixel_count > static_cast<uint64_t>(kMaxPixels)) {
    jpeg_destroy_decompress(&cinfo);
    std::snprintf(why, JMSG_LENGTH_MAX, "size");
    return nullptr;
  }
  cinfo.out_color_space = JCS_RGB;
  jpeg_start_decompress(&cinfo);
  pixels = static_cast<unsigned char*>(std::malloc(pixel_count * 3));
  if (!pixels) {
    jpeg_destroy_decompress(&cinfo);
    std::snprintf(why, JMSG_LENGTH_MAX, "out of memory");
    return nullptr;
  }
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = pixels + size_t{cinfo.output_scanline} * cinfo.output_width * 3;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return pixels;
}

Rgb decode_jpeg(const std::string& name, const unsigned char* bytes, size_t size) {
  int w = 0, h = 0;
  char why[JMSG_LENGTH_MAX] = {};
  unsigned char* pixels = jpeg_decode(bytes, size, &w, &h, why);
  if (!pixels) {
    if (std::strcmp(why, "size") == 0)
      check_size(name, static_cast<uint64_t>(w), static_cast<uint64_t>(h));
    if (std::strcmp(why, "out of memory") == 0)
      throw descent::OutOfMemoryError(name + ": no host memory for the JPEG pixels",
                                      uint64_t{3} * w * h);
    unreadable(name, why);
  }
  struct Free {
    unsigned char* p;
    ~Free() { std::free(p); }
  } free_pixels{pixels};
  return to_floats(name, pixels, w, h, 3);
}

}  // namespace

Rgb decode_rgb(const std::string& name, const unsigned char* bytes, size_t size) {
  static const unsigned char kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (size >= 8 && std::memcmp(bytes, kPng, 8) == 0) return decode_png(name, bytes, size);
  if (size >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF)
    return decode_jpeg(name, bytes, size);
  unreadable(name, "not a PNG or JPEG file");
}

}  // namespace image_fit
