#pragma once

// The scheduler's snapshot as JSON, for `/llmux/status` (and what reads it: tests, the status
// page, scripts).

#include <string>
#include <vector>

#include "actors/snapshot.hpp"
#include "config/json_writer.hpp"

namespace llmux::http {

/// `{"active", "switching_to", "switch", "mode", "pinned", "switches", "switch_failures",
/// "serving_secs", "switching_secs", "models": {name: {...}}, "history": [...],
/// "costs": [...]}`, and on a gateway `"nodes": {name: {...}}`; README documents each field.
std::string status_json(const actors::scheduler_snapshot& snapshot);

/// A gateway's nodes as `"nodes": {name: {"state", "in_rotation", ...}}`; nothing when there
/// are none (a node or a standalone llmux).
void write_nodes(config::json_writer& out, const std::vector<actors::node_snapshot>& nodes);

/// One switch as `/llmux/status` lists it: `from`, `to` (null: none), `ok`, `error`,
/// `began_unix_ms`, `phases_ms`, `total_ms`.
void write_switch_record(config::json_writer& out, const actors::switch_record& record);

} // namespace llmux::http
