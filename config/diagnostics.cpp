#include "config/diagnostics.hpp"

#include <algorithm>
#include <cctype>
#include <utility>

#include <fmt/format.h>

namespace llmux::config {

void diagnostics::error(std::string path, std::string message) {
  items_.push_back({severity::error, std::move(path), std::move(message)});
}

void diagnostics::warning(std::string path, std::string message) {
  items_.push_back({severity::warning, std::move(path), std::move(message)});
}

void diagnostics::note(std::string path, std::string message) {
  items_.push_back({severity::note, std::move(path), std::move(message)});
}

bool diagnostics::has_errors() const {
  return std::any_of(items_.begin(), items_.end(),
                     [](const diagnostic& item) { return item.level == severity::error; });
}

namespace {

bool is_plain_key(std::string_view key) {
  return !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

} // namespace

std::string member_path(const std::string& parent, std::string_view key) {
  if (is_plain_key(key)) {
    return parent.empty() ? std::string{key} : fmt::format("{}.{}", parent, key);
  }
  std::string quoted;
  for (char c : key) {
    if (c == '"' || c == '\\') {
      quoted += '\\';
    }
    quoted += c;
  }
  return fmt::format("{}[\"{}\"]", parent, quoted);
}

std::string format_diagnostic(const diagnostic& item) {
  std::string_view label = item.level == severity::error     ? "error"
                           : item.level == severity::warning ? "warning"
                                                             : "note";
  if (item.path.empty()) {
    return fmt::format("{}: {}", label, item.message);
  }
  return fmt::format("{}: {}: {}", label, item.path, item.message);
}

} // namespace llmux::config
