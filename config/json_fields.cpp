#include "config/json_fields.hpp"

#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "config/suggest.hpp"

namespace llmux::config::json_fields {

std::string_view type_name(const dom::element& value) {
  switch (value.type()) {
    case dom::element_type::ARRAY:
      return "array";
    case dom::element_type::OBJECT:
      return "object";
    case dom::element_type::INT64:
    case dom::element_type::UINT64:
      return "integer";
    case dom::element_type::DOUBLE:
      return "number";
    case dom::element_type::STRING:
      return "string";
    case dom::element_type::BOOL:
      return "boolean";
    case dom::element_type::NULL_VALUE:
      return "null";
  }
  return "value";
}

/// The members of one JSON object, handed out by key; what nobody asked for is reported as
/// unknown when the reader goes out of scope.

void type_error(diagnostics& out, const std::string& path, std::string_view expected,
                const dom::element& value) {
  out.error(path, fmt::format("expected {}, found {}", expected, type_name(value)));
}

// Converters: read one JSON value into a C++ field, or report why not and leave it unchanged.

object_reader::object_reader(dom::object object, std::string path, key_list known, diagnostics& out)
  : path_(std::move(path)), known_(known), out_(out) {
  for (auto [key, value] : object) {
    for (const auto& seen : members_) {
      if (seen.key == key) {
        out_.error(member_path(path_, key), "duplicate key; each key may appear only once");
      }
    }
    members_.push_back({key, value, false});
  }
}

object_reader::~object_reader() {
  for (const auto& member : members_) {
    if (member.taken) {
      continue;
    }
    auto hint = closest_match(member.key, known_);
    out_.warning(member_path(path_, member.key),
                 hint ? fmt::format("unknown key, ignored; did you mean \"{}\"?", *hint)
                      : std::string{"unknown key, ignored"});
  }
}

std::optional<dom::element> object_reader::take(std::string_view key) {
  std::optional<dom::element> found;
  for (auto& member : members_) {
    if (member.key == key) {
      member.taken = true;
      if (!found) {
        found = member.value;
      }
    }
  }
  return found;
}

std::optional<dom::object> as_object(const dom::element& value, const std::string& path,
                                     diagnostics& out) {
  dom::object object;
  if (value.get_object().get(object)) {
    type_error(out, path, "an object", value);
    return std::nullopt;
  }
  return object;
}

// Reads a JSON object through `fill(object_reader&)`, or reports that the value is no object.

void convert(const dom::element& value, const std::string& path, diagnostics& out, bool& field) {
  if (value.get_bool().get(field)) {
    type_error(out, path, "a boolean", value);
  }
}

void convert(const dom::element& value, const std::string& path, diagnostics& out,
             std::string& field) {
  std::string_view text;
  if (value.get_string().get(text)) {
    type_error(out, path, "a string", value);
    return;
  }
  field.assign(text);
}

void convert(const dom::element& value, const std::string& path, diagnostics& out,
             std::uint64_t& field) {
  std::int64_t signed_value = 0;
  if (value.is_int64() && !value.get_int64().get(signed_value) && signed_value < 0) {
    out.error(path, fmt::format("expected a non-negative integer, found {}", signed_value));
    return;
  }
  if (value.get_uint64().get(field)) {
    type_error(out, path, "a non-negative integer", value);
  }
}

void convert(const dom::element& value, const std::string& path, diagnostics& out,
             std::uint16_t& field) {
  std::uint64_t wide = 0;
  diagnostics local;
  convert(value, path, local, wide);
  if (local.has_errors() || wide > std::numeric_limits<std::uint16_t>::max()) {
    out.error(path, value.is_number()
                      ? fmt::format("expected a port number from 0 to 65535, found {}",
                                    simdjson::minify(value))
                      : fmt::format("expected a port number, found {}", type_name(value)));
    return;
  }
  field = static_cast<std::uint16_t>(wide);
}

void convert(const dom::element& value, const std::string& path, diagnostics& out, double& field) {
  double number = 0;
  if (value.get_double().get(number)) {
    type_error(out, path, "a number", value);
    return;
  }
  if (!std::isfinite(number) || number < 0) {
    out.error(path, fmt::format("expected a finite number of at least 0, found {}", number));
    return;
  }
  field = number;
}

void convert(const dom::element& value, const std::string& path, diagnostics& out,
             std::vector<std::string>& field) {
  dom::array array;
  if (value.get_array().get(array)) {
    type_error(out, path, "an array of strings", value);
    return;
  }
  std::vector<std::string> items;
  std::size_t index = 0;
  for (auto item : array) {
    std::string text;
    convert(item, fmt::format("{}[{}]", path, index++), out, text);
    items.push_back(std::move(text));
  }
  field = std::move(items);
}

} // namespace llmux::config::json_fields
