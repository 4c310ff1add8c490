#include "actors/switch_ledger.hpp"

#include <utility>

namespace llmux::actors {

namespace {

std::uint64_t whole_ms(clock_type::duration span) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(span).count();
  return ms > 0 ? static_cast<std::uint64_t>(ms) : 0;
}

std::uint64_t& phase_field(switch_record& record, switch_phase phase) {
  switch (phase) {
    case switch_phase::cooldown:
      return record.cooldown_ms;
    case switch_phase::drain:
      return record.drain_ms;
    case switch_phase::evict:
      return record.evict_ms;
    case switch_phase::activate:
      break;
  }
  return record.activate_ms;
}

} // namespace

std::string_view to_string(serving_mode mode) {
  return mode == serving_mode::manual ? "manual" : "auto";
}

switch_ledger::switch_ledger(clock_type::time_point now, std::size_t history_limit)
  : history_limit_(history_limit), since_(now) {
}

void switch_ledger::begin(std::string from, std::string to, clock_type::time_point now,
                          std::int64_t began_unix_ms) {
  move_to(activity::switching, now);
  running_ = switch_record{};
  running_->from = std::move(from);
  running_->to = std::move(to);
  running_->began_unix_ms = began_unix_ms;
  phase_ = switch_phase::cooldown;
  began_ = now;
  phase_began_ = now;
}

void switch_ledger::enter(switch_phase phase, clock_type::time_point now) {
  if (!running_ || phase == phase_) {
    return;
  }
  phase_field(*running_, phase_) += whole_ms(now - phase_began_);
  phase_ = phase;
  phase_began_ = now;
}

const switch_record* switch_ledger::finish(bool ok, std::string error, clock_type::time_point now) {
  if (!running_) {
    return nullptr;
  }
  phase_field(*running_, phase_) += whole_ms(now - phase_began_);
  running_->total_ms = whole_ms(now - began_);
  running_->ok = ok;
  running_->error = std::move(error);
  ++(ok ? switches_ : failures_);
  history_.push_back(std::move(*running_));
  running_.reset();
  if (history_.size() > history_limit_) {
    history_.pop_front();
  }
  // A switch to no model (a sleep on request) leaves the GPU idle.
  move_to(ok && !history_.back().to.empty() ? activity::serving : activity::idle, now);
  return &history_.back();
}

void switch_ledger::set_serving(bool serving, clock_type::time_point now) {
  if (!running_) {
    move_to(serving ? activity::serving : activity::idle, now);
  }
}

switch_progress switch_ledger::progress(clock_type::time_point now) const {
  switch_progress out;
  if (running_) {
    out.running = true;
    out.from = running_->from;
    out.to = running_->to;
    out.phase = phase_;
    out.elapsed_ms = whole_ms(now - began_);
  }
  return out;
}

void switch_ledger::move_to(activity next, clock_type::time_point now) {
  if (current_ == activity::serving) {
    serving_ += now - since_;
  } else if (current_ == activity::switching) {
    switching_ += now - since_;
  }
  current_ = next;
  since_ = now;
}

std::uint64_t switch_ledger::total(activity which, clock_type::time_point now) const {
  auto sum = which == activity::serving ? serving_ : switching_;
  if (current_ == which) {
    sum += now - since_;
  }
  return whole_ms(sum);
}

std::uint64_t switch_ledger::serving_ms(clock_type::time_point now) const {
  return total(activity::serving, now);
}

std::uint64_t switch_ledger::switching_ms(clock_type::time_point now) const {
  return total(activity::switching, now);
}

} // namespace llmux::actors
