#include "http/router.hpp"

#include <array>

namespace llmux::http {

namespace {

// vLLM's development-mode and administrative endpoints: only llmux may call them.
constexpr std::array<std::string_view, 12> engine_control_paths{"/sleep",
                                                                "/wake_up",
                                                                "/is_sleeping",
                                                                "/collective_rpc",
                                                                "/reset_prefix_cache",
                                                                "/reset_mm_cache",
                                                                "/reset_encoder_cache",
                                                                "/server_info",
                                                                "/pause",
                                                                "/resume",
                                                                "/is_paused",
                                                                "/scale_elastic_ep"};

} // namespace

route route_of(std::string_view method, std::string_view path) {
  while (path.size() > 1 && path.back() == '/') {
    path.remove_suffix(1);
  }
  for (auto control : engine_control_paths) {
    if (path == control) {
      return route::engine_control;
    }
  }
  if (path == "/health") {
    return method == "GET" ? route::health : route::method_not_allowed;
  }
  if (path == "/llmux/status") {
    return method == "GET" ? route::status : route::method_not_allowed;
  }
  if (path == "/v1/models" || path == "/models") {
    return method == "GET" ? route::model_list : route::method_not_allowed;
  }
  return route::proxy;
}

} // namespace llmux::http
