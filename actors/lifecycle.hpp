#pragma once

#include <optional>
#include <string_view>

namespace llmux::actors {

/// The lifecycle of one model's engine, as its model actor tracks it.
///
/// ```
///            activate              started
///  stopped ───────────▶ starting ───────────▶ active ◀──────────────┐
///    ▲  ▲                  │ start_failed       │ evict              │ woken
///    │  └──────────────────┘                    ▼                    │
///    │        stopped        ┌─────────────── evicting ──▶ sleeping ─┴─▶ waking
///    │  ◀────────────────────┘  stopped (evict   slept     (activate)      │
///    │                           escalated to stop)                        │ wake_failed
///    └─────────────────────────────────────────────────────────────────────┘
///  engine_died, stopped (a stop on purpose: eviction, escalation, shutdown): every state with a
///  process (starting, active, evicting, sleeping, waking) goes to stopped.
///  In stopped, a late start_failed, wake_failed or stopped (the engine died while that step
///  ran) leaves it stopped.
/// ```
enum class lifecycle { stopped, starting, active, evicting, sleeping, waking };

/// What happens to a model's engine.
enum class lifecycle_event {
  activate,     ///< the scheduler wants the model on the GPU
  started,      ///< a cold start became healthy
  start_failed, ///< a cold start failed (process exit, timeout, spawn error)
  evict,        ///< the scheduler wants the GPU back
  slept,        ///< the eviction kept the process (sleep levels, keep_running)
  stopped,      ///< the process is gone on purpose (stop eviction, escalation, shutdown)
  woken,        ///< a wake finished
  wake_failed,  ///< a wake failed; the process has been stopped
  engine_died,  ///< the process ended by itself
};

/// The state after `event` in `state`, or nothing when the event cannot happen there.
std::optional<lifecycle> next_state(lifecycle state, lifecycle_event event);

std::string_view to_string(lifecycle state);

std::string_view to_string(lifecycle_event event);

} // namespace llmux::actors
