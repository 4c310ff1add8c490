#pragma once

// The scheduler's state as one plain value: what `/llmux/status`, the admin API, the metrics
// and the status page read. Plain C++ (no CAF), so http/ renders it; messages.hpp makes it a
// CAF message.

#include <cstdint>
#include <string>
#include <vector>

#include "actors/lifecycle.hpp"
#include "actors/switch_plan.hpp"

namespace llmux::actors {

/// One model as the scheduler sees it.
struct model_snapshot {
  std::string name;
  /// Where its engine is, as far as the scheduler's requests to it tell.
  lifecycle state = lifecycle::stopped;
  /// Whether its engine has been up since llmux started (a stopped one was stopped, not never
  /// started).
  bool started_once = false;
  /// The eviction it gets when it leaves the GPU, as `weights+process`.
  std::string eviction;
  /// The eviction it left the GPU with last (what a sleeping engine rests in); empty before.
  std::string evicted_with;
  /// Requests waiting for it.
  std::uint64_t waiting = 0;
  /// Requests it is serving (granted leases).
  std::uint64_t in_flight = 0;
  /// Failures in a row; while it backs off, seconds until it is tried again (else 0).
  std::uint32_t failures = 0;
  std::uint32_t retry_in_secs = 0;
  std::string last_failure;
  /// Since llmux started: failed starts, wakes and engine deaths; starts of its engine.
  std::uint64_t failures_total = 0;
  std::uint64_t engine_starts = 0;
  /// Granted leases taken back before their end (engine died or hung, drain deadline).
  std::uint64_t leases_cut = 0;
  /// Evictions and wakes that did something else than asked (a failed CRIU dump stopped the
  /// engine, a failed restore was replaced by a cold start), and the last one's account.
  std::uint64_t fallbacks_total = 0;
  std::string last_fallback;
  /// Its idle TTL (0: none), and how often it left the GPU for being idle that long.
  std::uint64_t idle_ttl_secs = 0;
  std::uint64_t idle_evictions = 0;
  /// On the GPU and serving (under a memory budget several models are).
  bool awake = false;
  /// GPU memory it holds now as llmux plans with it (awake, or left behind asleep), per GPU in
  /// MiB; and whether that figure was measured on its engine rather than declared or estimated.
  std::uint64_t gpu_memory_mib = 0;
  bool gpu_memory_measured = false;
};

/// One finished switch. Durations in milliseconds; a phase that did not happen took 0.
struct switch_record {
  /// Empty: the GPU was idle.
  std::string from;
  std::string to;
  bool ok = true;
  std::string error;
  /// When it began, in milliseconds since the Unix epoch.
  std::int64_t began_unix_ms = 0;
  std::uint64_t cooldown_ms = 0;
  std::uint64_t drain_ms = 0;
  std::uint64_t evict_ms = 0;
  std::uint64_t activate_ms = 0;
  std::uint64_t total_ms = 0;
};

/// The switch in progress, if `running`.
struct switch_progress {
  bool running = false;
  std::string from;
  std::string to;
  switch_phase phase = switch_phase::cooldown;
  std::uint64_t elapsed_ms = 0;
};

/// The measured cost of switching in one direction (moving average of completed switches).
struct switch_cost {
  std::string from;
  std::string to;
  std::uint64_t estimate_ms = 0;
};

/// How the scheduler chooses the model on the GPU.
enum class serving_mode : std::uint8_t {
  automatic, ///< its policy switches on demand
  manual,    ///< only the pinned (or, without a pin, the active) model is served
};

/// One node of a cluster as its gateway sees it (only a gateway's snapshot has nodes).
struct node_snapshot {
  /// Its name in the gateway's file, and where its node actor is published.
  std::string name;
  std::string address;
  /// Where the gateway sends its requests (its proxy); empty before it first joined.
  std::string proxy;
  /// `serving` (linked, heartbeats arriving: in rotation), `connecting`, `silent` (its
  /// heartbeats stopped on a link still open), `refused` (a wrong secret), `unreachable`.
  std::string state;
  bool in_rotation = false;
  /// Milliseconds since its last heartbeat (0 before the first).
  std::uint64_t last_heard_ms = 0;
  /// How often it joined, and the last reason it left rotation or could not join.
  std::uint64_t joins = 0;
  std::string last_error;
  /// The models configured there, those awake there, and its own queues (at its last
  /// heartbeat).
  std::vector<std::string> models;
  std::vector<std::string> awake;
  std::uint64_t waiting = 0;
  std::uint64_t in_flight = 0;
  /// Requests this gateway sent there: all of them, and those not finished.
  std::uint64_t routed = 0;
  std::uint64_t outstanding = 0;
};

struct scheduler_snapshot {
  /// In configuration order.
  std::vector<model_snapshot> models;
  /// The model that got the GPU last and serves; empty when none (or while a switch runs).
  std::string active;
  /// Every model on the GPU and serving, in configuration order.
  std::vector<std::string> awake;
  /// `gpu_memory_budget_mib` (0: none, one model awake at a time) and what the models hold of it.
  std::uint64_t gpu_memory_budget_mib = 0;
  std::uint64_t gpu_memory_held_mib = 0;
  switch_progress switching;
  serving_mode mode = serving_mode::automatic;
  /// In manual mode, the model served; empty: the active one.
  std::string pinned;
  std::uint64_t switches = 0;
  std::uint64_t switch_failures = 0;
  /// Since llmux started, milliseconds with a model on the GPU and serving, and spent in
  /// switches; the rest the GPU was idle.
  std::uint64_t serving_ms = 0;
  std::uint64_t switching_ms = 0;
  /// The most recent switches, oldest first.
  std::vector<switch_record> history;
  std::vector<switch_cost> costs;
  /// A gateway's nodes (its models are the union of theirs); empty on a node or standalone.
  std::vector<node_snapshot> nodes;
};

std::string_view to_string(serving_mode mode);

} // namespace llmux::actors
