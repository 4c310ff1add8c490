#pragma once

// The scheduler's snapshot as JSON, for `/llmux/status` (and what reads it: tests, the status
// page, scripts).

#include <string>

#include "actors/snapshot.hpp"

namespace llmux::http {

/// `{"active", "switching_to", "switch", "mode", "pinned", "switches", "switch_failures",
/// "serving_secs", "switching_secs", "models": {name: {...}}, "history": [...],
/// "costs": [...]}`; README documents each field.
std::string status_json(const actors::scheduler_snapshot& snapshot);

} // namespace llmux::http
