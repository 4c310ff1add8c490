#pragma once

// How the plain-C++ side of a backend reaches its actors without blocking a thread, and how
// actors reach callbacks the HTTP side sets later. Internal to actors/.

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/event_based_actor.hpp>

#include "actors/serving.hpp"

namespace llmux::actors {

/// The HTTP side's callbacks for one acquire, as they travel to the actor that answers it.
struct lease_callbacks {
  lease_callback done;
  revoke_callback revoked;
};

} // namespace llmux::actors

// Callbacks travel only between actors of this process.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(llmux::actors::lease_callbacks)

namespace llmux::actors {

/// Asks `target` once: `done` gets the answer, or nothing when none came within `bound`.
/// Spawned for each question, so no thread waits for the answer.
template <class Reply, class Handle, class... Message>
caf::behavior ask_once(caf::event_based_actor* self, Handle target, std::chrono::milliseconds bound,
                       std::function<void(std::optional<Reply>)> done, Message... message) {
  self->request(target, bound, std::move(message)...)
    .then([done](Reply& reply) { done(std::move(reply)); },
          [done](caf::error&) { done(std::nullopt); });
  return {};
}

/// A callback an actor calls, which the HTTP side sets after the actor exists.
template <class... Args>
struct late_hook {
  std::mutex mutex;
  std::function<void(Args...)> callback;

  void set(std::function<void(Args...)> to) {
    std::lock_guard lock(mutex);
    callback = std::move(to);
  }

  void operator()(Args... args) {
    std::lock_guard lock(mutex);
    if (callback) {
      callback(args...);
    }
  }
};

} // namespace llmux::actors
