#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "config/diagnostics.hpp"

/// Reading JSON objects member by member into C++ fields, reporting every problem with its
/// JSON path. The configuration reader builds its schema from these pieces.
namespace llmux::config::json_fields {

namespace dom = simdjson::dom;

/// The names of the keys an object may hold.
using key_list = std::span<const std::string_view>;

/// The JSON type of `value` as a user reads it: "integer", "string", "object", ...
std::string_view type_name(const dom::element& value);

/// Reports that `value` at `path` is not what was `expected` ("a string", "an object", ...).
void type_error(diagnostics& out, const std::string& path, std::string_view expected,
                const dom::element& value);

/// The members of one JSON object, handed out by key. Duplicate keys are errors; members that
/// nobody took are reported as unknown (with the closest known key) when the reader goes away.
class object_reader {
public:
  object_reader(dom::object object, std::string path, key_list known, diagnostics& out);
  object_reader(const object_reader&) = delete;
  object_reader& operator=(const object_reader&) = delete;
  ~object_reader();

  /// The first value under `key`, if the object has one; marks the key as known.
  std::optional<dom::element> take(std::string_view key);

  /// The JSON path of the member `key`.
  std::string path_of(std::string_view key) const {
    return member_path(path_, key);
  }

  diagnostics& out() {
    return out_;
  }

private:
  struct member {
    std::string_view key;
    dom::element value;
    bool taken;
  };

  std::string path_;
  key_list known_;
  diagnostics& out_;
  std::vector<member> members_;
};

/// `value` as an object, or nothing after reporting that it is none.
std::optional<dom::object> as_object(const dom::element& value, const std::string& path,
                                     diagnostics& out);

// Converters: read one JSON value into a field, or report why not and leave the field unchanged.

void convert(const dom::element& value, const std::string& path, diagnostics& out, bool& field);
void convert(const dom::element& value, const std::string& path, diagnostics& out,
             std::string& field);
void convert(const dom::element& value, const std::string& path, diagnostics& out,
             std::uint64_t& field);
/// A port number, 0 to 65535.
void convert(const dom::element& value, const std::string& path, diagnostics& out,
             std::uint16_t& field);
/// A finite number of at least 0.
void convert(const dom::element& value, const std::string& path, diagnostics& out, double& field);
void convert(const dom::element& value, const std::string& path, diagnostics& out,
             std::vector<std::string>& field);

} // namespace llmux::config::json_fields
