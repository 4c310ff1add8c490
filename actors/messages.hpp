#pragma once

// Every atom and message payload of the llmux actors, in one type-ID block.

#include <cstdint>
#include <string>

#include <caf/meta/type_name.hpp>
#include <caf/type_id.hpp>

#include "actors/eviction_plan.hpp"
#include "actors/serving.hpp"
#include "actors/snapshot.hpp"
#include "config/eviction.hpp"

namespace llmux::actors {

/// The answer of an engine or model operation: success, or what went wrong.
struct outcome {
  bool ok = true;
  std::string error;
  /// What was done instead of what was asked, if anything: an eviction whose step failed
  /// stopped the engine instead; a wake whose restore failed cold-started it instead.
  std::string fallback;
  /// GPU memory the engine held afterwards, per GPU in MiB, when it was measured (0: not).
  std::uint64_t gpu_memory_mib = 0;

  static outcome failure(std::string why) {
    return {false, std::move(why), {}, 0};
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, outcome& x) {
  return f(caf::meta::type_name("outcome"), x.ok, x.error, x.fallback, x.gpu_memory_mib);
}

/// What a node tells a gateway (node.hpp): whether it let the gateway in, where its proxy
/// takes requests, and its scheduler's state.
struct node_view {
  bool accepted = false;
  /// Why not, when not accepted.
  std::string error;
  std::string node;
  std::string proxy_host;
  std::uint16_t proxy_port = 0;
  scheduler_snapshot snapshot;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, engine_plan& x) {
  return f(caf::meta::type_name("engine_plan"), x.steps);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, plan_outcome& x) {
  return f(caf::meta::type_name("plan_outcome"), x.ok, x.completed, x.error, x.gpu_memory_mib);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, lease_outcome& x) {
  return f(caf::meta::type_name("lease_outcome"), x.granted, x.engine_host, x.engine_port, x.node,
           x.model_path, x.engine_epoch, x.reason, x.message, x.retry_after_secs);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, control_request& x) {
  return f(caf::meta::type_name("control_request"), x.action, x.model, x.mode, x.has_eviction,
           x.eviction);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, control_result& x) {
  return f(caf::meta::type_name("control_result"), x.error, x.detail);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, reload_outcome& x) {
  return f(caf::meta::type_name("reload_outcome"), x.ok, x.error, x.added, x.removed, x.changed);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, model_snapshot& x) {
  return f(caf::meta::type_name("model_snapshot"), x.name, x.state, x.started_once, x.eviction,
           x.evicted_with, x.waiting, x.in_flight, x.failures, x.retry_in_secs, x.last_failure,
           x.failures_total, x.engine_starts, x.leases_cut, x.fallbacks_total, x.last_fallback,
           x.idle_ttl_secs, x.idle_evictions, x.awake, x.gpu_memory_mib, x.gpu_memory_measured);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, switch_record& x) {
  return f(caf::meta::type_name("switch_record"), x.from, x.to, x.ok, x.error, x.began_unix_ms,
           x.cooldown_ms, x.drain_ms, x.evict_ms, x.activate_ms, x.total_ms);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, switch_progress& x) {
  return f(caf::meta::type_name("switch_progress"), x.running, x.from, x.to, x.phase, x.elapsed_ms);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, switch_cost& x) {
  return f(caf::meta::type_name("switch_cost"), x.from, x.to, x.estimate_ms);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_snapshot& x) {
  return f(caf::meta::type_name("node_snapshot"), x.name, x.address, x.proxy, x.state,
           x.in_rotation, x.last_heard_ms, x.joins, x.last_error, x.models, x.awake, x.waiting,
           x.in_flight, x.routed, x.outstanding);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, scheduler_snapshot& x) {
  return f(caf::meta::type_name("scheduler_snapshot"), x.models, x.active, x.awake,
           x.gpu_memory_budget_mib, x.gpu_memory_held_mib, x.switching, x.mode, x.pinned,
           x.switches, x.switch_failures, x.serving_ms, x.switching_ms, x.history, x.costs,
           x.nodes);
}

} // namespace llmux::actors

namespace llmux::config {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, eviction_policy& x) {
  return f(caf::meta::type_name("eviction_policy"), x.weights, x.process);
}

} // namespace llmux::config

namespace llmux::actors {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_view& x) {
  return f(caf::meta::type_name("node_view"), x.accepted, x.error, x.node, x.proxy_host,
           x.proxy_port, x.snapshot);
}

} // namespace llmux::actors

CAF_BEGIN_TYPE_ID_BLOCK(llmux, caf::first_custom_type_id)
  CAF_ADD_TYPE_ID(llmux, (llmux::actors::outcome))
  CAF_ADD_TYPE_ID(llmux, (llmux::actors::lease_outcome))
  CAF_ADD_TYPE_ID(llmux, (llmux::actors::scheduler_snapshot))
  CAF_ADD_TYPE_ID(llmux, (llmux::actors::control_request))
  CAF_ADD_TYPE_ID(llmux, (llmux::actors::control_result))
  CAF_ADD_TYPE_ID(llmux, (llmux::actors::reload_outcome))
  CAF_ADD_TYPE_ID(llmux, (llmux::config::eviction_policy))
  CAF_ADD_TYPE_ID(llmux, (llmux::actors::engine_plan))
  CAF_ADD_TYPE_ID(llmux, (llmux::actors::plan_outcome))
  CAF_ADD_TYPE_ID(llmux, (llmux::actors::node_view))
  CAF_ADD_ATOM(llmux, llmux::actors, acquire_atom, "acquire")
  CAF_ADD_ATOM(llmux, llmux::actors, release_atom, "release")
  CAF_ADD_ATOM(llmux, llmux::actors, expire_atom, "expire")
  CAF_ADD_ATOM(llmux, llmux::actors, step_atom, "step")
  CAF_ADD_ATOM(llmux, llmux::actors, down_atom, "down")
  CAF_ADD_ATOM(llmux, llmux::actors, status_atom, "status")
  CAF_ADD_ATOM(llmux, llmux::actors, shutdown_atom, "shutdown")
  CAF_ADD_ATOM(llmux, llmux::actors, activate_atom, "activate")
  CAF_ADD_ATOM(llmux, llmux::actors, evict_atom, "evict")
  CAF_ADD_ATOM(llmux, llmux::actors, start_atom, "start")
  CAF_ADD_ATOM(llmux, llmux::actors, run_atom, "run")
  CAF_ADD_ATOM(llmux, llmux::actors, detach_atom, "detach")
  CAF_ADD_ATOM(llmux, llmux::actors, ttl_atom, "ttl")
  CAF_ADD_ATOM(llmux, llmux::actors, stop_atom, "stop")
  CAF_ADD_ATOM(llmux, llmux::actors, tick_atom, "tick")
  CAF_ADD_ATOM(llmux, llmux::actors, warmup_atom, "warmup")
  CAF_ADD_ATOM(llmux, llmux::actors, probe_atom, "probe")
  CAF_ADD_ATOM(llmux, llmux::actors, revoke_atom, "revoke")
  CAF_ADD_ATOM(llmux, llmux::actors, drain_atom, "drain")
  CAF_ADD_ATOM(llmux, llmux::actors, idle_atom, "idle")
  CAF_ADD_ATOM(llmux, llmux::actors, control_atom, "control")
  CAF_ADD_ATOM(llmux, llmux::actors, reload_atom, "reload")
  CAF_ADD_ATOM(llmux, llmux::actors, join_atom, "join")
  CAF_ADD_ATOM(llmux, llmux::actors, view_atom, "view")
CAF_END_TYPE_ID_BLOCK(llmux)
