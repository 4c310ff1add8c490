#include "tools/mock-vllm/requests.hpp"

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

} // namespace

config::parsed<generation_request> parse_generation_request(endpoint kind, std::string_view body) {
  using result = config::parsed<generation_request>;
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
