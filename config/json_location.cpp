#include "config/json_location.hpp"

#include <simdjson.h>

namespace llmux::config {

namespace {

namespace od = simdjson::ondemand;

// Reads every value so that the on-demand parser validates all of it, stopping at the first
// fault. A depth limit keeps hostile nesting from exhausting the stack.
simdjson::error_code walk(od::value value, int depth) {
  if (depth > 256) {
    return simdjson::DEPTH_ERROR;
  }
  od::json_type type;
  if (auto err = value.type().get(type)) {
    return err;
  }
  switch (type) {
    case od::json_type::object: {
      od::object object;
      if (auto err = value.get_object().get(object)) {
        return err;
      }
      for (auto field : object) {
        std::string_view key;
        if (auto err = field.unescaped_key().get(key)) {
          return err;
        }
        if (auto err = walk(field.value(), depth + 1)) {
          return err;
        }
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::array: {
      od::array array;
      if (auto err = value.get_array().get(array)) {
        return err;
      }
      for (auto element : array) {
        od::value item;
        if (auto err = element.get(item)) {
          return err;
        }
        if (auto err = walk(item, depth + 1)) {
          return err;
        }
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::string: {
      std::string_view text;
      return value.get_string().get(text);
    }
    case od::json_type::number: {
      od::number number;
      return value.get_number().get(number);
    }
    case od::json_type::boolean: {
      bool flag = false;
      return value.get_bool().get(flag);
    }
    case od::json_type::null: {
      bool is_null = false;
      if (auto err = value.is_null().get(is_null)) {
        return err;
      }
      return is_null ? simdjson::SUCCESS : simdjson::N_ATOM_ERROR;
    }
  }
  return simdjson::SUCCESS;
}

// Length of the UTF-8 sequence starting at `text[i]`, or 0 when it is malformed there.
std::size_t utf8_sequence_length(std::string_view text, std::size_t i) {
  auto lead = static_cast<unsigned char>(text[i]);
  std::size_t length = lead < 0x80                   ? 1
                       : lead >= 0xC2 && lead < 0xE0 ? 2
                       : lead >= 0xE0 && lead < 0xF0 ? 3
                       : lead >= 0xF0 && lead < 0xF5 ? 4
                                                     : 0;
  if (length == 0 || i + length > text.size()) {
    return 0;
  }
  for (std::size_t k = 1; k < length; ++k) {
    if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) {
      return 0;
    }
  }
  return length;
}

// Finds the faults simdjson's first stage reports for the whole document at once.
std::optional<std::size_t> scan_string_faults(std::string_view text) {
  std::optional<std::size_t> open_quote;
  for (std::size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    auto length = utf8_sequence_length(text, i);
    if (length == 0) {
      return i;
    }
    if (open_quote) {
      // A string that runs into a line break was most likely never closed: point at its start.
      if (c == '\n') {
        return open_quote;
      }
      if (c < 0x20) {
        return i;
      }
      if (c == '\\') {
        i += 2;
        continue;
      }
      if (c == '"') {
        open_quote.reset();
      }
    } else if (c == '"') {
      open_quote = i;
    }
    i += length;
  }
  return open_quote;
}

} // namespace

text_position position_of(std::string_view text, std::size_t offset) {
  text_position position;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++position.line;
      position.column = 1;
    } else {
      ++position.column;
    }
  }
  return position;
}

std::optional<std::size_t> locate_syntax_error(std::string_view text) {
  simdjson::padded_string padded(text);
  od::parser parser;
  od::document document;
  if (parser.iterate(padded).get(document)) {
    if (auto offset = scan_string_faults(text)) {
      return offset;
    }
    return text.find_first_not_of(" \t\r\n") == std::string_view::npos
             ? std::optional<std::size_t>{0}
             : std::nullopt;
  }
  od::value root;
  auto err = document.get_value().get(root);
  if (!err) {
    err = walk(root, 0);
  }
  const char* location = nullptr;
  if (document.current_location().get(location)) {
    // The walk used up the document: a fault found there means it ended too early.
    return err ? std::optional<std::size_t>{text.size()} : std::nullopt;
  }
  return static_cast<std::size_t>(location - padded.data());
}

} // namespace llmux::config
