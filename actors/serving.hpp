#pragma once

// The firewall between http/ and actors/: plain C++ only. The HTTP side asks for leases on
// models through `serving_backend`; the actor side implements it.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "actors/control.hpp"
#include "actors/snapshot.hpp"

namespace llmux::actors {

/// Why a request gets no lease. http/ alone turns each into an HTTP status and an OpenAI
/// error body (http/errors.hpp); the message that comes with it says the details.
enum class refusal : std::uint8_t {
  none,           ///< granted
  unknown_model,  ///< no configured model has that name
  timed_out,      ///< it waited `policy.request_timeout_secs` for its model
  backing_off,    ///< the model failed (start, wake, crash) and is not tried again yet
  shutting_down,  ///< llmux is stopping
  cancelled,      ///< its ticket was released while it waited (the client left)
  manual_mode,    ///< manual mode serves only the pinned (or active) model
  scheduler_gone, ///< the scheduler did not answer or has ended
  queue_full,     ///< `max_queue` requests already wait for the model
  no_node,        ///< behind a gateway: no node that serves the model is in rotation
};

/// Where requests are forwarded: a model's engine (on this host), or, behind a gateway, a
/// node's proxy.
struct engine_address {
  /// An IP address; empty: 127.0.0.1 (an engine llmux started).
  std::string host;
  std::uint16_t port = 0;

  /// The IP address to connect to.
  std::string_view ip() const {
    return host.empty() ? std::string_view("127.0.0.1") : std::string_view(host);
  }

  friend bool operator==(const engine_address&, const engine_address&) = default;
};

struct engine_address_hash {
  std::size_t operator()(const engine_address& address) const noexcept {
    return std::hash<std::string>{}(address.host) * 31 + address.port;
  }
};

/// Permission to forward one request to a model's engine, or why there is none.
struct lease_outcome {
  bool granted = false;
  /// Where to forward (granted only): the engine listens on `engine_host`:`engine_port`
  /// (an empty host: 127.0.0.1).
  std::string engine_host;
  std::uint16_t engine_port = 0;
  /// Behind a gateway, the node the request goes to (its proxy is the "engine"); empty on a
  /// node or a standalone llmux.
  std::string node;
  /// The engine's name for the model, written into the forwarded body's `model` field.
  std::string model_path;
  /// Which time the model became active (granted only): connections to the engine opened
  /// under another epoch must not be reused.
  std::uint64_t engine_epoch = 0;
  /// Why not, when not granted, and the details for the client.
  refusal reason = refusal::none;
  std::string message;
  /// For a model that backs off: seconds until it is tried again (`Retry-After`).
  std::uint32_t retry_after_secs = 0;
};

/// Called exactly once with the outcome of an acquire, on an actor thread: never do I/O there.
using lease_callback = std::function<void(lease_outcome)>;

/// Called at most once, on an actor thread, when the scheduler takes a granted lease back
/// before its release: the engine died or hung, or a drain reached its deadline. The HTTP side
/// then ends the request at once with an error (`reason` says why) and releases the ticket.
using revoke_callback = std::function<void(std::string reason)>;

/// A lease taken at once, and the ticket that names it. The outcome is shared by the leases
/// taken while the model stays active (never null).
struct immediate_lease {
  std::uint64_t ticket = 0;
  std::shared_ptr<const lease_outcome> lease;
};

/// One client connection's way to the scheduler. Its acquires and releases reach the scheduler
/// in the order they were made, so a release never overtakes its acquire. Used by one thread
/// at a time.
class serving_session {
public:
  /// Ends the session; tickets still held are released.
  virtual ~serving_session() = default;

  /// A lease on `model` taken at once, without asking the scheduler, when the model is being
  /// served and no request waits; `revoked` is called (on an actor thread) if it is taken back.
  /// Nothing otherwise: then `acquire` asks. The ticket must be released like any other.
  virtual std::optional<immediate_lease> try_acquire(const std::string& model,
                                                     revoke_callback revoked)
    = 0;

  /// Queues a request for a lease on `model` (a `timeout` of 0 waits without limit); `done`
  /// gets the outcome once, and `revoked` is called if a granted lease is taken back. The
  /// returned ticket names the request in `release`, which must follow every acquire. If the
  /// scheduler is gone, `done` gets `refusal::scheduler_gone`.
  virtual std::uint64_t acquire(const std::string& model, std::chrono::milliseconds timeout,
                                lease_callback done, revoke_callback revoked)
    = 0;

  /// Ends a ticket whatever its state: a waiting request leaves the queue (its outcome is then
  /// a cancellation, unless it was already decided), a granted lease is returned. Calling it
  /// again does nothing.
  virtual void release(std::uint64_t ticket) = 0;
};

/// Called on an actor thread when the engine listening at `address` stops serving the model it
/// served (it is evicted, died or is restarted; behind a gateway: the node left rotation):
/// connections to it opened under `epoch` (`lease_outcome::engine_epoch`) or earlier are
/// stale, including those still in use.
using engine_retired_callback
  = std::function<void(const engine_address& address, std::uint64_t epoch)>;

/// Called on an actor thread after each switch ends, successful or not.
using switch_ended_callback = std::function<void(const switch_record&)>;

/// What the HTTP side needs from the scheduler.
class serving_backend {
public:
  virtual ~serving_backend() = default;

  /// A session for one client connection; it may be used from any thread.
  virtual std::unique_ptr<serving_session> open_session() = 0;

  /// The public model names, in configuration order (a reload may change them).
  virtual std::vector<std::string> model_names() const = 0;

  /// Whether `model` is a configured model's name.
  virtual bool serves(const std::string& model) const = 0;

  /// Asks for the scheduler's state; `done` gets it once, on an actor thread (nothing when the
  /// scheduler does not answer within 10 s).
  virtual void snapshot(std::function<void(std::optional<scheduler_snapshot>)> done) = 0;

  /// Carries out an admin request; `done` gets the result once, on an actor thread, when it
  /// is done (a switch, sleep or wake: when it has ended).
  virtual void control(control_request request, std::function<void(control_result)> done) = 0;

  /// Sets the one callback told about retired engines (replacing an earlier one); set it
  /// before serving.
  virtual void on_engine_retired(engine_retired_callback retired) = 0;

  /// Sets the one callback told about ended switches (replacing an earlier one).
  virtual void on_switch_ended(switch_ended_callback ended) = 0;
};

} // namespace llmux::actors
