#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/lease_gate.hpp"
#include "actors/messages.hpp"
#include "actors/model.hpp"
#include "actors/serving.hpp"
#include "config/config.hpp"

namespace llmux::actors {

/// The scheduler protocol: the one place that decides which model is on the GPU. It owns the
/// per-model queues of waiting requests, the granted leases, the active model and the single
/// switch in progress; its policy (policy.hpp) decides when to switch.
///
/// ```
/// (acquire_atom, uint64 ticket, string model, uint64 timeout_ms) -> lease_outcome
///     granted at once when `model` is active and no switch runs; otherwise queued until the
///     model is active (granted), the timeout passes (504; timeout_ms 0: no timeout), the
///     switch fails (503), the ticket is released (cancelled) or llmux shuts down (503)
///     A model backing off after failures is refused at once (503 with retry_after_secs).
/// (release_atom, uint64 ticket)     end a ticket, waiting or granted; repeats are ignored
/// (idle_atom, uint64 model)         the last lease taken at the model's gate (lease_gate.hpp)
/// (ttl_atom, uint64 model, uint64 watch)  self: check whether the active model has been idle
///                                    its `idle_ttl_secs`
///                                   after the scheduler closed it has ended
/// to the acquirer: (revoke_atom, uint64 ticket, string reason)
///     a granted lease is taken back: its engine died or hung, the drain of a switch away
///     from its model reached `timeouts.drain_timeout_secs`, or shutdown's grace ran out
/// (expire_atom, uint64 serial)      self: time to answer the waiting tickets whose timeouts
///                                   have passed (only the wake-up scheduled last counts)
/// (step_atom)                       self: continue the switch after a wait
/// (step_atom, uint64 model)         self: a deferred switch to `model` is due
/// (drain_atom, uint64 serial)       self: the drain deadline of switch number `serial`
/// (tick_atom, bool periodic)        self: ask the policy again (a recheck, or its tick)
/// (shutdown_atom)                   self: the shutdown deadline
/// (down_atom, string model, string reason)
///     from a model actor: its engine died (or was killed as hung) outside a start or wake;
///     its leases are revoked and the model backs off
/// (status_atom) -> scheduler_snapshot  the state (snapshot.hpp)
/// (reload_atom) -> reload_outcome
///     apply the configuration waiting in the `reload_box`: policy and timeouts at once, new
///     models added, removed ones drained and stopped, changed ones restarted once off the
///     GPU and idle
/// (control_atom, control_request) -> control_result
///     the admin API (control.hpp): modes, pins, and switches, sleeps and wakes that bypass
///     the policy and the mode but take the usual cooldown, drain and deadlines; answered
///     when done. In manual mode only the pinned (else the active) model is served: other
///     requests are refused at once, and the policy never switches.
/// (shutdown_atom, uint64 grace_ms) -> outcome
///     refuse new requests, let granted leases finish (up to grace_ms), stop every engine
/// (warmup_atom) -> outcome
///     before serving: warm each model in turn (start, one inference, evict); the first
///     failure is the answer
/// ```
///
/// The scheduler also supervises its model actors: one that ends abnormally is replaced by a
/// fresh one (its engine ended with it); a switch that was evicting it goes on, one that was
/// activating it fails at once, and late answers of the dead actor are ignored.
using scheduler_actor = caf::typed_actor<
  caf::replies_to<acquire_atom, std::uint64_t, std::string, std::uint64_t>::with<lease_outcome>,
  caf::reacts_to<release_atom, std::uint64_t>, caf::reacts_to<idle_atom, std::uint64_t>,
  caf::reacts_to<ttl_atom, std::uint64_t, std::uint64_t>,
  caf::reacts_to<expire_atom, std::uint64_t>, caf::reacts_to<step_atom>,
  caf::reacts_to<step_atom, std::uint64_t>, caf::reacts_to<drain_atom, std::uint64_t>,
  caf::reacts_to<tick_atom, bool>, caf::reacts_to<shutdown_atom>,
  caf::reacts_to<down_atom, std::string, std::string>,
  caf::replies_to<status_atom>::with<scheduler_snapshot>,
  caf::replies_to<control_atom, control_request>::with<control_result>,
  caf::replies_to<reload_atom>::with<reload_outcome>,
  caf::replies_to<shutdown_atom, std::uint64_t>::with<outcome>,
  caf::replies_to<warmup_atom>::with<outcome>>;

/// An upper bound on how long `(warmup_atom)` takes for `cfg`: the models are warmed one after
/// another, each within its model actor's warmup deadline.
inline std::chrono::milliseconds warmup_timeout(const config::config& cfg) {
  auto per_model = engine_deadlines::from(cfg).warmup() + 3 * engine_deadlines::margin;
  return std::chrono::duration_cast<std::chrono::milliseconds>(
    per_model * static_cast<long>(cfg.models.size()) + engine_deadlines::margin);
}

/// How long the admin API waits for `(control_atom, ...)`: a switch already running, then its
/// own (cooldown, drain, eviction, activation), each within its deadline.
inline std::chrono::milliseconds control_reply_bound(const config::config& cfg) {
  auto deadlines = engine_deadlines::from(cfg);
  auto one_switch = std::chrono::seconds(cfg.policy.min_active_secs)
                    + std::chrono::seconds(cfg.timeouts.drain_timeout_secs) + deadlines.evict()
                    + deadlines.activate() + 4 * engine_deadlines::margin;
  return std::chrono::duration_cast<std::chrono::milliseconds>(2 * one_switch);
}

/// How long a requester waits for the answer to `(acquire_atom, ..., timeout_ms)`: the
/// scheduler answers by `timeout_ms` itself, so this only guards against its death. A
/// `timeout_ms` of 0 (no timeout) still gets a finite bound.
inline std::chrono::milliseconds acquire_reply_bound(std::uint64_t timeout_ms) {
  constexpr auto margin = std::chrono::seconds(30);
  constexpr auto unlimited_wait = std::chrono::hours(24 * 30);
  if (timeout_ms == 0) {
    return unlimited_wait;
  }
  return std::chrono::milliseconds(timeout_ms) + margin;
}

/// Makes the model actor for one model; `scheduler` is the handle it reports to.
using model_factory = std::function<model_actor(
  caf::actor_system& system, const config::model_config& model, caf::actor scheduler)>;

/// A configuration for `(reload_atom)`, handed over beside the message (a whole config is no
/// message type): the new configuration and the gates of the models it adds, in its order.
struct reload_box {
  struct pending {
    config::config cfg;
    std::vector<std::shared_ptr<lease_gate>> added_gates;
  };
  std::mutex mutex;
  std::optional<pending> next;
};

/// What the daemon's HTTP side shares with the scheduler; the simulator shares nothing.
struct serving_hooks {
  /// Hears of every engine that stops serving its model (evicted, died, its actor replaced).
  engine_retired_callback retired;
  /// Hears of every switch that ends.
  switch_ended_callback switch_ended;
  /// One gate per configured model, in order, which the scheduler opens while requests for it
  /// may take leases without asking; empty: every lease is asked for.
  std::vector<std::shared_ptr<lease_gate>> gates;
  /// Where reloaded configurations wait for `(reload_atom)`; may be null.
  std::shared_ptr<reload_box> reloads;
};

/// Spawns the scheduler with one model actor per configured model, made by `factory` (by
/// default real model actors with `vllm_engine`s).
scheduler_actor spawn_scheduler(caf::actor_system& system, const config::config& cfg,
                                model_factory factory = {}, serving_hooks hooks = {});

} // namespace llmux::actors
