// Warnings: things that are legal but almost always a mistake (PyTorch warns in the same places).
// Each distinct key is reported once per process through the handler of descent::set_warning_handler
// (default: one "descent: warning: ..." line on stderr). Never throws by itself.
#pragma once
#include <string>

namespace descent::detail {

/// Reports `message` unless a warning with this key was reported before in this process.
void warn_once(const std::string& key, const std::string& message);

}  // namespace descent::detail
