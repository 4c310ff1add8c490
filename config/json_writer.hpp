#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace llmux::config {

/// Builds JSON text value by value; the caller keeps the nesting balanced.
class json_writer {
public:
  enum class layout {
    indented, ///< one member per line, two spaces per level: for people
    compact,  ///< no whitespace at all: one line, for SSE events and wire bodies
  };

  explicit json_writer(layout style = layout::indented) : indented_(style == layout::indented) {
  }

  void begin_object();
  void end_object();
  void begin_array();
  void end_array();

  /// The key of the next member; must be followed by exactly one value.
  void key(std::string_view name);

  void string(std::string_view text);
  void boolean(bool flag);
  void integer(std::uint64_t number);
  void real(double number);
  void null();

  /// The text so far.
  const std::string& str() const {
    return out_;
  }

private:
  void open_value();
  void open_scope(char bracket);
  void close_scope(char bracket);

  bool indented_;
  std::string out_;
  std::vector<bool> scope_has_items_;
  bool after_key_ = false;
};

/// `text` as a JSON string literal, quotes included.
std::string json_quote(std::string_view text);
/// Appends `json_quote(text)` to `out`.
void append_json_quoted(std::string& out, std::string_view text);
/// Whether `json_quote(text)` is more than `text` between quotes.
bool json_needs_escape(std::string_view text);

} // namespace llmux::config
