#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace llmux::config {

/// A 1-based line and column (in bytes) inside a text.
struct text_position {
  std::size_t line = 1;
  std::size_t column = 1;
};

/// The line and column of byte `offset` in `text`.
text_position position_of(std::string_view text, std::size_t offset);

/// The byte offset of the first syntax error in `text`, a document simdjson rejected, or nothing
/// when it cannot be pinned down. simdjson's parsers report what went wrong but not where, so
/// this walks the document with the on-demand API, which stops where it fails, and finds
/// string-level faults (unclosed strings, raw control characters, bad UTF-8) by a direct scan.
std::optional<std::size_t> locate_syntax_error(std::string_view text);

} // namespace llmux::config
