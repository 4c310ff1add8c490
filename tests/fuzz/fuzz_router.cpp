// Fuzz target: request targets. Whatever the target, routing answers without crashing; a
// forwarded target is on the allowlist, already normalised (normalising it again changes
// nothing), and names no engine control endpoint however it would be decoded.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "http/router.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view target(reinterpret_cast<const char*>(data), size);
  // The inference routes take POST, a few GET: whichever forwards it.
  auto method = std::string_view("POST");
  auto decided = llmux::http::route_request(method, target);
  if (decided.what == llmux::http::route::method_not_allowed) {
    method = "GET";
    decided = llmux::http::route_request(method, target);
  }
  if (decided.what != llmux::http::route::proxy) {
    return 0;
  }
  auto again = llmux::http::normalize_target(decided.target);
  if (!again || again->path != decided.path()) {
    __builtin_trap();
  }
  for (std::string_view control : {"/sleep", "/wake_up", "/collective_rpc", "/reset_prefix_cache",
                                   "/is_sleeping", "/pause", "/resume"}) {
    if (decided.path() == control || decided.path().find("..") != std::string::npos) {
      __builtin_trap();
    }
  }
  if (llmux::http::route_request(method, decided.target).what != llmux::http::route::proxy) {
    __builtin_trap();
  }
  return 0;
}
