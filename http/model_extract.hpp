#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace llmux::http {

/// How a body holds its model's name.
enum class value_encoding {
  /// A JSON string token, quotes included.
  json_string,
  /// A form field's content, as it is.
  raw,
};

/// Where a request names its model, and how to rewrite it.
struct model_reference {
  /// The model the client asked for; empty when it named none.
  std::string model;
  /// Byte range of the body's model value, when the body has one.
  std::optional<std::pair<std::size_t, std::size_t>> body_span;
  /// What that range holds.
  value_encoding encoding = value_encoding::json_string;
  /// Whether the body asks for a streamed answer: `"stream": true` at a JSON body's top level, a
  /// form's `stream` field true as the engine reads a boolean ("true", "1", "yes", "on", ...);
  /// the last one counts.
  bool stream = false;
  /// Why the body could not be read; empty when it could (or did not need to be).
  std::string error;
};

/// The model of a request: the `model-override` header wins, else the body's, read as the
/// engine reads it: a `multipart/form-data` body's `model` field (vLLM's audio endpoints), any
/// other body's top-level JSON `model` string. Where a name is given twice the last counts (as
/// Python's JSON and form readers keep it). `body` gets simdjson's padding reserved (its size
/// and content stay); it is parsed once, without a copy. A body that cannot be read is an error
/// only when the header names no model. The same reading says whether the body asks for a
/// stream.
model_reference find_model(std::string_view override_header, std::string_view content_type,
                           std::string& body);

/// A body with its `model` value replaced, as pieces to be written out one after the other: two
/// of them point into the body, one at the new value, so the body is neither copied nor
/// re-serialised. Views: valid while the body and the value are.
class spliced_body {
public:
  /// The body unchanged (one piece).
  explicit spliced_body(std::string_view whole) : before_(whole) {
  }
  /// `body` with the byte range `span`, which holds a value encoded as `encoding`, replaced by
  /// `value` encoded the same way.
  spliced_body(std::string_view body, std::pair<std::size_t, std::size_t> span,
               std::string_view value, value_encoding encoding = value_encoding::json_string);

  /// The bytes, in order (some pieces may be empty).
  std::array<std::string_view, 3> pieces() const {
    return {before_, escaped_.empty() ? value_ : std::string_view(escaped_), after_};
  }
  std::size_t size() const;
  /// The pieces joined (tests, fuzzing).
  std::string joined() const;

private:
  std::string_view before_;
  std::string_view value_;
  std::string_view after_;
  /// The value as a JSON string when it has characters to escape (rare: then the body's own
  /// quotes are not used).
  std::string escaped_;
};

} // namespace llmux::http
