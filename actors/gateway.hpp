#pragma once

// The cluster's front door (`llmux --gateway`): links to every node of its file over CAF's
// middleman, keeps each node's view (node.hpp) and grants each request a lease on the node
// that serves its model at the least cost (routing.hpp). The lease names the node's proxy:
// the HTTP side relays the request there as it relays to an engine.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "actors/routing.hpp"
#include "actors/serving.hpp"
#include "config/config.hpp"

namespace caf {
class actor_system;
} // namespace caf

namespace llmux::actors {

struct gateway_settings {
  /// How the gateway introduces itself to the nodes (their logs name it).
  std::string name;
  std::string secret;
  std::vector<config::cluster_node> nodes;
  routing strategy = routing::affinity;
  /// The nodes' heartbeat; a node silent for `silence_limit` leaves rotation.
  std::chrono::milliseconds heartbeat{250};
  std::chrono::milliseconds silence_limit{1000};
  /// How long a connect or a join may take before it counts as failed.
  std::chrono::milliseconds link_timeout{3000};
  /// Waits between attempts to reach a node that is not linked: doubling from the first to the
  /// most.
  std::chrono::milliseconds retry_first{250};
  std::chrono::milliseconds retry_most{5000};
};

/// A serving backend whose "engines" are the nodes' proxies. The actor system must have loaded
/// CAF's middleman.
class gateway_backend : public serving_backend {
public:
  /// Stops routing: later acquires are refused at once; requests already sent to nodes may
  /// finish for up to `grace`. The nodes keep running. Blocks the calling thread.
  virtual void shutdown(std::chrono::milliseconds grace) = 0;
};

std::unique_ptr<gateway_backend> make_gateway_backend(caf::actor_system& system,
                                                      gateway_settings settings);

} // namespace llmux::actors
