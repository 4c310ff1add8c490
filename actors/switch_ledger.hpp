#pragma once

// Pure bookkeeping for the scheduler: how long each switch phase took, the recent switches,
// and where the GPU's time went (serving, switching, idle).

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "actors/policy.hpp"
#include "actors/snapshot.hpp"

namespace llmux::actors {

class switch_ledger {
public:
  /// Keeps the last `history_limit` switches; time is counted from `now` (idle).
  explicit switch_ledger(clock_type::time_point now, std::size_t history_limit = 64);

  /// A switch from `from` (empty: an idle GPU) to `to` begins, in its cooldown.
  void begin(std::string from, std::string to, clock_type::time_point now,
             std::int64_t began_unix_ms);

  /// The switch in progress enters `phase`; the time since the last phase change counts for
  /// the phase it leaves.
  void enter(switch_phase phase, clock_type::time_point now);

  /// The switch in progress ends (`ok`: its target, if it has one, serves now); its record, or
  /// null when no switch was in progress.
  const switch_record* finish(bool ok, std::string error, clock_type::time_point now);

  /// Outside a switch: whether a model serves (false when the active model's engine died).
  void set_serving(bool serving, clock_type::time_point now);

  switch_progress progress(clock_type::time_point now) const;

  /// Milliseconds serving and switching since the ledger began, up to `now`.
  std::uint64_t serving_ms(clock_type::time_point now) const;
  std::uint64_t switching_ms(clock_type::time_point now) const;

  const std::deque<switch_record>& history() const {
    return history_;
  }
  std::uint64_t switches() const {
    return switches_;
  }
  std::uint64_t failures() const {
    return failures_;
  }

private:
  enum class activity { idle, serving, switching };
  /// Adds the time since the last change to the current activity, then moves to `next`.
  void move_to(activity next, clock_type::time_point now);
  std::uint64_t total(activity which, clock_type::time_point now) const;

  std::size_t history_limit_;
  activity current_ = activity::idle;
  clock_type::time_point since_;
  clock_type::duration serving_{};
  clock_type::duration switching_{};
  /// The switch in progress: its record so far, its phase and when that phase began.
  std::optional<switch_record> running_;
  switch_phase phase_ = switch_phase::cooldown;
  clock_type::time_point began_;
  clock_type::time_point phase_began_;
  std::deque<switch_record> history_;
  std::uint64_t switches_ = 0;
  std::uint64_t failures_ = 0;
};

} // namespace llmux::actors
