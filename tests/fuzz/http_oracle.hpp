#pragma once

// What the fuzz targets that judge llmux's reading of HTTP messages share.

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace llmux::fuzz {

inline std::string lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

/// A target's input: the message, and the size of the pieces it is also given in (set by the
/// input's first byte, 1 to 16).
struct pieced_message {
  std::string_view message;
  std::size_t piece;
};

inline std::optional<pieced_message> pieced(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return std::nullopt;
  }
  return pieced_message{{reinterpret_cast<const char*>(data) + 1, size - 1},
                        std::size_t{data[0]} % 16 + 1};
}

/// What Beast reads but llmux's parsers refuse, as RFC 9112 allows: a folded header line
/// (section 5.2), and a Transfer-Encoding other than one chunked, or one beside a
/// Content-Length (section 6.3). `answer` has a head Beast parsed.
inline bool refused_by_design(std::string_view answer) {
  auto head = answer.substr(0, answer.find("\r\n\r\n"));
  head.remove_prefix(std::min(head.size(), head.find("\r\n")));
  int codings = 0;
  bool chunked_only = true;
  bool length = false;
  while (!head.empty()) {
    head.remove_prefix(2);
    auto line = head.substr(0, head.find("\r\n"));
    head.remove_prefix(line.size());
    if (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
      return true;
    }
    auto colon = line.find(':');
    auto name = lower(line.substr(0, colon));
    auto value = colon == std::string_view::npos ? std::string_view{} : line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
      value.remove_prefix(1);
    }
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
      value.remove_suffix(1);
    }
    if (name == "transfer-encoding") {
      ++codings;
      chunked_only = chunked_only && lower(value) == "chunked";
    }
    length = length || name == "content-length";
  }
  return codings > 0 && (codings > 1 || !chunked_only || length);
}

} // namespace llmux::fuzz
