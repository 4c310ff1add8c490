#pragma once

// Plain C++: the scheduler's and the session actors' timeouts for waiting requests.

#include <chrono>
#include <cstdint>
#include <optional>

namespace llmux::actors {

/// One timer for many deadlines. An actor asks to be woken once, a little after the soonest
/// deadline, and then looks at all of them, instead of sending itself a delayed message per
/// deadline: CAF keeps such a message (and its clock entries, ~360 B with a request's reply
/// timeout) until it fires, however early its request was answered, so 10,000 waiting requests
/// left megabytes behind for the whole request timeout. Deadlines that fall within `slack` of
/// each other share one look, which bounds the looks (each visits every waiter) to one per
/// `slack`; a deadline is met at most `slack` late, never early.
class expiry_timer {
public:
  using clock = std::chrono::steady_clock;

  /// A wake-up to schedule: the actor sends itself `serial` to arrive at `at`.
  struct wake {
    clock::time_point at;
    std::uint64_t serial;
  };

  explicit expiry_timer(clock::duration slack) : slack_(slack) {
  }

  /// `deadline` now counts: a wake-up to schedule, unless the one scheduled comes in time.
  std::optional<wake> watch(clock::time_point deadline) {
    auto at = deadline + slack_;
    if (scheduled_ && scheduled_->at <= at) {
      return std::nullopt;
    }
    scheduled_ = wake{at, ++serial_};
    return scheduled_;
  }

  /// A wake-up arrived: whether to look now. Only the one scheduled last counts; one that a
  /// sooner deadline replaced is ignored. After a look, `watch` the soonest deadline left.
  bool woken(std::uint64_t serial) {
    if (!scheduled_ || scheduled_->serial != serial) {
      return false;
    }
    scheduled_.reset();
    return true;
  }

private:
  clock::duration slack_;
  std::optional<wake> scheduled_;
  std::uint64_t serial_ = 0;
};

} // namespace llmux::actors
