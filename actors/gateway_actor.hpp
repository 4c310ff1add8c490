#pragma once

// Internal to actors/: the actor behind gateway_backend (gateway.hpp), and what it keeps of
// each node.

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/bridge.hpp"
#include "actors/gateway.hpp"
#include "actors/messages.hpp"
#include "actors/node.hpp"
#include "actors/routing.hpp"

namespace llmux::actors {

/// The gateway protocol, all local but the views.
///
/// ```
/// (acquire_atom, uint64 ticket, string model, lease_callbacks)
///     from the HTTP side: choose a node; `done` gets a lease on its proxy or a refusal
/// (release_atom, uint64 ticket)     from the HTTP side: the request is over
/// (view_atom, node_view)            from a node: its heartbeat
/// (tick_atom)                       self: check for silent nodes
/// (join_atom, uint64 index)         self: (re)link node `index`
/// (status_atom) -> scheduler_snapshot   the cluster as one snapshot, with its nodes
/// ```
using gateway_actor
  = caf::typed_actor<caf::reacts_to<acquire_atom, std::uint64_t, std::string, lease_callbacks>,
                     caf::reacts_to<release_atom, std::uint64_t>,
                     caf::reacts_to<view_atom, node_view>, caf::reacts_to<tick_atom>,
                     caf::reacts_to<join_atom, std::uint64_t>,
                     caf::replies_to<status_atom>::with<scheduler_snapshot>>;

/// What the HTTP threads read without asking the actor: the models the cluster serves.
struct model_directory {
  mutable std::mutex mutex;
  std::vector<std::string> names;

  std::vector<std::string> get() const {
    std::lock_guard lock(mutex);
    return names;
  }

  bool has(const std::string& model) const {
    std::lock_guard lock(mutex);
    return std::find(names.begin(), names.end(), model) != names.end();
  }

  void set(std::vector<std::string> to) {
    std::lock_guard lock(mutex);
    names = std::move(to);
  }
};

/// Where a link to a node stands.
enum class link_phase { connecting, serving, silent, refused, unreachable };

std::string_view to_string(link_phase phase);

/// One node as the gateway keeps it.
struct node_link {
  config::cluster_node config;
  link_phase phase = link_phase::connecting;
  /// Counts link attempts: an answer to an older attempt is ignored.
  std::uint64_t attempt = 0;
  /// The node actor, once linked; `node`/`id` identify the sender of its heartbeats.
  node_actor handle;
  caf::node_id node;
  caf::actor_id id = 0;
  /// Its last view (kept when it leaves rotation, so its models stay known).
  node_view view;
  std::chrono::steady_clock::time_point last_heard{};
  std::uint64_t joins = 0;
  std::string last_error;
  std::chrono::milliseconds retry_wait{0};
  /// Where its proxy takes requests, and the epoch of the current join: a lease names it, and
  /// connections kept under an older one are not reused.
  engine_address proxy;
  std::uint64_t epoch = 0;
  /// Requests sent there and not finished, by model; and all it was sent.
  sent_requests sent;
  std::uint64_t routed = 0;

  bool in_rotation() const {
    return phase == link_phase::serving;
  }
};

/// The cluster as one snapshot, for the status, the metrics and the status page: every model of
/// every node (awake where any node in rotation has it awake, its queues summed over those
/// nodes) and each node as the gateway sees it. Switch counts are the nodes' sums.
scheduler_snapshot cluster_snapshot(const std::vector<node_link>& links,
                                    std::chrono::steady_clock::time_point now);

/// Spawns the gateway actor: it starts linking every node of `settings` at once.
gateway_actor
spawn_gateway(caf::actor_system& system, gateway_settings settings,
              std::shared_ptr<model_directory> directory,
              std::shared_ptr<late_hook<const engine_address&, std::uint64_t>> retired);

} // namespace llmux::actors
