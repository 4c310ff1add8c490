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
    case 401:
      return {"invalid_request_error", "invalid_api_key"};
    case 404:
      return {"invalid_request_error", "not_found"};
    case 405:
      return {"invalid_request_error", "method_not_allowed"};
    case 408:
      return {"timeout", "request_timeout"};
    case 413:
      return {"invalid_request_error", "request_too_large"};
    case 429:
      return {"rate_limit_error", "rate_limit_exceeded"};
    case 431:
      return {"invalid_request_error", "headers_too_large"};
    case 501:
      return {"invalid_request_error", "not_implemented"};
    case 502:
      return {"engine_error", "engine_unreachable"};
    case 503:
      return {"service_unavailable", "model_unavailable"};
    case 504:
      return {"timeout", "model_timeout"};
    case 505:
      return {"invalid_request_error", "http_version_not_supported"};
    default:
      return {"internal_error", "internal_error"};
  }
}

std::string error_body(std::string_view message, error_kind kind, std::string_view param) {
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

std::string_view anthropic_type(int status) {
  switch (status) {
    case 400:
    case 405:
    case 431:
      return "invalid_request_error";
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 503:
    case 529:
      return "overloaded_error";
    case 504:
      return "timeout_error";
    default:
      return "api_error";
  }
}

std::string anthropic_error(int status, std::string_view message) {
  config::json_writer out(config::json_writer::layout::compact);
  out.begin_object();
  out.key("type");
  out.string("error");
  out.key("error");
  out.begin_object();
  out.key("type");
  out.string(anthropic_type(status));
  out.key("message");
  out.string(message);
  out.end_object();
  out.end_object();
  return out.str();
}

std::string_view refusal_code(actors::refusal reason) {
  using actors::refusal;
  switch (reason) {
    case refusal::none:
      break;
    case refusal::unknown_model:
      return "model_not_found";
    case refusal::timed_out:
      return "model_timeout";
    case refusal::backing_off:
      return "model_backing_off";
    case refusal::shutting_down:
      return "shutting_down";
    case refusal::cancelled:
      return "cancelled";
    case refusal::manual_mode:
      return "manual_mode";
    case refusal::scheduler_gone:
      return "scheduler_unavailable";
    case refusal::queue_full:
      return "queue_full";
    case refusal::no_node:
      return "node_unavailable";
  }
  return "internal_error";
}

} // namespace

std::string openai_error(int status, std::string_view message, std::string_view param) {
  auto kind = kind_of(status);
  if (status == 404 && param == "model") {
    kind.code = "model_not_found";
  }
  return error_body(message, kind, param);
}

event_dialect event_dialect_of(std::string_view target) {
  auto path = target.substr(0, target.find('?'));
  return path == "/v1/messages" ? event_dialect::anthropic : event_dialect::openai;
}

std::string error_event(event_dialect dialect, std::string_view data) {
  std::string event = dialect == event_dialect::anthropic ? "event: error\ndata: " : "data: ";
  event += data;
  event += "\n\ndata: [DONE]\n\n";
  return event;
}

std::string stream_error_event(event_dialect dialect, int status, std::string_view message) {
  return error_event(dialect, dialect == event_dialect::anthropic ? anthropic_error(status, message)
                                                                  : openai_error(status, message));
}

int status_of(actors::refusal reason) {
  using actors::refusal;
  switch (reason) {
    case refusal::unknown_model:
      return 404;
    case refusal::timed_out:
      return 504;
    case refusal::cancelled:
      return 499;
    case refusal::queue_full:
      return 429;
    case refusal::none:
      return 500; // a granted lease is no refusal: a bug if it gets here
    case refusal::backing_off:
    case refusal::shutting_down:
    case refusal::manual_mode:
    case refusal::scheduler_gone:
    case refusal::no_node:
      return 503;
  }
  return 500;
}

std::string openai_refusal(const actors::lease_outcome& refused) {
  auto status = status_of(refused.reason);
  auto kind = kind_of(status);
  kind.code = refusal_code(refused.reason);
  return error_body(refused.message, kind,
                    refused.reason == actors::refusal::unknown_model ? "model" : "");
}

} // namespace llmux::http
