#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace llmux::http {

/// A request target as the engine will route it. vLLM (uvicorn) routes on the percent-decoded
/// path, so llmux judges that, after removing dot segments and empty segments, and forwards
/// exactly what it judged.
struct normalized_target {
  /// Percent-decoded, starting with '/', no "." or ".." segments, no empty segments, no
  /// trailing '/' (except the root).
  std::string path;
  /// The query as the client sent it, without its '?'; empty when there is none.
  std::string query;
};

/// `text` with its percent-escapes decoded; nothing for a malformed escape or a control
/// character (raw or decoded), which no path, name or token of a request may hold.
std::optional<std::string> percent_decode(std::string_view text);

/// Normalises an origin-form ("/a/b?q") or absolute-form ("http://host/a/b?q") target; nothing
/// when it cannot name a path: another form ("*", "host:port"), a malformed or NUL
/// percent-escape, or a control character.
std::optional<normalized_target> normalize_target(std::string_view target);

/// What the proxy port does with a request, decided from its method and target alone.
enum class route {
  health,             ///< GET (or HEAD) /health, GET or POST /ping: llmux itself answers
  model_list,         ///< GET /v1/models or /models: the configured names (HEAD too)
  status,             ///< GET /llmux/status: the scheduler's state, read-only (HEAD too)
  proxy,              ///< the OpenAI inference surface: forwarded to a model's engine
  not_found,          ///< anything else, engine control included: never forwarded
  method_not_allowed, ///< a local or forwarded path with a method it does not take
  bad_target,         ///< the target names no path (`normalize_target` failed)
};

/// A routing decision, with the target to forward when the route is `proxy`.
struct route_decision {
  route what = route::not_found;
  /// The normalised path, then '?' and the client's query if it sent one: for `proxy`, what the
  /// engine receives (empty for `bad_target`). One string: most requests are proxied.
  std::string target;
  /// How much of `target` is the path.
  std::size_t path_length = 0;

  /// The normalised path alone (what routing judged).
  std::string_view path() const {
    return std::string_view(target).substr(0, path_length);
  }
};

/// Routes `method` (e.g. "GET") and the raw request `target`. Only the paths vLLM serves for
/// inference are forwarded (README lists them); control endpoints such as /sleep, /wake_up or
/// /collective_rpc are unreachable however they are spelled.
route_decision route_request(std::string_view method, std::string_view target);

/// The methods a normalised path takes, for a 405's `Allow`: "GET, HEAD" for llmux's own paths
/// and vLLM's GET routes, "POST" for the inference routes, "GET, HEAD, POST" for /ping; empty
/// for a path neither llmux nor the engine serves.
std::string_view allowed_methods(std::string_view path);

} // namespace llmux::http
