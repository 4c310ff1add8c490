#pragma once

#include <string_view>

namespace llmux::actors {

/// The phases of the one switch the scheduler runs at a time.
///
/// ```
///  begin ──▶ cooldown ─────────────────────────────────────┐ no model must leave the GPU
///  (min_active_secs)  │                                     │ (none is on it, or the
///                     │ a model leaving has requests        │ target fits beside them)
///                     │ in flight and the policy drains     │
///                     ▼                                     │
///                   drain ── last release, or the drain     │
///                     │      deadline cuts the rest         │
///                     ▼                                     │
///  nothing to drain ▶ evict ── each leaving model evicted   │
///                     │        in turn (a failed sleep      │
///                     │        stops the engine instead)    │
///                     ▼                                     │
///                  activate ◀───────────────────────────────┘
///                     │ started or woken: its waiting requests are granted (finish)
///                     │ failed: they get 503 and the model backs off (finish)
/// ```
/// A switch with no target (the admin API's sleep of an awake model, an idle TTL) finishes
/// after its eviction. Without a memory budget the models leaving are the one active model.
enum class switch_phase { cooldown, drain, evict, activate };

std::string_view to_string(switch_phase phase);

/// What the scheduler knows when a phase ends.
struct switch_facts {
  /// Models are on the GPU and must leave it first.
  bool has_outgoing = false;
  /// The policy lets the outgoing model's requests in flight finish before it is evicted.
  bool drains_first = true;
  /// A model leaving still has granted leases.
  bool outgoing_busy = false;
  /// A model is to be activated (false: the switch only frees the GPU).
  bool has_target = true;
};

/// What a switch does when a phase ends.
enum class switch_step {
  drain,    ///< wait for the outgoing model's leases (or the drain deadline)
  evict,    ///< ask the outgoing model to leave the GPU
  activate, ///< ask the target to start or wake
  finish,   ///< the activation answered (or, with no target, the eviction): the switch ends
};

/// The next step after `done` ends: a pure function, so the sequence is table-tested.
switch_step next_step(switch_phase done, const switch_facts& facts);

/// The phase a switch is in while it carries out `step` (`finish` has none: the switch ends;
/// it is reported as `activate`).
switch_phase phase_of(switch_step step);

} // namespace llmux::actors
