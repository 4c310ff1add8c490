// The scheduler's own lifecycle: supervising its model actors, warming them, shutting down,
// and reporting its state.

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <fmt/format.h>

#include "actors/scheduler_state.hpp"
#include "checkpoint/criu.hpp"

namespace llmux::actors::detail {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

void rest_initially(model_slot& slot) {
  slot.state = lifecycle::stopped;
  slot.awake = false;
  slot.rests_with = {};
  slot.evicted_with.clear();
  if (slot.config.checkpoint_path) {
    rest(slot, checkpoint::checkpointed_eviction(slot.config));
  }
}

void scheduler_state::supervise(std::size_t model) {
  models_[model].actor
    = factory_(self_->system(), models_[model].config, caf::actor_cast<caf::actor>(self_));
  self_->monitor(models_[model].actor);
}

// A model actor ended. During shutdown that is expected; otherwise it crashed: its engine ended
// with it (the model state stops it), so a fresh actor starts from "stopped".
void scheduler_state::on_model_exit(const caf::down_msg& message) {
  for (std::size_t i = 0; i < models_.size(); ++i) {
    if (models_[i].actor.address() != message.source) {
      continue;
    }
    if (shutdown_ || stopping_engines_) {
      return;
    }
    log_->error("model actor of {} ended ({}); starting a new one", models_[i].config.name,
                to_string(message.reason));
    revoke_leases(i, fmt::format("the model actor of {} ended", models_[i].config.name));
    retire(i);
    bool was_awake = models_[i].awake;
    rest_initially(models_[i]); // where a fresh model actor starts
    if (was_awake) {
      ledger_.set_serving(any_awake(), now());
    }
    supervise(i);
    // A switch waiting on the dead actor would otherwise wait for its request to time out. Its
    // engine ended with it, so an eviction is done and an activation has failed.
    if (switch_ && switch_->phase == switch_phase::drain && switch_->evicts(i)) {
      if (!victims_busy()) {
        advance(); // nothing left to drain; the fresh actor's eviction is done at once
      }
    } else if (switch_ && switch_->phase == switch_phase::evict
               && switch_->evicted < switch_->victims.size()
               && switch_->victims[switch_->evicted] == i) {
      retire(i);
      ++switch_->evicted;
      evict_next();
    } else if (switch_ && switch_->phase == switch_phase::activate && switch_->target == i
               && !switch_->to_idle()) {
      finish_switch(false, fmt::format("the model actor of {} ended", models_[i].config.name));
    } else {
      pick_next(); // requests it held back by its concurrency limit now need a switch
    }
    return;
  }
}

caf::result<outcome> scheduler_state::warmup() {
  if (warming_) {
    return outcome::failure("warmup already in progress");
  }
  warming_ = self_->make_response_promise<outcome>();
  warm_next(0);
  return *warming_;
}

void scheduler_state::end_warmup(outcome result) {
  if (warming_) {
    warming_->deliver(std::move(result));
    warming_.reset();
  }
}

// Warms the models one after another, so only one is ever on the GPU.
void scheduler_state::warm_next(std::size_t model) {
  if (model == models_.size()) {
    log_->info("warmup done: every model is in its evicted state");
    end_warmup(outcome{});
    return;
  }
  const auto& name = models_[model].config.name;
  log_->info("warming {}", name);
  self_
    ->request(models_[model].actor, deadlines_.warmup() + 2 * engine_deadlines::margin,
              warmup_atom_v)
    .then(
      [this, model, name](outcome& warmed) {
        if (!warmed.ok) {
          end_warmup(outcome::failure(fmt::format("warming {} failed: {}", name, warmed.error)));
          return;
        }
        auto& slot = models_[model];
        slot.started_once = true;
        ++slot.engine_starts;
        note_fallback(model, warmed);
        rest(slot, slot.config.eviction, warmed);
        warm_next(model + 1);
      },
      [this, name](caf::error& error) {
        end_warmup(outcome::failure(fmt::format("warming {} failed: {}", name, to_string(error))));
      });
}

caf::result<outcome> scheduler_state::shutdown(std::uint64_t grace_ms) {
  if (shutdown_) {
    return outcome::failure("shutdown already in progress");
  }
  auto promise = self_->make_response_promise<outcome>();
  shutdown_ = promise;
  for (std::size_t i = 0; i < models_.size(); ++i) {
    fail_all(i, refused(refusal::shutting_down, "llmux is shutting down"));
  }
  refuse_forced(control_error::shutting_down, "llmux is shutting down");
  self_->delayed_send(self_, milliseconds(grace_ms), shutdown_atom_v);
  finish_shutdown_when_idle(false);
  return promise; // shutdown_ may be answered and reset already (no models)
}

// Once every lease is back (or the deadline passed) and no switch runs, stop every engine.
void scheduler_state::finish_shutdown_when_idle(bool deadline_passed) {
  if (!shutdown_ || stopping_engines_) {
    return;
  }
  bool leases_out = std::any_of(models_.begin(), models_.end(),
                                [](const model_slot& slot) { return in_flight(slot) > 0; });
  if (!deadline_passed && (leases_out || switch_)) {
    return;
  }
  for (std::size_t i = 0; i < models_.size(); ++i) {
    revoke_leases(i, "llmux is shutting down and the grace period is over");
  }
  stopping_engines_ = true;
  auto remaining = std::make_shared<std::size_t>(models_.size());
  auto stopped_one = [this, remaining] {
    if (--*remaining == 0) {
      log_->info("every engine is stopped");
      shutdown_->deliver(outcome{});
      shutdown_.reset();
      self_->quit();
    }
  };
  if (models_.empty()) {
    ++*remaining;
    stopped_one();
    return;
  }
  for (std::size_t i = 0; i < models_.size(); ++i) {
    if (!models_[i].actor) {
      stopped_one(); // removed by a reload: its engine is gone already
      continue;
    }
    stop_engine(i, [stopped_one](const outcome&) { stopped_one(); });
  }
}

void scheduler_state::stop_engine(std::size_t model, std::function<void(const outcome&)> done) {
  self_
    ->request(models_[model].actor, deadlines_.stop_reply() + engine_deadlines::margin, stop_atom_v)
    .then([done](outcome& stopped) { done(stopped); },
          [done](caf::error& error) { done(outcome::failure(to_string(error))); });
}

void scheduler_state::entered(switch_phase phase) {
  auto& run = *switch_;
  if (run.phase == phase) {
    return;
  }
  run.phase = phase;
  ledger_.enter(phase, now());
  if (phase == switch_phase::activate && !run.to_idle()) {
    auto& target = models_[run.target];
    if (target.state == lifecycle::sleeping) {
      target.state = lifecycle::waking;
    } else {
      target.state = lifecycle::starting;
      ++target.engine_starts;
    }
  }
}

scheduler_snapshot scheduler_state::snapshot() const {
  auto current = now();
  scheduler_snapshot out;
  for (std::size_t i = 0; i < models_.size(); ++i) {
    const auto& slot = models_[i];
    if (slot.removed) {
      continue;
    }
    model_snapshot model;
    model.name = slot.config.name;
    model.state = slot.state;
    model.started_once = slot.started_once;
    model.eviction = config::to_spec(slot.config.eviction);
    model.evicted_with = slot.evicted_with;
    model.waiting = slot.waiting.size();
    model.in_flight = in_flight(slot);
    model.failures = slot.failures;
    if (auto refused = backing_off(i)) {
      model.retry_in_secs = refused->retry_after_secs;
    }
    model.last_failure = slot.last_failure;
    model.failures_total = slot.failures_total;
    model.engine_starts = slot.engine_starts;
    model.leases_cut = slot.leases_cut;
    model.fallbacks_total = slot.fallbacks_total;
    model.last_fallback = slot.last_fallback;
    model.idle_ttl_secs = slot.config.idle_ttl_secs.value_or(0);
    model.idle_evictions = slot.idle_evictions;
    model.awake = slot.awake;
    model.gpu_memory_mib = holds_mib(i);
    model.gpu_memory_measured = slot.awake ? slot.measured_awake_mib.has_value()
                                           : slot.measured_asleep_mib.contains(slot.evicted_with)
                                               || model.gpu_memory_mib == 0;
    if (slot.awake) {
      out.awake.push_back(slot.config.name);
    }
    out.gpu_memory_held_mib += model.gpu_memory_mib;
    out.models.push_back(std::move(model));
  }
  out.gpu_memory_budget_mib = budget_mib_.value_or(0);
  auto latest = latest_awake();
  if (latest && !switch_) {
    out.active = models_[*latest].config.name;
  }
  out.switching = ledger_.progress(current);
  out.mode = mode_;
  if (pinned_) {
    out.pinned = models_[*pinned_].config.name;
  }
  out.switches = ledger_.switches();
  out.switch_failures = ledger_.failures();
  out.serving_ms = ledger_.serving_ms(current);
  out.switching_ms = ledger_.switching_ms(current);
  out.history.assign(ledger_.history().begin(), ledger_.history().end());
  for (const auto& [direction, estimate] : costs_.measured()) {
    out.costs.push_back(
      {models_[direction.first].config.name, models_[direction.second].config.name,
       static_cast<std::uint64_t>(duration_cast<milliseconds>(estimate).count())});
  }
  return out;
}

} // namespace llmux::actors::detail
