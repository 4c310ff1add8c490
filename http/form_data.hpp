#pragma once

// multipart/form-data (RFC 7578) as far as the proxy reads it: where a request's text fields
// lie, so that the model of an audio request (vLLM reads it from a form field) is found and
// rewritten where the engine will read it.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/parsed.hpp"

namespace llmux::http {

/// The boundary of a `multipart/form-data` Content-Type (its `boundary` parameter, unquoted);
/// nothing when the type is another one or its boundary is missing or unusable (RFC 2046: 1 to
/// 70 characters).
std::optional<std::string> form_boundary(std::string_view content_type);

/// One part of a form.
struct form_part {
  /// The field name from its Content-Disposition (`name`, or RFC 2231's `name*` decoded).
  std::string name;
  /// Whether it is a file (its Content-Disposition has a filename).
  bool is_file = false;
  /// Where its content lies in the body.
  std::size_t value_at = 0;
  std::size_t value_size = 0;
};

/// The parts of a multipart body delimited by `boundary`, in order; a failure (saying why) when
/// the body is not one: no delimiter, no closing delimiter, a part without a blank line after
/// its headers, a part whose Content-Disposition is not form-data or names no field.
config::parsed<std::vector<form_part>> read_form(std::string_view body, std::string_view boundary);

/// The field that decides a name in a form: the last text field called `name`, as the engine's
/// form reader (Starlette's, behind FastAPI) keeps the last value of a repeated name. Null when
/// there is none.
const form_part* last_field(const std::vector<form_part>& parts, std::string_view name);

} // namespace llmux::http
