#pragma once

// What the fuzz targets that judge llmux's reading of an engine's answer share.

#include <algorithm>
#include <cctype>
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

/// What Beast reads but llmux's engine_response_parser refuses, as RFC 9112 allows a proxy
/// to: a folded header line (section 5.2), and a Transfer-Encoding other than one chunked, or
/// one beside a Content-Length (section 6.3). `answer` has a head Beast parsed.
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
