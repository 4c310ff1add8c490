#pragma once

// Every atom and message payload of the llmux actors, in one type-ID block.

#include <cstdint>
#include <string>

#include <caf/meta/type_name.hpp>
#include <caf/type_id.hpp>

#include "actors/serving.hpp"

namespace llmux::actors {

/// The answer of an engine or model operation: success, or what went wrong.
struct outcome {
  bool ok = true;
  std::string error;

  static outcome failure(std::string why) {
    return {false, std::move(why)};
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, outcome& x) {
  return f(caf::meta::type_name("outcome"), x.ok, x.error);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, lease_outcome& x) {
  return f(caf::meta::type_name("lease_outcome"), x.granted, x.engine_port, x.model_path,
           x.engine_epoch, x.status, x.message, x.retry_after_secs);
}

} // namespace llmux::actors

CAF_BEGIN_TYPE_ID_BLOCK(llmux, caf::first_custom_type_id)
  CAF_ADD_TYPE_ID(llmux, (llmux::actors::outcome))
  CAF_ADD_TYPE_ID(llmux, (llmux::actors::lease_outcome))
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
  CAF_ADD_ATOM(llmux, llmux::actors, sleep_atom, "sleep")
  CAF_ADD_ATOM(llmux, llmux::actors, wake_atom, "wake")
  CAF_ADD_ATOM(llmux, llmux::actors, stop_atom, "stop")
  CAF_ADD_ATOM(llmux, llmux::actors, tick_atom, "tick")
  CAF_ADD_ATOM(llmux, llmux::actors, warmup_atom, "warmup")
  CAF_ADD_ATOM(llmux, llmux::actors, probe_atom, "probe")
  CAF_ADD_ATOM(llmux, llmux::actors, revoke_atom, "revoke")
  CAF_ADD_ATOM(llmux, llmux::actors, drain_atom, "drain")
  CAF_ADD_ATOM(llmux, llmux::actors, idle_atom, "idle")
CAF_END_TYPE_ID_BLOCK(llmux)
