// Fuzz target: model extraction and the body rewrite. Whatever the body, extraction answers
// without crashing, and a body whose `model` was found and spliced names the new model when
// read again. An input that starts with '-' is read as a multipart/form-data body whose
// boundary is "b" (no JSON object starts so), any other as a JSON body.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "http/model_extract.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string body(reinterpret_cast<const char*>(data), size);
  bool form = !body.empty() && body.front() == '-';
  std::string_view content_type = form ? "multipart/form-data; boundary=b" : "application/json";
  auto found = llmux::http::find_model({}, content_type, body);
  if (!found.body_span) {
    return 0;
  }
  auto [offset, length] = *found.body_span;
  if (offset + length > body.size()) {
    __builtin_trap();
  }
  if (form) {
    if (found.encoding != llmux::http::value_encoding::raw
        || found.model != body.substr(offset, length)) {
      __builtin_trap();
    }
  } else if (length < 2 || body[offset] != '"' || body[offset + length - 1] != '"'
             || found.encoding != llmux::http::value_encoding::json_string) {
    // A JSON span is the quoted token.
    __builtin_trap();
  }
  constexpr std::string_view renamed = "org/model \"x\"\\";
  auto rewritten
    = llmux::http::spliced_body(body, *found.body_span, renamed, found.encoding).joined();
  auto again = llmux::http::find_model({}, content_type, rewritten);
  if (again.model != renamed) {
    __builtin_trap();
  }
  return 0;
}
