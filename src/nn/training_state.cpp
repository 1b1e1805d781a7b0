// TrainingState (include/descent/training_state.hpp): one safetensors file with the parameters as
// tensors, host arrays as exact tensors and host scalars and generators as exact text in the
// metadata. Public API only; no file parsing here (src/io does that), no arithmetic on values.
#include "descent/training_state.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cstring>
#include <functional>
#include <set>
#include <memory>
#include <sstream>
#include <type_traits>

#include "descent/io.hpp"

namespace descent {

namespace {

constexpr const char* kFormatKey = "descent.training_state";
constexpr const char* kFormatVersion = "1";

std::string host_key(const std::string& key) { return "host." + key; }
std::string require_key(const std::string& key) { return "require." + key; }
std::string array_tensor(const std::string& key) { return "host:" + key; }

/// u32 values as exact float32 pairs (high and low 16 bits, each < 2^16): [n, 2].
std::vector<float> split_u32(const std::vector<uint32_t>& v) {
  std::vector<float> out;
  out.reserve(v.size() * 2);
  for (uint32_t x : v) {
    out.push_back(static_cast<float>(x >> 16));
    out.push_back(static_cast<float>(x & 0xffffu));
  }
  return out;
}

template <class T>
bool parse_integer(const std::string& text, T* out, int base = 10) {
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, *out, base);
  return ec == std::errc() && p == end && !text.empty();
}

template <class Engine>
std::string engine_text(const Engine& e) {
  std::ostringstream os;
  os << e;
  return os.str();
}

template <class Engine>
bool parse_engine(const std::string& text, Engine* out) {
  std::istringstream is(text);
  is >> *out;
  if (!is) return false;
  is >> std::ws;
  return is.eof();
}

template <class Bits, class Float>
std::string float_bits(Float f) {
  Bits b;
  std::memcpy(&b, &f, sizeof(b));
  return fmt::format("0x{:0{}x}", b, sizeof(Bits) * 2);
}

template <class Bits, class Float>
bool parse_float_bits(const std::string& text, Float* out) {
  Bits b = 0;
  if (text.size() != 2 + sizeof(Bits) * 2 || text.compare(0, 2, "0x") != 0) return false;
  if (!parse_integer(text.substr(2), &b, 16)) return false;
  std::memcpy(out, &b, sizeof(b));
  return true;
}

}  // namespace

TrainingState& TrainingState::add(const std::vector<Parameter>& parameters) {
  for (const Parameter& p : parameters) {
    if (!p.valid()) throw UsageError("TrainingState::add: empty Parameter handle");
    if (p.dtype() != DType::kF32) {
      throw UsageError(fmt::format("TrainingState::add: parameter '{}' holds {}; only float32 "
                                   "parameters are saved", p.name(), dtype_name(p.dtype())));
    }
    bool known = false;  // the same parameter twice (a layer and its optimiser's list) is kept once
    for (const Parameter& q : parameters_) known = known || (q.id() == p.id() && q.name() == p.name());
    if (!known) parameters_.push_back(p);
  }
  return *this;
}

TrainingState& TrainingState::add(const Optimizer& optimizer) { return add(optimizer.state_parameters()); }

TrainingState& TrainingState::add_host(const std::string& key, Kind kind, void* target) {
  if (key.empty()) throw UsageError("TrainingState::add: empty key");
  for (const Host& h : host_)
    if (h.key == key) throw UsageError(fmt::format("TrainingState::add: key '{}' added twice", key));
  host_.push_back({key, kind, target});
  return *this;
}

TrainingState& TrainingState::add(const std::string& key, int64_t& v) { return add_host(key, Kind::kInt64, &v); }
TrainingState& TrainingState::add(const std::string& key, uint64_t& v) { return add_host(key, Kind::kUint64, &v); }
TrainingState& TrainingState::add(const std::string& key, int& v) { return add_host(key, Kind::kInt, &v); }
TrainingState& TrainingState::add(const std::string& key, double& v) { return add_host(key, Kind::kDouble, &v); }
TrainingState& TrainingState::add(const std::string& key, float& v) { return add_host(key, Kind::kFloat, &v); }
TrainingState& TrainingState::add(const std::string& key, std::mt19937_64& g) { return add_host(key, Kind::kMt64, &g); }
TrainingState& TrainingState::add(const std::string& key, std::mt19937& g) { return add_host(key, Kind::kMt32, &g); }
TrainingState& TrainingState::add(const std::string& key, std::vector<uint32_t>& v) {
  return add_host(key, Kind::kU32Array, &v);
}

TrainingState& TrainingState::require(const std::string& key, const std::string& value) {
  if (key.empty()) throw UsageError("TrainingState::require: empty key");
  required_[key] = value;
  return *this;
}

void TrainingState::save(Environment& env, const std::string& path) const {
  std::vector<TensorRecord> records;
  std::set<std::string> names;
  auto add_record = [&](TensorRecord r) {
    if (!names.insert(r.name).second)
      throw UsageError(fmt::format("TrainingState::save: two tensors are named '{}'", r.name));
    records.push_back(std::move(r));
  };
  for (const Parameter& p : parameters_) add_record({p.name(), p.shape(), env.read_parameter(p)});
  std::map<std::string, std::string> meta{{kFormatKey, kFormatVersion}};
  for (const auto& [key, value] : required_) meta[require_key(key)] = value;
  for (const Host& h : host_) {
    std::string& text = meta[host_key(h.key)];
    switch (h.kind) {
      case Kind::kInt64: text = std::to_string(*static_cast<int64_t*>(h.target)); break;
      case Kind::kUint64: text = std::to_string(*static_cast<uint64_t*>(h.target)); break;
      case Kind::kInt: text = std::to_string(*static_cast<int*>(h.target)); break;
      case Kind::kDouble: text = float_bits<uint64_t>(*static_cast<double*>(h.target)); break;
      case Kind::kFloat: text = float_bits<uint32_t>(*static_cast<float*>(h.target)); break;
      case Kind::kMt64: text = engine_text(*static_cast<std::mt19937_64*>(h.target)); break;
      case Kind::kMt32: text = engine_text(*static_cast<std::mt19937*>(h.target)); break;
      case Kind::kU32Array: {
        const auto& v = *static_cast<std::vector<uint32_t>*>(h.target);
        text = std::to_string(v.size());  // the count; an empty array has no tensor
        if (!v.empty())
          add_record({array_tensor(h.key), Shape{static_cast<int64_t>(v.size()), 2}, split_u32(v)});
        break;
      }
    }
  }
  save_safetensors(path, records, meta);
}

namespace {

FormatError bad_state(const std::string& path, const std::string& what) {
  return FormatError(fmt::format("{}: {} (a TrainingState written by this program with the same "
                                 "setup is expected)", path, what));
}

/// The u32 array of `key` from its [n, 2] tensor of 16-bit halves (checked exactly).
std::vector<uint32_t> parse_array(const std::string& path, const std::string& key, uint64_t n,
                                  const std::map<std::string, const TensorRecord*>& tensors) {
  std::vector<uint32_t> v;
  if (n == 0) return v;
  auto t = tensors.find(array_tensor(key));
  if (t == tensors.end() || t->second->shape != Shape{static_cast<int64_t>(n), 2})
    throw bad_state(path, fmt::format("no [{}, 2] tensor '{}'", n, array_tensor(key)));
  const std::vector<float>& d = t->second->data;
  v.resize(n);
  for (uint64_t i = 0; i < n; ++i) {
    float hi = d[2 * i], lo = d[2 * i + 1];
    bool halves = hi >= 0 && hi < 65536 && lo >= 0 && lo < 65536 &&
                  hi == static_cast<float>(static_cast<uint32_t>(hi)) &&
                  lo == static_cast<float>(static_cast<uint32_t>(lo));
    if (!halves)
      throw bad_state(path, fmt::format("tensor '{}' holds {} / {} in row {}: not 16-bit halves", t->first, hi, lo, i));
    v[i] = static_cast<uint32_t>(hi) << 16 | static_cast<uint32_t>(lo);
  }
  return v;
}

/// A step that assigns `value` to `*target`, once everything has been parsed.
template <class T>
std::function<void()> assign(T value, void* target) {
  return [v = std::make_shared<T>(std::move(value)), t = static_cast<T*>(target)] { *t = *v; };
}

/// Parses `text` as T (integers in decimal, floats as their bits, generators as their state).
template <class T>
bool parse_value(const std::string& text, T* out) {
  if constexpr (std::is_same_v<T, double>) return parse_float_bits<uint64_t>(text, out);
  else if constexpr (std::is_same_v<T, float>) return parse_float_bits<uint32_t>(text, out);
  else if constexpr (std::is_integral_v<T>) return parse_integer(text, out);
  else return parse_engine(text, out);
}

template <class T>
std::function<void()> parsed(const std::string& text, void* target, const FormatError& fail) {
  T v{};
  if (!parse_value(text, &v)) throw fail;
  return assign(std::move(v), target);
}

}  // namespace

std::function<void()> TrainingState::parse_host(
    const Host& h, const std::string& text, const std::string& path,
    const std::map<std::string, const TensorRecord*>& tensors) const {
  FormatError fail = bad_state(path, fmt::format("'{}' is not a valid value: '{:.40}'", h.key, text));
  switch (h.kind) {
    case Kind::kInt64: return parsed<int64_t>(text, h.target, fail);
    case Kind::kUint64: return parsed<uint64_t>(text, h.target, fail);
    case Kind::kInt: return parsed<int>(text, h.target, fail);
    case Kind::kDouble: return parsed<double>(text, h.target, fail);
    case Kind::kFloat: return parsed<float>(text, h.target, fail);
    case Kind::kMt64: return parsed<std::mt19937_64>(text, h.target, fail);
    case Kind::kMt32: return parsed<std::mt19937>(text, h.target, fail);
    case Kind::kU32Array: {
      uint64_t n = 0;
      if (!parse_integer(text, &n)) throw fail;
      return assign(parse_array(path, h.key, n, tensors), h.target);
    }
  }
  throw fail;
}

void TrainingState::load(Environment& env, const std::string& path) {
  std::map<std::string, std::string> meta;
  std::vector<TensorRecord> records = load_safetensors(path, &meta);
  if (meta[kFormatKey] != kFormatVersion) {
    throw bad_state(path, fmt::format("no '{}' = '{}' metadata: not a descent training state",
                                      kFormatKey, kFormatVersion));
  }
  for (const auto& [key, value] : required_) {
    auto it = meta.find(require_key(key));
    if (it == meta.end()) throw bad_state(path, fmt::format("no value for '{}'", key));
    if (it->second != value) {
      throw UsageError(fmt::format("{}: this state was saved with {} = '{}', but this run has '{}'; "
                                   "resume with the same settings", path, key, it->second, value));
    }
  }
  std::map<std::string, const TensorRecord*> by_name;
  for (const TensorRecord& r : records) by_name[r.name] = &r;
  for (const Parameter& p : parameters_) {
    auto it = by_name.find(p.name());
    if (it == by_name.end()) throw bad_state(path, fmt::format("no tensor for parameter '{}'", p.name()));
    if (it->second->shape != p.shape()) {
      throw bad_state(path, fmt::format("tensor '{}' has shape {} but the parameter has shape {}",
                                        p.name(), it->second->shape.str(), p.shape().str()));
    }
  }
  // Every host value is parsed into a commit step first; nothing changes until all of them parse.
  std::vector<std::function<void()>> commits;
  for (const Host& h : host_) {
    auto it = meta.find(host_key(h.key));
    if (it == meta.end()) throw bad_state(path, fmt::format("no value for '{}'", h.key));
    commits.push_back(parse_host(h, it->second, path, by_name));
  }
  for (const Parameter& p : parameters_) env.write_parameter(p, by_name.at(p.name())->data);
  for (auto& commit : commits) commit();
}

}  // namespace descent
