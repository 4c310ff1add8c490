#pragma once

// A node of a cluster: the actor a gateway reaches over CAF's middleman to learn what this
// llmux serves. Only control and state go over it; requests go to the node's proxy over HTTP.

#include <string>

#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/messages.hpp"
#include "actors/node_settings.hpp"
#include "actors/scheduler.hpp"

namespace llmux::actors {

/// The node protocol. Every request carries the cluster secret; a wrong one is refused (and
/// logged) before anything is shared.
///
/// ```
/// (join_atom, string secret, string gateway) -> node_view
///     the node's view now; with the right secret the sender is also subscribed: it hears
///     (view_atom, node_view) at every heartbeat until it ends or joins again
/// (tick_atom)    self: a heartbeat (the scheduler's snapshot is read and pushed)
/// ```
using node_actor
  = caf::typed_actor<caf::replies_to<join_atom, std::string, std::string>::with<node_view>,
                     caf::reacts_to<tick_atom>>;

/// What a node's subscribers (gateways) take: its view, at every heartbeat.
using node_subscriber = caf::typed_actor<caf::reacts_to<view_atom, node_view>>;

/// Spawns the node actor in front of `scheduler`.
node_actor spawn_node(caf::actor_system& system, scheduler_actor scheduler, node_settings settings);

} // namespace llmux::actors
