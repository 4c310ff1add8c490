#include "config/json_writer.hpp"

#include <fmt/format.h>

namespace llmux::config {

std::string json_quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

// Puts the separator and indentation that must precede a value in the current scope.
void json_writer::open_value() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (scope_has_items_.empty()) {
    return;
  }
  if (scope_has_items_.back()) {
    out_ += ',';
  }
  scope_has_items_.back() = true;
  if (indented_) {
    out_ += '\n';
    out_.append(2 * scope_has_items_.size(), ' ');
  }
}

void json_writer::open_scope(char bracket) {
  open_value();
  out_ += bracket;
  scope_has_items_.push_back(false);
}

void json_writer::close_scope(char bracket) {
  bool had_items = scope_has_items_.back();
  scope_has_items_.pop_back();
  if (had_items && indented_) {
    out_ += '\n';
    out_.append(2 * scope_has_items_.size(), ' ');
  }
  out_ += bracket;
}

void json_writer::begin_object() {
  open_scope('{');
}

void json_writer::end_object() {
  close_scope('}');
}

void json_writer::begin_array() {
  open_scope('[');
}

void json_writer::end_array() {
  close_scope(']');
}

void json_writer::key(std::string_view name) {
  open_value();
  out_ += json_quote(name);
  out_ += indented_ ? ": " : ":";
  after_key_ = true;
}

void json_writer::string(std::string_view text) {
  open_value();
  out_ += json_quote(text);
}

void json_writer::boolean(bool flag) {
  open_value();
  out_ += flag ? "true" : "false";
}

void json_writer::integer(std::uint64_t number) {
  open_value();
  out_ += std::to_string(number);
}

void json_writer::real(double number) {
  open_value();
  // Shortest text that reads back as the same double; always with a '.' or exponent so the
  // value stays a JSON number that is visibly not an integer.
  auto text = fmt::format("{}", number);
  if (text.find_first_of(".eE") == std::string::npos) {
    text += ".0";
  }
  out_ += text;
}

void json_writer::null() {
  open_value();
  out_ += "null";
}

} // namespace llmux::config
