// GlslWriter: the one place that assembles GLSL text (indentation and lines). Generators feed it
// statements; they never concatenate shader fragments elsewhere.
#pragma once
#include <fmt/format.h>

#include <string>

namespace descent::codegen {

class GlslWriter {
 public:
  template <typename... T>
  void line(fmt::format_string<T...> f, T&&... args) {
    out_.append(static_cast<size_t>(indent_) * 2, ' ');
    out_ += fmt::format(f, std::forward<T>(args)...);
    out_ += '\n';
  }
  void raw(const std::string& text) { out_ += text; }
  void open(const std::string& head) {  // "head {" and indent
    out_.append(static_cast<size_t>(indent_) * 2, ' ');
    out_ += head + " {\n";
    ++indent_;
  }
  void close(const char* tail = "}") {
    --indent_;
    out_.append(static_cast<size_t>(indent_) * 2, ' ');
    out_ += tail;
    out_ += '\n';
  }
  const std::string& str() const { return out_; }

 private:
  std::string out_;
  int indent_ = 0;
};

}  // namespace descent::codegen
