#include "http/model_extract.hpp"

#include <simdjson.h>

#include <boost/beast/core/string.hpp>

#include "config/json_writer.hpp"
#include "http/form_data.hpp"

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

/// Whether a form field's text is true as the engine's boolean fields read it (pydantic).
bool is_true_text(std::string_view text) {
  for (std::string_view word : {"true", "1", "yes", "on", "t", "y"}) {
    if (boost::beast::iequals(text, word)) {
      return true;
    }
  }
  return false;
}

/// The model of a multipart/form-data body into `result`; false (with `error`) when the body
/// is not a form.
bool find_form_model(std::string_view body, std::string_view boundary, model_reference& result,
                     std::string& error) {
  auto form = read_form(body, boundary);
  if (!form) {
    error = "the request body is not multipart/form-data: " + form.error();
    return false;
  }
  const auto* stream = last_field(*form, "stream");
  result.stream
    = stream && !stream->is_file && is_true_text(body.substr(stream->value_at, stream->value_size));
  const auto* field = last_field(*form, "model");
  if (!field) {
    return true;
  }
  if (field->is_file) {
    error = "the form's \"model\" must be a text field, not a file";
    return false;
  }
  result.body_span = {field->value_at, field->value_size};
  result.encoding = value_encoding::raw;
  if (result.model.empty()) {
    result.model = body.substr(field->value_at, field->value_size);
  }
  return true;
}

/// A body's JSON text for simdjson, in place (its padding reserved): past a UTF-8 byte order
/// mark, which Python's json.loads (the engine's reader) skips.
simdjson::padded_string_view json_text(const std::string& body) {
  constexpr std::string_view byte_order_mark = "\xEF\xBB\xBF";
  auto skip = std::string_view(body).starts_with(byte_order_mark) ? byte_order_mark.size() : 0;
  return simdjson::padded_string_view(body.data() + skip, body.size() - skip,
                                      body.capacity() - skip);
}

/// The model of a JSON body into `result`; false (with `error`) when the body is not a JSON
/// object or its model not a string.
bool find_json_model(std::string& body, model_reference& result, std::string& error) {
  // Parsers are not thread-safe: one per io thread, reused across requests.
  thread_local od::parser parser;
  // Free when the body came with its length (client_request::body_slack).
  body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  auto json = json_text(body);
  od::document document;
  od::object object;
  if (parser.iterate(json).get(document) || document.get_object().get(object)) {
    error = "the request body is not a JSON object";
    return false;
  }
  std::optional<std::string_view> token;
  // Not an optional: g++ 12 at -O2 takes an optional string_view here for uninitialized.
  std::string_view name;
  bool named = false;
  bool stream = false;
  for (auto field : object) {
    std::string_view key;
    if (field.unescaped_key().get(key)) {
      error = "the request body is not valid JSON";
      return false;
    }
    // The last one counts; one that is not a boolean makes the engine refuse the request.
    if (key == "stream" && field.value().get_bool().get(stream)) {
      stream = false;
    }
    if (key != "model") {
      continue;
    }
    // Read on to the end: a later "model" is the one the engine keeps.
    auto value = field.value();
    std::string_view raw;
    std::string_view text;
    if (value.raw_json_token().get(raw) || value.get_string().get(text)) {
      token = raw;
      named = false;
      continue;
    }
    token = trim_trailing_space(raw);
    name = text;
    named = true;
  }
  result.stream = stream;
  if (token && !named) {
    error = "the request body's \"model\" must be a string";
    return false;
  }
  if (named) {
    result.body_span = {static_cast<std::size_t>(token->data() - body.data()), token->size()};
    if (result.model.empty()) {
      result.model = name;
    }
  }
  return true;
}

} // namespace

model_reference find_model(std::string_view override_header, std::string_view content_type,
                           std::string& body) {
  model_reference result;
  if (is_visible_ascii(override_header)) {
    result.model = override_header;
  }
  if (body.empty()) {
    return result;
  }
  std::string error;
  auto boundary = form_boundary(content_type);
  bool read = boundary ? find_form_model(body, *boundary, result, error)
                       : find_json_model(body, result, error);
  if (!read && result.model.empty()) {
    result.error = std::move(error);
  }
  return result;
}

spliced_body::spliced_body(std::string_view body, std::pair<std::size_t, std::size_t> span,
                           std::string_view value, value_encoding encoding) {
  auto [at, length] = span;
  if (encoding == value_encoding::raw) {
    before_ = body.substr(0, at);
    value_ = value;
    after_ = body.substr(at + length);
    return;
  }
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
