#include "http/router.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <vector>

namespace llmux::http {

namespace {

// Which methods a forwarded path takes, as vLLM's routes declare them.
enum class takes { post, get };

struct forwarded_path {
  std::string_view path;
  takes method;
};

// The inference surface vLLM serves (vllm-interface §2.1): the only paths forwarded.
// GET /v1/models and /models are answered by llmux; control, LoRA loading, /metrics and
// anything unknown are not forwarded.
constexpr std::array<forwarded_path, 24> forwarded_paths{{
  {"/v1/chat/completions", takes::post},
  {"/v1/completions", takes::post},
  {"/v1/chat/completions/render", takes::post},
  {"/v1/completions/render", takes::post},
  {"/v1/responses", takes::post},
  {"/v1/messages", takes::post},
  {"/v1/messages/count_tokens", takes::post},
  {"/v1/audio/transcriptions", takes::post},
  {"/v1/audio/translations", takes::post},
  {"/v1/embeddings", takes::post},
  {"/v1/score", takes::post},
  {"/v1/rerank", takes::post},
  {"/v2/rerank", takes::post},
  {"/pooling", takes::post},
  {"/classify", takes::post},
  {"/score", takes::post},
  {"/rerank", takes::post},
  {"/tokenize", takes::post},
  {"/detokenize", takes::post},
  {"/invocations", takes::post},
  {"/version", takes::get},
  {"/tokenizer_info", takes::get},
  {"/inference/v1/generate", takes::post},
  {"/load", takes::get},
}};

// `GET /v1/responses/{id}` and `POST /v1/responses/{id}/cancel`.
constexpr std::string_view responses_prefix = "/v1/responses/";

bool is_response_id(std::string_view id) {
  return !id.empty() && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'
           || c == '_';
  });
}

// The method a forwarded path takes; nothing for a path that is not forwarded.
std::optional<takes> forwarded_method(std::string_view path) {
  for (const auto& forwarded : forwarded_paths) {
    if (forwarded.path == path) {
      return forwarded.method;
    }
  }
  if (!path.starts_with(responses_prefix)) {
    return std::nullopt;
  }
  auto rest = path.substr(responses_prefix.size());
  constexpr std::string_view cancel = "/cancel";
  bool cancels = rest.ends_with(cancel);
  if (cancels) {
    rest.remove_suffix(cancel.size());
  }
  if (!is_response_id(rest)) {
    return std::nullopt;
  }
  return cancels ? takes::post : takes::get;
}

// Starlette, under vLLM's routes, answers HEAD wherever GET is answered.
bool is_get(std::string_view method) {
  return method == "GET" || method == "HEAD";
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

bool is_control(unsigned char c) {
  return c < 0x20 || c == 0x7f;
}

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    // Plain characters (all of most paths) are copied a run at a time.
    auto run = i;
    while (run < text.size() && text[run] != '%'
           && !is_control(static_cast<unsigned char>(text[run]))) {
      ++run;
    }
    out.append(text.substr(i, run - i));
    i = run;
    if (i == text.size()) {
      break;
    }
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) {
        return std::nullopt;
      }
      int high = hex_value(text[i + 1]);
      int low = hex_value(text[i + 2]);
      if (high < 0 || low < 0) {
        return std::nullopt;
      }
      c = static_cast<char>(high * 16 + low);
      i += 2;
    }
    if (is_control(static_cast<unsigned char>(c))) {
      return std::nullopt;
    }
    out.push_back(c);
  }
  return out;
}

// Whether `path` is '/' and segments of letters, digits, '-' and '_' only: nothing in it to
// decode or remove (nearly every client's path), so it is its own normal form.
bool is_plain_path(std::string_view path) {
  if (path.size() < 2 || path.front() != '/' || path.back() == '/') {
    return false;
  }
  char previous = 0;
  for (char c : path) {
    bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                || c == '-' || c == '_';
    if (!word && (c != '/' || previous == '/')) {
      return false;
    }
    previous = c;
  }
  return true;
}

// Whether `path` is already what remove_dot_segments would make of it: "/" or segments that
// are neither empty, "." nor "..", with no trailing '/'. Nearly every client path is.
bool already_normal(std::string_view path) {
  if (path == "/") {
    return true;
  }
  if (path.empty() || path.front() != '/' || path.back() == '/') {
    return false;
  }
  for (std::size_t start = 1; start <= path.size();) {
    auto end = path.find('/', start);
    if (end == std::string_view::npos) {
      end = path.size();
    }
    auto segment = path.substr(start, end - start);
    if (segment.empty() || segment == "." || segment == "..") {
      return false;
    }
    start = end + 1;
  }
  return true;
}

// RFC 3986 §5.2.4, plus empty segments dropped ("//v1//x" is "/v1/x").
std::string remove_dot_segments(std::string_view path) {
  std::vector<std::string_view> segments;
  while (!path.empty()) {
    auto slash = path.find('/');
    auto segment = path.substr(0, slash);
    path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash + 1);
    if (segment.empty() || segment == ".") {
      continue;
    }
    if (segment == "..") {
      if (!segments.empty()) {
        segments.pop_back();
      }
      continue;
    }
    segments.push_back(segment);
  }
  std::string out;
  for (auto segment : segments) {
    out += '/';
    out += segment;
  }
  return out.empty() ? std::string("/") : out;
}

// The path-and-query part of an absolute-form target ("http://host:port/p?q" -> "/p?q").
std::optional<std::string_view> strip_scheme_and_authority(std::string_view target) {
  auto colon = target.find("://");
  if (colon == std::string_view::npos) {
    return std::nullopt;
  }
  auto scheme = target.substr(0, colon);
  if (scheme.empty() || !std::all_of(scheme.begin(), scheme.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
      })) {
    return std::nullopt;
  }
  auto rest = target.substr(colon + 3);
  auto path_start = rest.find_first_of("/?");
  if (path_start == std::string_view::npos) {
    return std::string_view("/");
  }
  return rest.substr(path_start);
}

} // namespace

std::optional<normalized_target> normalize_target(std::string_view target) {
  if (target.empty()) {
    return std::nullopt;
  }
  if (target.front() != '/') {
    auto origin_form = strip_scheme_and_authority(target);
    if (!origin_form) {
      return std::nullopt;
    }
    target = *origin_form;
  }
  target = target.substr(0, target.find('#'));
  auto question = target.find('?');
  auto raw_path = target.substr(0, question);
  normalized_target out;
  if (question != std::string_view::npos) {
    out.query = std::string(target.substr(question + 1));
    if (std::any_of(out.query.begin(), out.query.end(),
                    [](char c) { return is_control(static_cast<unsigned char>(c)); })) {
      return std::nullopt;
    }
  }
  if (is_plain_path(raw_path)) {
    out.path = raw_path;
    return out;
  }
  auto decoded = percent_decode(raw_path);
  if (!decoded) {
    return std::nullopt;
  }
  out.path = already_normal(*decoded) ? std::move(*decoded) : remove_dot_segments(*decoded);
  return out;
}

route_decision route_request(std::string_view method, std::string_view target) {
  auto normalized = normalize_target(target);
  if (!normalized) {
    return {route::bad_target, {}, {}};
  }
  route_decision out;
  out.target = std::move(normalized->path);
  out.path_length = out.target.size();
  if (!normalized->query.empty()) {
    out.target += '?';
    out.target += normalized->query;
  }
  auto path = out.path();
  // As the engine's own server does, HEAD is answered wherever GET is (a load balancer's health
  // check may use it).
  auto local = [&](route answer) { return is_get(method) ? answer : route::method_not_allowed; };
  if (path == "/health") {
    out.what = local(route::health);
  } else if (path == "/ping") {
    // vLLM's SageMaker health check: /health by another name, POST too.
    out.what = method == "POST" ? route::health : local(route::health);
  } else if (path == "/llmux/status") {
    out.what = local(route::status);
  } else if (path == "/v1/models" || path == "/models") {
    out.what = local(route::model_list);
  } else if (auto takes_method = forwarded_method(path)) {
    // A method the engine's route does not take would only get its 405.
    bool allowed = *takes_method == takes::post ? method == "POST" : is_get(method);
    out.what = allowed ? route::proxy : route::method_not_allowed;
  }
  return out;
}

std::string_view allowed_methods(std::string_view path) {
  if (path == "/ping") {
    return "GET, HEAD, POST";
  }
  if (path == "/health" || path == "/llmux/status" || path == "/v1/models" || path == "/models") {
    return "GET, HEAD";
  }
  auto takes_method = forwarded_method(path);
  if (!takes_method) {
    return {};
  }
  return *takes_method == takes::post ? "POST" : "GET, HEAD";
}

} // namespace llmux::http
