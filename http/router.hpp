#pragma once

#include <string_view>

namespace llmux::http {

/// What the proxy port does with a request, decided from its method and path alone.
enum class route {
  health,             ///< GET /health: llmux itself answers
  model_list,         ///< GET /v1/models or /models: the configured names
  status,             ///< GET /llmux/status: the scheduler's state, read-only
  engine_control,     ///< an engine's control endpoint: never reachable through llmux
  method_not_allowed, ///< a known local path with the wrong method
  proxy,              ///< everything else goes to a model's engine
};

/// Routes `method` (e.g. "GET") and `path` (the target without its query).
route route_of(std::string_view method, std::string_view path);

} // namespace llmux::http
