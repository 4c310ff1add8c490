#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace llmux::config {

/// The outcome of parsing one user-supplied value: the value, or a message saying what is wrong.
template <class T>
class parsed {
public:
  /// A successful parse.
  parsed(T value) : value_(std::move(value)) {
  }

  /// A failed parse, with a message meant for the user.
  static parsed failure(std::string message) {
    parsed result;
    result.error_ = std::move(message);
    return result;
  }

  explicit operator bool() const {
    return value_.has_value();
  }

  const T& operator*() const {
    return *value_;
  }

  const T* operator->() const {
    return &*value_;
  }

  /// Why the parse failed; empty on success.
  const std::string& error() const {
    return error_;
  }

private:
  parsed() = default;

  std::optional<T> value_;
  std::string error_;
};

/// `text` as a whole unsigned decimal number, or nothing when it is anything else.
inline std::optional<std::uint64_t> parse_unsigned(std::string_view text) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

} // namespace llmux::config
