#include "http/errors.hpp"

#include "config/json_writer.hpp"

namespace llmux::http {

namespace {

struct error_kind {
  std::string_view type;
  std::string_view code;
};

error_kind kind_of(int status) {
  switch (status) {
    case 400:
      return {"invalid_request_error", "bad_request"};
    case 404:
      return {"invalid_request_error", "not_found"};
    case 405:
      return {"invalid_request_error", "method_not_allowed"};
    case 413:
      return {"invalid_request_error", "request_too_large"};
    case 431:
      return {"invalid_request_error", "headers_too_large"};
    case 502:
      return {"engine_error", "engine_unreachable"};
    case 503:
      return {"service_unavailable", "model_unavailable"};
    case 504:
      return {"timeout", "model_timeout"};
    default:
      return {"internal_error", "internal_error"};
  }
}

} // namespace

std::string openai_error(int status, std::string_view message, std::string_view param) {
  auto kind = kind_of(status);
  if (status == 404 && param == "model") {
    kind.code = "model_not_found";
  }
  config::json_writer out(config::json_writer::layout::compact);
  out.begin_object();
  out.key("error");
  out.begin_object();
  out.key("message");
  out.string(message);
  out.key("type");
  out.string(kind.type);
  out.key("param");
  if (param.empty()) {
    out.null();
  } else {
    out.string(param);
  }
  out.key("code");
  out.string(kind.code);
  out.end_object();
  out.end_object();
  return out.str();
}

} // namespace llmux::http
