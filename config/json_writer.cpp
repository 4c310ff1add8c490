#include "config/json_writer.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace llmux::config {

namespace {

bool needs_escape(char c) {
  return c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20;
}

} // namespace

bool json_needs_escape(std::string_view text) {
  return std::any_of(text.begin(), text.end(), needs_escape);
}

void append_json_quoted(std::string& out, std::string_view text) {
  out += '"';
  while (!text.empty()) {
    // Runs without anything to escape (all of a model name, usually) go in one append.
    auto run = static_cast<std::size_t>(std::find_if(text.begin(), text.end(), needs_escape)
                                        - text.begin());
    out.append(text.substr(0, run));
    if (run == text.size()) {
      break;
    }
    char c = text[run];
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
        out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
    }
    text.remove_prefix(run + 1);
  }
  out += '"';
}

std::string json_quote(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  append_json_quoted(out, text);
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
