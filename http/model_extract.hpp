#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace llmux::http {

/// Where a request names its model, and how to rewrite it.
struct model_reference {
  /// The model the client asked for; empty when it named none.
  std::string model;
  /// Byte range of the body's `model` string token (quotes included), when the body has one.
  std::optional<std::pair<std::size_t, std::size_t>> body_span;
  /// Why the body could not be read; empty when it could (or did not need to be).
  std::string error;
};

/// The model of a request: the `model-override` header wins, else the JSON body's top-level
/// `model` string. `body` gets simdjson's padding reserved (its size and content stay). The
/// body is parsed once, without a copy; a body that is not a JSON object is an error only when
/// the header names no model.
model_reference find_model(std::string_view override_header, std::string& body);

/// Whether the JSON body asks for a streamed answer (`"stream": true` at its top level). `body`
/// must have simdjson's padding reserved (`find_model` does that).
bool wants_stream(const std::string& body);

/// `body` with the byte range `span` replaced by `value` as a JSON string: the `model` field
/// rewritten without re-serialising the document.
std::string splice_model(std::string_view body, std::pair<std::size_t, std::size_t> span,
                         std::string_view value);

} // namespace llmux::http
