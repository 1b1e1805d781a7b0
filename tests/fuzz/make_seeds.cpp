// Writes the fuzzers' seed corpora (a few small valid files per target) with descent's own
// writers and stb_image_write, plus the gzip-bomb regression input. Run by hand:
//   build-fuzz/tests/fuzz/fuzz_make_seeds tests/fuzz/corpus tests/data/reliability
// Not a test; it must only write into the two directories it is given.
#include <stb/stb_image_write.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "descent/io.hpp"
#include "io/gzip.hpp"

namespace {

using Bytes = std::vector<uint8_t>;
namespace fs = std::filesystem;

void write(const fs::path& path, const Bytes& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}

Bytes read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

Bytes cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

/// [2-byte data size][header] from a safetensors file: fuzz_safetensors_header's input format.
Bytes header_input(const Bytes& file) {
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | file[i];
  const uint64_t data = file.size() - 8 - n;
  Bytes out = {static_cast<uint8_t>(data), static_cast<uint8_t>(data >> 8)};
  out.insert(out.end(), file.begin() + 8, file.begin() + 8 + static_cast<long>(n));
  return out;
}

void safetensors_seeds(const fs::path& dir) {
  using descent::Shape;
  fs::create_directories(dir / "safetensors");
  descent::save_safetensors((dir / "safetensors/empty.safetensors").string(), {});
  descent::save_safetensors((dir / "safetensors/one.safetensors").string(),
                            {{"w", Shape{2, 2}, {1, 2, 3, 4}}});
  descent::save_safetensors((dir / "safetensors/several.safetensors").string(),
                            {{"step", Shape{}, {42}},
                             {"layer.0.bias", Shape{3}, {0, -1, 2}},
                             {"conv", Shape{2, 1, 2, 1}, {1, 2, 3, 4}},
                             {"t\u00e9", Shape{1, 1, 1, 1, 1, 1, 1, 1}, {5}}},
                            {{"epoch", "3"}, {"format", "pt"}});
  const std::string foreign = R"({"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}, )"
                              R"("a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}  )";
  Bytes f;
  for (int i = 0; i < 8; ++i) f.push_back(static_cast<uint8_t>(foreign.size() >> (8 * i)));
  f.insert(f.end(), foreign.begin(), foreign.end());
  f.resize(f.size() + 8, 0);
  write(dir / "safetensors/foreign_order.safetensors", f);
  for (const char* name : {"empty", "one", "several", "foreign_order"}) {
    Bytes file = read(dir / "safetensors" / (std::string(name) + ".safetensors"));
    write(dir / "safetensors_header" / (std::string(name) + ".bin"), header_input(file));
  }
}

void idx_seeds(const fs::path& dir) {
  const Bytes images = {0, 0, 8, 3, 0, 0,  0,  2,   0, 0, 0, 3, 0, 0, 0, 4, 1, 2, 3, 4,
                        5, 6, 7, 8, 9, 10, 11, 255, 0, 0, 0, 0, 0, 0, 9, 9, 9, 9, 9, 9};
  const Bytes labels = {0, 0, 8, 1, 0, 0, 0, 3, 7, 0, 9};
  const Bytes array4 = {0, 0, 8, 4, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 1, 5, 6, 7, 8};
  const Bytes no_labels = {0, 0, 8, 1, 0, 0, 0, 0};
  for (const auto& [name, bytes] :
       {std::pair{"images-idx3", images}, std::pair{"labels-idx1", labels},
        std::pair{"array-idx4", array4}, std::pair{"empty-idx1", no_labels}}) {
    write(dir / "idx" / name, bytes);
    write(dir / "idx" / (std::string(name) + ".gz"), descent::detail::gzip_compress(bytes));
    write(dir / "idx_gzip" / name, bytes);
  }
  Bytes first(images.begin(), images.begin() + 20), rest(images.begin() + 20, images.end());
  write(dir / "idx/two-members-idx3.gz",
        cat(descent::detail::gzip_compress(first), descent::detail::gzip_compress(rest)));
}

void gzip_seeds(const fs::path& dir) {
  const std::string text = "descent gzip seed: abcabcabcabc 0123456789";
  const Bytes raw(text.begin(), text.end());
  const Bytes gz = descent::detail::gzip_compress(raw);
  write(dir / "gzip/text.bin", cat({7}, gz));
  write(dir / "gzip/two_members.bin", cat(cat({1}, gz), descent::detail::gzip_compress({})));
  write(dir / "gzip/empty.bin", cat({63}, descent::detail::gzip_compress({})));
}

void image_seeds(const fs::path& dir) {
  fs::create_directories(dir / "image");
  std::vector<uint8_t> rgb(4 * 3 * 3);
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<uint8_t>(i * 21);
  const std::string d = (dir / "image").string();
  stbi_write_png((d + "/4x3.png").c_str(), 4, 3, 3, rgb.data(), 4 * 3);
  stbi_write_jpg((d + "/4x3.jpg").c_str(), 4, 3, 3, rgb.data(), 90);
  stbi_write_jpg((d + "/4x3-q20.jpg").c_str(), 4, 3, 3, rgb.data(), 20);
}

/// 16 + 128 MiB of zeros behind a header that promises 64 MiB: about 130 KB of gzip.
void gzip_bomb(const fs::path& dir) {
  Bytes bytes = {0, 0, 8, 3, 0, 0, 0, 64, 0, 0, 4, 0, 0, 0, 4, 0};
  bytes.resize(bytes.size() + (size_t{128} << 20), 0);
  write(dir / "idx3_gzip_bomb_128MiB_for_64MiB.gz", descent::detail::gzip_compress(bytes));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <corpus dir> <regression dir>\n", argv[0]);
    return 2;
  }
  safetensors_seeds(argv[1]);
  idx_seeds(argv[1]);
  gzip_seeds(argv[1]);
  image_seeds(argv[1]);
  gzip_bomb(argv[2]);
  return 0;
}
