// Fuzz target: model extraction and the body rewrite. Whatever the body, extraction answers
// without crashing, and a body whose `model` was found and spliced names the new model when
// read again.

#include <cstddef>
#include <cstdint>
#include <string>

#include "http/model_extract.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string body(reinterpret_cast<const char*>(data), size);
  auto found = llmux::http::find_model({}, body);
  if (!found.body_span) {
    return 0;
  }
  // The span is (offset, length) of the quoted token.
  auto [offset, length] = *found.body_span;
  if (length < 2 || offset + length > body.size() || body[offset] != '"'
      || body[offset + length - 1] != '"') {
    __builtin_trap();
  }
  auto rewritten = llmux::http::spliced_body(body, *found.body_span, "org/model \"x\"\\").joined();
  auto again = llmux::http::find_model({}, rewritten);
  if (again.model != "org/model \"x\"\\") {
    __builtin_trap();
  }
  return 0;
}
