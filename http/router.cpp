#include "http/router.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <vector>

namespace llmux::http {

namespace {

// The methods a path takes, as its `Allow` lists them. Starlette, under vLLM's routes, answers
// HEAD wherever it answers GET; llmux's own paths do the same.
constexpr std::string_view post_only = "POST";
constexpr std::string_view get_and_head = "GET, HEAD";

struct forwarded_path {
  std::string_view path;
  std::string_view allow;
};

// The inference surface vLLM serves (vllm-interface §2.1): the only paths forwarded.
// GET /v1/models and /models are answered by llmux; control, LoRA loading, /metrics and
// anything unknown are not forwarded.
constexpr std::array<forwarded_path, 24> forwarded_paths{{
  {"/v1/chat/completions", post_only},
  {"/v1/completions", post_only},
  {"/v1/chat/completions/render", post_only},
  {"/v1/completions/render", post_only},
  {"/v1/responses", post_only},
  {"/v1/messages", post_only},
  {"/v1/messages/count_tokens", post_only},
  {"/v1/audio/transcriptions", post_only},
  {"/v1/audio/translations", post_only},
  {"/v1/embeddings", post_only},
  {"/v1/score", post_only},
  {"/v1/rerank", post_only},
  {"/v2/rerank", post_only},
  {"/pooling", post_only},
  {"/classify", post_only},
  {"/score", post_only},
  {"/rerank", post_only},
  {"/tokenize", post_only},
  {"/detokenize", post_only},
  {"/invocations", post_only},
  {"/version", get_and_head},
  {"/tokenizer_info", get_and_head},
  {"/inference/v1/generate", post_only},
  {"/load", get_and_head},
}};

// `GET /v1/responses/{id}` and `POST /v1/responses/{id}/cancel`.
constexpr std::string_view responses_prefix = "/v1/responses/";

bool is_response_id(std::string_view id) {
  return !id.empty() && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'
           || c == '_';
  });
}

// The methods a forwarded path takes; nothing for a path that is not forwarded.
std::optional<std::string_view> forwarded_allow(std::string_view path) {
  for (const auto& forwarded : forwarded_paths) {
    if (forwarded.path == path) {
      return forwarded.allow;
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
  return cancels ? post_only : get_and_head;
}

// What a normalised path routes to and the methods it takes: llmux's own paths, then the
// forwarded ones; nothing for any other. The one table route_request and allowed_methods read.
struct path_rule {
  route what;
  std::string_view allow;
};

std::optional<path_rule> rule_of(std::string_view path) {
  if (path == "/health") {
    return path_rule{route::health, get_and_head};
  }
  if (path == "/ping") {
    // vLLM's SageMaker health check: /health by another name, POST too.
    return path_rule{route::health, "GET, HEAD, POST"};
  }
  if (path == "/llmux/status") {
    return path_rule{route::status, get_and_head};
  }
  if (path == "/v1/models" || path == "/models") {
    return path_rule{route::model_list, get_and_head};
  }
  if (auto allow = forwarded_allow(path)) {
    return path_rule{route::proxy, *allow};
  }
  return std::nullopt;
}

// Whether `method` is among those `allow` lists.
bool allows(std::string_view allow, std::string_view method) {
  while (!allow.empty()) {
    auto comma = allow.find(", ");
    if (allow.substr(0, comma) == method) {
      return true;
    }
    allow = comma == std::string_view::npos ? std::string_view{} : allow.substr(comma + 2);
  }
  return false;
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

} // namespace

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

namespace {

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
  // A method the path does not take gets the 405 the engine's route would give, before any
  // model is looked for.
  if (auto rule = rule_of(out.path())) {
    out.what = allows(rule->allow, method) ? rule->what : route::method_not_allowed;
  }
  return out;
}

std::string_view allowed_methods(std::string_view path) {
  auto rule = rule_of(path);
  return rule ? rule->allow : std::string_view{};
}

} // namespace llmux::http
