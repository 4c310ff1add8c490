#include "http/model_extract.hpp"

#include <simdjson.h>

#include "config/json_writer.hpp"

namespace llmux::http {

namespace {

namespace od = simdjson::ondemand;

bool is_visible_ascii(std::string_view text) {
  for (char c : text) {
    if (c < 0x21 || c > 0x7e) {
      return false;
    }
  }
  return !text.empty();
}

std::string_view trim_trailing_space(std::string_view token) {
  while (!token.empty()
         && (token.back() == ' ' || token.back() == '\n' || token.back() == '\r'
             || token.back() == '\t')) {
    token.remove_suffix(1);
  }
  return token;
}

} // namespace

model_reference find_model(std::string_view override_header, std::string& body) {
  model_reference result;
  if (is_visible_ascii(override_header)) {
    result.model = override_header;
  }
  if (body.empty()) {
    return result;
  }
  // Parsers are not thread-safe: one per io thread, reused across requests.
  thread_local od::parser parser;
  // Free when the body came with its length (client_request::body_slack).
  body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  simdjson::padded_string_view json(body.data(), body.size(), body.capacity());
  od::document document;
  od::object object;
  auto fail = [&](std::string message) {
    if (result.model.empty()) {
      result.error = std::move(message);
    }
    return result;
  };
  if (parser.iterate(json).get(document) || document.get_object().get(object)) {
    return fail("the request body is not a JSON object");
  }
  for (auto field : object) {
    std::string_view key;
    if (field.unescaped_key().get(key)) {
      return fail("the request body is not valid JSON");
    }
    if (key != "model") {
      continue;
    }
    auto value = field.value();
    std::string_view token;
    std::string_view name;
    if (value.raw_json_token().get(token) || value.get_string().get(name)) {
      return fail("the request body's \"model\" must be a string");
    }
    token = trim_trailing_space(token);
    result.body_span = {static_cast<std::size_t>(token.data() - body.data()), token.size()};
    if (result.model.empty()) {
      result.model = name;
    }
    break;
  }
  return result;
}

bool wants_stream(const std::string& body) {
  thread_local od::parser parser;
  if (body.empty() || body.capacity() < body.size() + simdjson::SIMDJSON_PADDING) {
    return false;
  }
  simdjson::padded_string_view json(body.data(), body.size(), body.capacity());
  od::document document;
  od::object object;
  if (parser.iterate(json).get(document) || document.get_object().get(object)) {
    return false;
  }
  for (auto field : object) {
    std::string_view key;
    if (field.unescaped_key().get(key)) {
      return false;
    }
    if (key == "stream") {
      bool stream = false;
      return !field.value().get_bool().get(stream) && stream;
    }
  }
  return false;
}

spliced_body::spliced_body(std::string_view body, std::pair<std::size_t, std::size_t> span,
                           std::string_view value) {
  auto [at, length] = span;
  if (config::json_needs_escape(value)) {
    before_ = body.substr(0, at);
    config::append_json_quoted(escaped_, value);
    after_ = body.substr(at + length);
    return;
  }
  // Between the token's own quotes.
  before_ = body.substr(0, at + 1);
  value_ = value;
  after_ = body.substr(at + length - 1);
}

std::size_t spliced_body::size() const {
  std::size_t size = 0;
  for (auto piece : pieces()) {
    size += piece.size();
  }
  return size;
}

std::string spliced_body::joined() const {
  std::string out;
  out.reserve(size());
  for (auto piece : pieces()) {
    out += piece;
  }
  return out;
}

} // namespace llmux::http
