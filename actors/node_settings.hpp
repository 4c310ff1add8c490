#pragma once

// What a cluster node is and how it talks to its gateways (node.hpp). Plain C++: the daemon's
// start-up fills it in without CAF.

#include <chrono>
#include <cstdint>
#include <string>

namespace llmux::actors {

struct node_settings {
  /// Its name in the cluster.
  std::string name;
  /// Where its proxy takes requests (a gateway relays them there over HTTP); an empty host: at
  /// the address the gateway reached the node on.
  std::string proxy_host;
  std::uint16_t proxy_port = 0;
  /// The cluster secret every gateway must present.
  std::string secret;
  /// How often subscribed gateways hear the view; one that misses a few takes the node out of
  /// rotation.
  std::chrono::milliseconds heartbeat{250};
};

} // namespace llmux::actors
