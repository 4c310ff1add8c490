#pragma once

// The firewall between http/ and actors/: plain C++ only. The HTTP side asks for leases on
// models through `serving_backend`; the actor side implements it.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace llmux::actors {

/// Permission to forward one request to a model's engine, or why there is none.
struct lease_outcome {
  bool granted = false;
  /// Where to forward (granted only): the engine listens on 127.0.0.1:`engine_port`.
  std::uint16_t engine_port = 0;
  /// The engine's name for the model, written into the forwarded body's `model` field.
  std::string model_path;
  /// HTTP status for the client when not granted: 404 unknown model, 504 timed out, 503 the
  /// model could not be started, is backing off after failures, or llmux is shutting down.
  int status = 0;
  std::string message;
  /// With a 503 for a model that backs off: seconds until it is tried again (`Retry-After`).
  std::uint32_t retry_after_secs = 0;
};

/// Called exactly once with the outcome of an acquire, on an actor thread: never do I/O there.
using lease_callback = std::function<void(lease_outcome)>;

/// Called at most once, on an actor thread, when the scheduler takes a granted lease back
/// before its release: the engine died or hung, or a drain reached its deadline. The HTTP side
/// then ends the request at once with an error (`reason` says why) and releases the ticket.
using revoke_callback = std::function<void(std::string reason)>;

/// What the HTTP side needs from the scheduler.
class serving_backend {
public:
  virtual ~serving_backend() = default;

  /// Queues a request for a lease on `model` (a `timeout` of 0 waits without limit); `done`
  /// gets the outcome once, and `revoked` is called if a granted lease is taken back. The
  /// returned ticket names the request in `release`, which must follow every acquire.
  virtual std::uint64_t acquire(const std::string& model, std::chrono::milliseconds timeout,
                                lease_callback done, revoke_callback revoked)
    = 0;

  /// Ends a ticket whatever its state: a waiting request leaves the queue (its outcome is then
  /// a cancellation, unless it was already decided), a granted lease is returned. Calling it
  /// again does nothing.
  virtual void release(std::uint64_t ticket) = 0;

  /// The public model names, in configuration order.
  virtual const std::vector<std::string>& model_names() const = 0;

  /// Asks for the scheduler's state as JSON (active model, switch in progress, switch count,
  /// and per model the waiting requests and granted leases); `done` gets it once, on an actor
  /// thread.
  virtual void status(std::function<void(std::string)> done) = 0;
};

} // namespace llmux::actors
