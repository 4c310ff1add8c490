#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "actors/node_settings.hpp"
#include "actors/serving.hpp"
#include "config/config.hpp"

namespace caf {
class actor_system;
} // namespace caf

namespace llmux::actors {

/// The serving backend made of actors: a scheduler with its model and engine actors. Each
/// acquire runs in a session actor of its own, so thousands of requests can wait at once
/// without holding a thread.
class actor_backend : public serving_backend {
public:
  /// Refuses new requests, lets granted leases finish for up to `grace`, stops every engine,
  /// and returns once they are gone. Blocks the calling thread (not an actor or io thread).
  virtual void shutdown(std::chrono::milliseconds grace) = 0;

  /// Warms every model in turn (start, one inference, evict) before serving; returns an error
  /// message, empty on success. Blocks the calling thread.
  virtual std::string warmup() = 0;

  /// Applies `cfg` (already validated): the scheduler takes its models and policy; the
  /// sessions see the models it adds or removes. `done` gets the outcome once, on an actor
  /// thread. One reload at a time: another one meanwhile is refused.
  virtual void reload(config::config cfg, std::function<void(reload_outcome)> done) = 0;

  /// Publishes this llmux as a cluster node (node.hpp) on `host`:`port` through CAF's
  /// middleman (port 0: the system picks one), which the actor system must have loaded.
  /// Returns the port, or 0 with `error` set.
  virtual std::uint16_t publish_node(node_settings settings, const std::string& host,
                                     std::uint16_t port, std::string& error)
    = 0;
};

/// Spawns the scheduler (and through it the model and engine actors) for `cfg`.
std::unique_ptr<actor_backend> make_actor_backend(caf::actor_system& system,
                                                  const config::config& cfg);

} // namespace llmux::actors
