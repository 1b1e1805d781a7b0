// Command-line checks shared by the examples: output locations are probed before training, so a
// typo in --save, --csv or -o fails in a second instead of after hours of training. Uses only the
// standard library and descent's public error types; it must not touch the device.
#pragma once
#include <descent/errors.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <unistd.h>

namespace examples {

/// Throws descent::UsageError naming `option` and `path` unless a file can be written at `path`:
/// `path` is not a directory, its folder exists, and a probe file can be created (and is removed)
/// there. An existing file at `path` is left untouched.
///   examples::check_output_file("--save", save);
inline void check_output_file(const std::string& option, const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path p(path);
  if (fs::is_directory(p, ec))
    throw descent::UsageError(option + " " + path + ": is a directory; give a file name");
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  if (!fs::is_directory(dir, ec)) {
    throw descent::UsageError(option + " " + path + ": the folder '" + dir.string() +
                              "' does not exist; create it first");
  }
  const fs::path probe = dir / (".descent-probe-" + std::to_string(::getpid()));
  bool ok = static_cast<bool>(std::ofstream(probe));
  fs::remove(probe, ec);
  if (!ok) {
    throw descent::UsageError(option + " " + path + ": cannot create files in '" + dir.string() +
                              "' (permissions?)");
  }
}

/// Throws descent::UsageError unless `dir` is an existing folder where files can be created.
inline void check_output_dir(const std::string& option, const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    throw descent::UsageError(option + " " + dir + ": no such folder; create it first");
  check_output_file(option, (std::filesystem::path(dir) / "probe").string());
}

}  // namespace examples
