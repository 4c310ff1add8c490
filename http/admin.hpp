#pragma once

// The admin API on `admin_port`: the reference's `/control/*` endpoints (spec §2.9) with its
// request and response bodies and status codes, plus `GET /control/history`. Every change goes
// through the scheduler (serving_backend::control), so it always knows which model serves.

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "actors/serving.hpp"
#include "http/local_server.hpp"

namespace llmux::http {

/// Re-reads the configuration and applies it; answers `POST /control/reload` through `done`.
using reload_handler = std::function<void(std::function<void(local_response)> done)>;

/// `token` empty: no token needed. Otherwise every `/control/*` call needs
/// `Authorization: Bearer <token>` (401 without it). `reload` serves `POST /control/reload`.
local_handler admin_endpoint(actors::serving_backend& backend, std::string token,
                             reload_handler reload);

/// `GET /control/status` in the reference's shape: `state` (`idle`, `active:<m>`,
/// `switching:<from or none>-><to or none>`), `active_model`, `mode` (`{"mode":"auto"}` or
/// `{"mode":"manual","pinned":m}`) and per model `in_flight`, `queue_depth` and
/// `process_state` (`not_started`, `starting`, `running`, `sleeping:<Weights>+<Process>`,
/// `failed:<reason>`).
std::string control_status_json(const actors::scheduler_snapshot& snapshot);

/// `GET /control/eviction`: per model its effective eviction and `process_state`.
std::string control_eviction_json(const actors::scheduler_snapshot& snapshot);

/// `GET /control/history`: `{"switches": [...]}`, the recent switches as in `/llmux/status`.
std::string control_history_json(const actors::scheduler_snapshot& snapshot);

/// A `/control/*` request body turned into a scheduler request, or the answer that refuses it
/// (415 not JSON, 400 malformed, 422 a field missing or of the wrong type or value).
struct admin_parse {
  std::optional<actors::control_request> request;
  local_response refusal;
};

/// Reads the body of `POST /control/<action>` (`mode`, `pin`, `unpin`, `switch`, `eviction`,
/// `sleep`, `wake`) as the reference's JSON extractor would.
admin_parse parse_admin_request(std::string_view action, std::string_view content_type,
                                std::string_view body);

} // namespace llmux::http
