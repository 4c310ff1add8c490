#include "tools/mock-vllm/requests.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <regex>

#include <fmt/format.h>
#include <simdjson.h>

namespace llmux::tools::mock_vllm {

namespace {

namespace dom = simdjson::dom;

// Message content is a string or a list of parts of which the `text` ones count.
std::string content_text(const dom::element& content) {
  std::string_view text;
  if (!content.get_string().get(text)) {
    return std::string{text};
  }
  std::string joined;
  dom::array parts;
  if (content.get_array().get(parts)) {
    return joined;
  }
  for (auto part : parts) {
    std::string_view piece;
    if (!part["text"].get_string().get(piece)) {
      joined += piece;
    }
  }
  return joined;
}

std::optional<std::string> read_prompt(endpoint kind, const dom::object& body, std::string& out) {
  if (kind == endpoint::chat) {
    dom::array messages;
    if (body["messages"].get_array().get(messages)) {
      return std::string{"'messages' is required and must be a list"};
    }
    for (auto message : messages) {
      std::string_view role;
      if (message["role"].get_string().get(role)) {
        role = "user";
      }
      dom::element content;
      auto text = message["content"].get(content) ? std::string{} : content_text(content);
      out += fmt::format("{}: {}\n", role, text);
    }
    return std::nullopt;
  }
  auto key = kind == endpoint::completion ? "prompt" : "input";
  dom::element value;
  if (body[key].get(value)) {
    return fmt::format("'{}' is required", key);
  }
  std::string_view text;
  if (!value.get_string().get(text)) {
    out = text;
    return std::nullopt;
  }
  dom::array items;
  if (value.get_array().get(items)) {
    return fmt::format("'{}' must be a string or a list of strings", key);
  }
  for (auto item : items) {
    if (!item.get_string().get(text)) {
      out += text;
      out += '\n';
    }
  }
  return std::nullopt;
}

/// A form field's content and whether it came as a file.
struct form_value {
  std::string content;
  bool file = false;
};

/// The fields of a multipart/form-data body, read plainly (and apart from the proxy's reader,
/// which this engine checks): the body is cut at every "\r\n--boundary", a piece's headers end
/// at its first blank line and its name is its Content-Disposition's `name`. A later field of a
/// name replaces an earlier one, as in Starlette. Nothing when the body is not such a form.
std::optional<std::map<std::string, form_value>> form_fields(std::string_view content_type,
                                                             std::string_view body) {
  static const std::regex boundary_pattern(R"(^multipart/form-data;.*boundary="?([^";]+))",
                                           std::regex::icase);
  static const std::regex name_pattern(R"(;\s*name="?([^";\r\n]*))", std::regex::icase);
  static const std::regex file_pattern(R"(;\s*filename\*?=)", std::regex::icase);
  std::match_results<std::string_view::const_iterator> match;
  if (!std::regex_search(content_type.begin(), content_type.end(), match, boundary_pattern)) {
    return std::nullopt;
  }
  auto marker = "\r\n--" + match[1].str();
  auto framed = "\r\n" + std::string(body);
  std::map<std::string, form_value> fields;
  auto at = framed.find(marker);
  while (at != std::string::npos) {
    at += marker.size();
    if (framed.compare(at, 2, "--") == 0) {
      return fields;
    }
    auto next = framed.find(marker, at);
    auto blank = framed.find("\r\n\r\n", at);
    if (next == std::string::npos || blank == std::string::npos || blank > next) {
      return std::nullopt;
    }
    auto headers = std::string_view(framed).substr(at, blank - at);
    if (std::regex_search(headers.begin(), headers.end(), match, name_pattern)) {
      fields[match[1].str()] = {framed.substr(blank + 4, next - blank - 4),
                                std::regex_search(headers.begin(), headers.end(), file_pattern)};
    }
    at = next;
  }
  return std::nullopt;
}

bool form_flag(const std::map<std::string, form_value>& fields, const std::string& name) {
  auto found = fields.find(name);
  if (found == fields.end()) {
    return false;
  }
  auto text = found->second.content;
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text == "true" || text == "1" || text == "yes" || text == "on" || text == "t"
         || text == "y";
}

} // namespace

config::parsed<generation_request> parse_audio_request(endpoint kind, std::string_view content_type,
                                                       std::string_view body) {
  using result = config::parsed<generation_request>;
  auto fields = form_fields(content_type, body);
  if (!fields) {
    return result::failure("the request must be a multipart/form-data form");
  }
  auto file = fields->find("file");
  if (file == fields->end() || !file->second.file) {
    return result::failure("'file' is required and must be an uploaded file");
  }
  generation_request request;
  request.kind = kind;
  if (auto model = fields->find("model"); model != fields->end()) {
    request.model = model->second.content;
  }
  request.prompt = file->second.content;
  request.stream = form_flag(*fields, "stream");
  request.include_usage = form_flag(*fields, "stream_include_usage");
  return request;
}

config::parsed<generation_request> parse_generation_request(endpoint kind, std::string_view body) {
  using result = config::parsed<generation_request>;
  // Python's json.loads, which vLLM's server reads bodies with, skips a UTF-8 byte order mark.
  if (body.starts_with("\xEF\xBB\xBF")) {
    body.remove_prefix(3);
  }
  dom::parser parser;
  dom::element root;
  if (auto err = parser.parse(body.data(), body.size()).get(root)) {
    return result::failure(fmt::format("JSON decode error: {}", simdjson::error_message(err)));
  }
  dom::object object;
  if (root.get_object().get(object)) {
    return result::failure("the request body must be a JSON object");
  }
  generation_request request;
  request.kind = kind;
  std::string_view model;
  if (!object["model"].get_string().get(model)) {
    request.model = model;
  }
  if (auto error = read_prompt(kind, object, request.prompt)) {
    return result::failure(*error);
  }
  std::uint64_t number = 0;
  if (!object["max_completion_tokens"].get_uint64().get(number)
      || !object["max_tokens"].get_uint64().get(number)) {
    request.max_tokens = number;
  }
  std::int64_t seed = 0;
  if (!object["seed"].get_int64().get(seed)) {
    request.seed = static_cast<std::uint64_t>(seed);
  }
  bool flag = false;
  if (!object["stream"].get_bool().get(flag)) {
    request.stream = flag;
  }
  if (!object["ignore_eos"].get_bool().get(flag)) {
    request.ignore_eos = flag;
  }
  dom::object stream_options;
  if (!object["stream_options"].get_object().get(stream_options)) {
    // vLLM: include_usage defaults to true once stream_options is given.
    request.include_usage = true;
    if (!stream_options["include_usage"].get_bool().get(flag)) {
      request.include_usage = flag;
    }
  }
  return request;
}

config::parsed<std::string> parse_collective_rpc(std::string_view body) {
  using result = config::parsed<std::string>;
  dom::parser parser;
  dom::element root;
  if (auto err = parser.parse(body.data(), body.size()).get(root)) {
    return result::failure(fmt::format("JSON decode error: {}", simdjson::error_message(err)));
  }
  std::string_view method;
  if (root["method"].get_string().get(method)) {
    return result::failure("Missing 'method' in request body");
  }
  return std::string{method};
}

} // namespace llmux::tools::mock_vllm
