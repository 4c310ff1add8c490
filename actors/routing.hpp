#pragma once

// Where a gateway sends a request: which node of the cluster serves a model at the least cost.
// Pure logic over the nodes' views, so the gateway and the simulator route alike.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "actors/snapshot.hpp"

namespace llmux::actors {

/// One node as routing sees it, for one model.
struct route_candidate {
  /// The node is in rotation (linked, heartbeats arriving) and has the model configured, not
  /// backing off.
  bool serves = false;
  /// The model is awake on the node: a request starts without a switch.
  bool awake = false;
  /// The model's requests waiting and in flight there.
  std::uint64_t waiting = 0;
  std::uint64_t in_flight = 0;
  /// Requests for other models waiting or in flight on the node: a switch there drains them
  /// first.
  std::uint64_t queued_on_node = 0;
  /// The node's estimate of bringing the model up (its measured switch cost).
  std::chrono::milliseconds switch_cost{0};
  /// What bringing it up there costs the models it would push off the GPU: the cost of
  /// bringing back each model awake there (zero on an idle GPU).
  std::chrono::milliseconds displaces{0};
};

/// Requests a gateway sent to one node that have not finished, by model.
using sent_requests = std::unordered_map<std::string, std::uint64_t>;

/// What routing knows of `model` on a node from the node's last snapshot and the requests the
/// gateway sent there since (`sent`): the snapshot is up to a heartbeat old, so each queue
/// counts as the larger of the two. A switch the node has not measured yet costs
/// `unmeasured_switch`. `serves` says whether the model is configured there and not backing
/// off; whether the node is in rotation is for the caller to add.
route_candidate candidate_from(const scheduler_snapshot& node, std::string_view model,
                               const sent_requests& sent,
                               std::chrono::milliseconds unmeasured_switch);

/// How a gateway chooses among the nodes that serve a model.
enum class routing {
  /// The node where serving costs least: where the model is awake, the work ahead of the
  /// request; elsewhere the switch, the work queued on the node before it and what the switch
  /// displaces. A hot model spreads to another node once its queue outweighs twice a switch.
  affinity,
  /// Each request to the next node in turn.
  round_robin,
  /// The node with the fewest of the model's requests waiting and in flight.
  least_loaded,
};

std::string_view to_string(routing strategy);

/// The strategy `to_string` names `name`, if any.
std::optional<routing> routing_named(std::string_view name);

/// The index of the candidate to send a request to, or none when no node serves the model.
/// `turn` counts the requests routed so far (round robin takes the next after it).
/// `service` is the time one request takes, to weigh queues against switch costs.
std::optional<std::size_t> choose_node(std::span<const route_candidate> candidates,
                                       routing strategy, std::uint64_t turn,
                                       std::chrono::milliseconds service);

} // namespace llmux::actors
