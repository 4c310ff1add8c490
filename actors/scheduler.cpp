#include "actors/scheduler.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <fmt/format.h>

#include "actors/scheduler_state.hpp"

namespace llmux::actors {

namespace detail {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

scheduler_actor::behavior_type scheduler_state::make_behavior(const config::config& cfg,
                                                              model_factory factory,
                                                              serving_hooks hooks) {
  retired_ = std::move(hooks.retired);
  switch_ended_ = std::move(hooks.switch_ended);
  log_ = spdlog::get("sched");
  settings_ = cfg.policy;
  budget_mib_ = cfg.gpu_memory_budget_mib;
  policy_ = make_policy(cfg.policy, cfg.models.size());
  deadlines_ = engine_deadlines::from(cfg);
  timeouts_ = cfg.timeouts;
  factory_ = std::move(factory);
  own_factory_ = !factory_;
  use_engines_of(cfg);
  reloads_ = std::move(hooks.reloads);
  for (const auto& model : cfg.models) {
    model_slot slot;
    slot.config = model;
    rest_initially(slot);
    if (models_.size() < hooks.gates.size()) {
      slot.gate = hooks.gates[models_.size()];
    }
    models_.push_back(std::move(slot));
    supervise(models_.size() - 1);
  }
  self_->set_down_handler([this](caf::down_msg& message) { on_model_exit(message); });
  if (auto interval = policy_->tick_interval()) {
    ticking_ = true;
    self_->delayed_send(self_, *interval, tick_atom_v, true);
  }
  // Every handler ends by publishing which gate may be open: any of them can change that.
  return {
    [this](acquire_atom, std::uint64_t ticket, const std::string& model, std::uint64_t timeout_ms) {
      auto result = acquire(ticket, model, timeout_ms);
      publish_gates();
      return result;
    },
    [this](release_atom, std::uint64_t ticket) {
      release(ticket);
      publish_gates();
    },
    [this](idle_atom, std::uint64_t model) {
      if (model < models_.size()) {
        lease_ended(static_cast<std::size_t>(model));
      }
      publish_gates();
    },
    [this](ttl_atom, std::uint64_t model, std::uint64_t watch) {
      if (model < models_.size()) {
        check_idle(static_cast<std::size_t>(model), watch);
      }
      publish_gates();
    },
    [this](expire_atom, std::uint64_t serial) {
      if (expiries_.woken(serial)) {
        expire_due();
        publish_gates();
      }
    },
    [this](step_atom) {
      if (switch_) {
        advance();
      }
      publish_gates();
    },
    [this](step_atom, std::uint64_t model) {
      on_deferred(static_cast<std::size_t>(model));
      publish_gates();
    },
    [this](drain_atom, std::uint64_t serial) {
      on_drain_deadline(serial);
      publish_gates();
    },
    [this](tick_atom, bool periodic) {
      on_tick(periodic);
      publish_gates();
    },
    [this](shutdown_atom) {
      finish_shutdown_when_idle(true);
      publish_gates();
    },
    [this](down_atom, const std::string& model, const std::string& reason) {
      on_model_down(model, reason);
      publish_gates();
    },
    [this](status_atom) { return snapshot(); },
    [this](reload_atom) {
      auto result = reload();
      publish_gates();
      return result;
    },
    [this](control_atom, const control_request& request) {
      auto result = control(request);
      publish_gates();
      return result;
    },
    [this](shutdown_atom, std::uint64_t grace_ms) {
      auto result = shutdown(grace_ms);
      publish_gates();
      return result;
    },
    [this](warmup_atom) {
      auto result = warmup();
      publish_gates();
      return result;
    },
  };
}

std::optional<std::size_t> scheduler_state::index_of(const std::string& model) const {
  for (std::size_t i = 0; i < models_.size(); ++i) {
    if (models_[i].config.name == model && !models_[i].removed) {
      return i;
    }
  }
  return std::nullopt;
}

lease_outcome scheduler_state::grant(std::size_t model) const {
  lease_outcome out;
  out.granted = true;
  out.engine_port = models_[model].config.port;
  out.model_path = models_[model].config.model_path;
  out.engine_epoch = models_[model].epoch;
  return out;
}

void scheduler_state::retire(std::size_t model) const {
  if (retired_) {
    retired_(engine_address{{}, models_[model].config.port}, models_[model].epoch);
  }
}

caf::result<lease_outcome> scheduler_state::acquire(std::uint64_t ticket, const std::string& model,
                                                    std::uint64_t timeout_ms) {
  if (shutdown_) {
    return refused(refusal::shutting_down, "llmux is shutting down");
  }
  auto index = index_of(model);
  if (!index) {
    return refused(refusal::unknown_model, fmt::format("The model `{}` does not exist.", model));
  }
  auto& slot = models_[*index];
  bool admitted = admits(*index);
  if (admitted && slot.waiting.empty() && has_room(slot)) {
    slot.leases.emplace(ticket, self_->current_sender());
    slot.last_activity = now();
    return grant(*index);
  }
  if (!admitted) {
    if (auto refused = manual_refusal(*index)) {
      return *refused;
    }
    if (auto refused = backing_off(*index)) {
      return *refused;
    }
  }
  if (slot.config.max_queue && slot.waiting.size() >= *slot.config.max_queue) {
    return queue_full(*index);
  }
  auto promise = self_->make_response_promise<lease_outcome>();
  auto arrived = now();
  std::optional<clock_type::time_point> deadline;
  if (timeout_ms > 0) {
    deadline = arrived + milliseconds(timeout_ms);
    watch_deadline(*deadline);
  }
  slot.waiting.push_back(
    {ticket, promise, arrived, deadline, self_->current_sender(), arrivals_++});
  // A request held back only by the model's concurrency limit needs no switch.
  if (!admitted) {
    consider(*index);
  }
  return promise;
}

// With policies that want it, an awake model keeps taking requests while a switch evicting it
// waits out its cooldown: the GPU is still its own, and only the drain closes the door.
// (The reference queued them, which makes FIFO ping-pong; its policies keep that.)
bool scheduler_state::admits(std::size_t model) const {
  if (!models_[model].awake) {
    return false;
  }
  return !switch_ || !switch_->evicts(model)
         || (switch_->phase == switch_phase::cooldown && policy_->serves_during_cooldown());
}

bool scheduler_state::holds_backlog(std::size_t model) const {
  const auto& slot = models_[model];
  return !slot.waiting.empty() && slot.waiting.front().order < slot.arrivals_before_activation;
}

bool scheduler_state::has_room(const model_slot& slot) {
  const auto& limit = slot.config.max_concurrent_requests;
  return !limit || in_flight(slot) < *limit;
}

std::size_t scheduler_state::in_flight(const model_slot& slot) {
  return slot.leases.size() + (slot.gate ? slot.gate->held() : 0);
}

void scheduler_state::publish_gates() {
  bool anyone_waits = std::any_of(models_.begin(), models_.end(),
                                  [](const model_slot& slot) { return !slot.waiting.empty(); });
  for (std::size_t i = 0; i < models_.size(); ++i) {
    auto& slot = models_[i];
    if (!slot.gate) {
      continue;
    }
    bool open = slot.awake && !(switch_ && switch_->evicts(i)) && !shutdown_ && !anyone_waits
                && !slot.removed && !slot.config.max_concurrent_requests;
    if (open && !slot.gate->is_open()) {
      slot.gate->open(grant(i));
    } else if (!open && slot.gate->is_open()) {
      slot.gate->close();
    }
  }
}

void scheduler_state::release(std::uint64_t ticket) {
  for (std::size_t i = 0; i < models_.size(); ++i) {
    auto& slot = models_[i];
    if (slot.leases.erase(ticket) > 0) {
      lease_ended(i);
      return;
    }
    for (auto it = slot.waiting.begin(); it != slot.waiting.end(); ++it) {
      if (it->ticket == ticket) {
        it->promise.deliver(refused(refusal::cancelled, "request cancelled"));
        slot.waiting.erase(it);
        return;
      }
    }
  }
  // A repeated release: nothing to do (acquire and release come from one sender, in order).
}

void scheduler_state::lease_ended(std::size_t i) {
  auto& slot = models_[i];
  slot.last_activity = now();
  if (admits(i)) {
    bool had_backlog = holds_backlog(i);
    admit_waiting(i);
    // The requests that waited for this model's switch are all in service: an event
    // policies may act on (cost_quantum does not preempt before it).
    if (had_backlog && !holds_backlog(i) && !switch_) {
      pick_next();
    }
  } else if (switch_ && switch_->evicts(i) && switch_->phase <= switch_phase::drain
             && switch_->serve_held) {
    admit_waiting(i, switch_->arrivals_before);
  }
  bool drained = in_flight(slot) == 0;
  if (drained && switch_ && switch_->evicts(i) && switch_->phase == switch_phase::drain
      && !victims_busy()) {
    advance();
  }
  if (drained && shutdown_) {
    finish_shutdown_when_idle(false);
  }
  // The model has nothing left to do: the policy may want the GPU elsewhere now, rather than
  // at its next tick.
  if (drained && slot.waiting.empty() && slot.awake && !switch_) {
    pick_next();
  }
}

void scheduler_state::watch_deadline(clock_type::time_point deadline) {
  if (auto wake = expiries_.watch(deadline)) {
    self_->delayed_send(self_, std::max(wake->at - now(), clock_type::duration{}), expire_atom_v,
                        wake->serial);
  }
}

// One pass over every queue, keeping the order of those that stay.
void scheduler_state::expire_due() {
  auto current = now();
  std::optional<clock_type::time_point> soonest;
  for (auto& slot : models_) {
    auto kept = slot.waiting.begin();
    for (auto it = slot.waiting.begin(); it != slot.waiting.end(); ++it) {
      if (it->deadline && *it->deadline <= current) {
        auto waited = duration_cast<milliseconds>(current - it->since);
        it->promise.deliver(
          refused(refusal::timed_out,
                  fmt::format("timed out after {:.1f} s waiting for model {}",
                              static_cast<double>(waited.count()) / 1000, slot.config.name)));
        continue;
      }
      if (it->deadline) {
        soonest = soonest ? std::min(*soonest, *it->deadline) : *it->deadline;
      }
      if (kept != it) {
        *kept = std::move(*it);
      }
      ++kept;
    }
    slot.waiting.erase(kept, slot.waiting.end());
  }
  if (soonest) {
    watch_deadline(*soonest);
  }
}

// The policy sees one active model, the incumbent; other awake models need no switch, so
// what waits for them (held back by their concurrency limits) is left out.
scheduler_view scheduler_state::view(std::vector<queue_view>& queues,
                                     std::optional<std::size_t> target) const {
  auto current = now();
  auto active = switch_ ? std::nullopt : incumbent(target);
  queues.clear();
  for (std::size_t i = 0; i < models_.size(); ++i) {
    const auto& slot = models_[i];
    queue_view queue;
    if (!slot.awake || active == i) {
      queue.waiting = slot.waiting.size();
      queue.oldest_wait
        = slot.waiting.empty() ? clock_type::duration{} : current - slot.waiting.front().since;
    }
    queue.in_flight = in_flight(slot);
    queues.push_back(queue);
  }
  scheduler_view result;
  result.now = current;
  result.active = active;
  result.active_for = active ? current - models_[*active].activated_at : clock_type::duration{};
  result.active_holds_backlog = active && holds_backlog(*active);
  result.queues = queues;
  return result;
}

void scheduler_state::consider(std::size_t target) {
  if (switch_ || shutdown_ || mode_ == serving_mode::manual) {
    return;
  }
  if (bring_up_beside()) {
    return;
  }
  std::vector<queue_view> queues;
  apply(policy_->on_arrival(view(queues, target), target));
}

void scheduler_state::apply(const decision& decided) {
  switch (decided.what) {
    case decision::kind::stay:
      break;
    case decision::kind::switch_now:
      if (!models_[decided.target].awake && switchable(decided.target)) {
        begin_switch(decided.target, decided.serve_held);
      }
      break;
    case decision::kind::defer:
      self_->delayed_send(self_, decided.delay, step_atom_v,
                          static_cast<std::uint64_t>(decided.target));
      break;
    case decision::kind::recheck:
      self_->delayed_send(self_, decided.delay, tick_atom_v, false);
      break;
  }
}

void scheduler_state::on_tick(bool periodic) {
  if (shutdown_) {
    return;
  }
  if (periodic) {
    // A reload may have brought a policy without a tick.
    ticking_ = policy_->tick_interval().has_value();
    if (ticking_) {
      self_->delayed_send(self_, *policy_->tick_interval(), tick_atom_v, true);
    }
  }
  pick_next();
}

// A deferred switch is due. It still needs demand: a queue that emptied (timeouts,
// cancellations) no longer justifies a switch.
void scheduler_state::on_deferred(std::size_t model) {
  if (model >= models_.size()) {
    return;
  }
  policy_->on_deferred_due(model);
  if (switch_ || shutdown_ || mode_ == serving_mode::manual || models_[model].awake
      || models_[model].waiting.empty() || backing_off(model) || !switchable(model)) {
    return;
  }
  begin_switch(model);
}

void scheduler_state::begin_switch(std::size_t target, bool serve_held,
                                   std::optional<forced_switch> forced) {
  auto current = now();
  bool to_idle = forced && forced->to_idle;
  std::vector<std::size_t> victims;
  if (to_idle) {
    victims.push_back(target);
  } else {
    auto room = room_for(target);
    if (!room.fits) {
      log_->warn("{} needs {} MiB: more than gpu_memory_budget_mib holds beside what cannot leave",
                 models_[target].config.name, awake_mib(target));
    }
    victims = std::move(room.victims);
  }
  auto first_awake = std::find_if(victims.begin(), victims.end(),
                                  [this](std::size_t victim) { return models_[victim].awake; });
  std::optional<std::size_t> from;
  if (first_awake != victims.end()) {
    from = *first_awake;
  }
  switch_
    = switch_run{target,           std::move(victims), from,       switch_phase::cooldown, current,
                 ++switch_serial_, arrivals_,          serve_held, std::move(forced)};
  if (!to_idle) {
    policy_->on_switch_start(from, target);
  }
  std::vector<std::string> leaving;
  for (auto victim : switch_->victims) {
    leaving.push_back(models_[victim].config.name);
  }
  ledger_.begin(
    fmt::format("{}", fmt::join(leaving, "+")),
    to_idle ? std::string{} : models_[target].config.name, current,
    std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count());
  clock_type::duration wait{};
  auto min_active = std::chrono::seconds(settings_.min_active_secs);
  for (auto victim : switch_->victims) {
    const auto& slot = models_[victim];
    if (slot.awake && current - slot.activated_at < min_active) {
      wait = std::max(wait, min_active - (current - slot.activated_at));
    }
  }
  log_->debug("switch to {} begins{}", models_[target].config.name,
              wait > clock_type::duration{}
                ? fmt::format(" after {} ms", duration_cast<milliseconds>(wait).count())
                : std::string{});
  if (wait > clock_type::duration{}) {
    self_->delayed_send(self_, wait, step_atom_v);
    return;
  }
  advance();
}

// Moves the running switch on to its next step (switch_plan.hpp decides which).
void scheduler_state::advance() {
  // The outgoing model's gate closes before its leases are counted for the drain: from then on
  // the last lease taken there reports its end.
  publish_gates();
  auto& run = *switch_;
  // The target failed while the switch was on its way (its waiting requests were refused):
  // nothing is left to activate it for.
  if (run.phase != switch_phase::activate && !run.to_idle() && backing_off(run.target)) {
    log_->info("switch to {} dropped: it backs off", models_[run.target].config.name);
    answer_forced(run, false, models_[run.target].last_failure);
    switch_.reset();
    if (shutdown_) {
      finish_shutdown_when_idle(false);
      return;
    }
    pick_next();
    return;
  }
  // A sleep asked for by the admin API always drains: it is no policy's decision.
  switch_facts facts{!run.victims.empty(), run.to_idle() || policy_->drains_before_switch(),
                     victims_busy(), !run.to_idle()};
  auto step = next_step(run.phase, facts);
  entered(phase_of(step));
  switch (step) {
    case switch_step::drain:
      // The last release continues the switch, or the deadline cuts what is left.
      self_->delayed_send(self_, std::chrono::seconds(timeouts_.drain_timeout_secs), drain_atom_v,
                          run.serial);
      return;
    case switch_step::evict:
      evict_next();
      return;
    case switch_step::activate:
      activate_target();
      return;
    case switch_step::finish:
      if (run.to_idle()) {
        finish_switch(true, {}); // nothing to activate
      }
      return; // otherwise the activation's answer ends the switch (finish_switch)
  }
}

bool scheduler_state::victims_busy() const {
  return switch_
         && std::any_of(switch_->victims.begin(), switch_->victims.end(),
                        [this](std::size_t victim) { return in_flight(models_[victim]) > 0; });
}

void scheduler_state::evict_next() {
  auto& run = *switch_;
  if (run.evicted == run.victims.size()) {
    advance();
    return;
  }
  auto position = run.evicted;
  auto victim = run.victims[position];
  auto& slot = models_[victim];
  // Answers for a victim that is no longer the one leaving (its model actor died meanwhile, or
  // the switch has ended) are dropped.
  auto still_leaving = [this, serial = run.serial, position] {
    return is_current(serial) && switch_->evicted == position;
  };
  auto left = [this, victim] {
    retire(victim);
    ++switch_->evicted;
    evict_next();
  };
  if (!slot.awake) {
    // Asleep in its engine, with memory left on the GPU: stopping the engine frees it.
    slot.state = lifecycle::evicting;
    log_->info("{}: stopping its sleeping engine to make room on the GPU", slot.config.name);
    stop_engine(victim, [this, victim, still_leaving, left](const outcome&) {
      if (still_leaving()) {
        auto& stopped = models_[victim];
        rest(stopped,
             config::eviction_policy{stopped.rests_with.weights, config::process_strategy::stop});
        left();
      }
    });
    return;
  }
  slot.state = lifecycle::evicting;
  auto eviction = run.forced && run.forced->eviction ? *run.forced->eviction : slot.config.eviction;
  self_
    ->request(slot.actor, deadlines_.evict() + 2 * engine_deadlines::margin, evict_atom_v, eviction)
    .then(
      [this, victim, eviction, still_leaving, left](outcome& evicted) {
        if (still_leaving()) {
          note_fallback(victim, evicted);
          // It served until it left the GPU without failing (no death was noticed during the
          // eviction): whatever failed before is behind it.
          if (!models_[victim].retry_at) {
            models_[victim].failures = 0;
          }
          rest(models_[victim], eviction, evicted);
          note_memory(victim, evicted, false);
          left();
        }
      },
      [this, victim, still_leaving, left](caf::error& error) {
        if (still_leaving()) {
          log_->error("evicting {} failed: {}", models_[victim].config.name, to_string(error));
          models_[victim].awake = false;
          models_[victim].state = lifecycle::stopped;
          left();
        }
      });
}

void scheduler_state::activate_target() {
  auto& run = *switch_;
  self_
    ->request(models_[run.target].actor, deadlines_.activate() + 2 * engine_deadlines::margin,
              activate_atom_v)
    .then(
      [this, serial = run.serial, target = run.target](outcome& activated) {
        if (is_current(serial)) {
          note_fallback(target, activated);
          if (activated.ok) {
            note_memory(target, activated, true);
          }
          if (!activated.fallback.empty()) {
            ++models_[target].engine_starts; // a wake that fell back to a cold start
          }
          finish_switch(activated.ok, activated.error);
        }
      },
      [this, serial = run.serial](caf::error& error) {
        if (is_current(serial)) {
          finish_switch(false, to_string(error));
        }
      });
}

void scheduler_state::finish_switch(bool ok, const std::string& error) {
  auto run = *switch_;
  switch_.reset();
  auto current = now();
  const auto& target_name = models_[run.target].config.name;
  auto took = duration_cast<milliseconds>(current - run.began);
  auto record = ledger_.finish(ok, error, current);
  if (record && switch_ended_) {
    switch_ended_(*record);
  }
  answer_forced(run, ok, error);
  if (run.to_idle()) {
    log_->info("{} left the GPU on request in {} ms", target_name, took.count());
  } else if (ok) {
    auto& slot = models_[run.target];
    slot.state = lifecycle::active;
    slot.awake = true;
    slot.started_once = true;
    costs_.record(run.from, run.target, current - run.began);
    slot.epoch = ++epochs_;
    slot.activated_at = current;
    slot.arrivals_before_activation = arrivals_;
    slot.retry_at.reset();
    policy_->on_switch_complete(run.from, run.target, current - run.began);
    log_->info("switched {} -> {} in {} ms",
               record && !record->from.empty() ? record->from : std::string{"(idle)"}, target_name,
               took.count());
    slot.last_activity = current;
    admit_waiting(run.target);
    watch_idle(run.target);
  } else {
    models_[run.target].state = lifecycle::stopped;
    log_->error("switch to {} failed after {} ms: {}", target_name, took.count(), error);
    note_failure(run.target, fmt::format("model {} is unavailable: {}", target_name, error));
  }
  // Other models may serve on beside the one that came or went.
  ledger_.set_serving(any_awake(), current);
  if (shutdown_) {
    finish_shutdown_when_idle(false);
    return;
  }
  pick_next();
}

void scheduler_state::pick_next() {
  if (switch_ || shutdown_) {
    return;
  }
  apply_reload_changes();
  if (start_forced() || mode_ == serving_mode::manual || bring_up_beside()) {
    return;
  }
  std::vector<queue_view> queues;
  apply(policy_->reconsider(view(queues, std::nullopt)));
}

void scheduler_state::admit_waiting(std::size_t model,
                                    std::optional<std::uint64_t> ordered_before) {
  auto& slot = models_[model];
  while (!slot.waiting.empty() && has_room(slot)
         && (!ordered_before || slot.waiting.front().order < *ordered_before)) {
    auto next = std::move(slot.waiting.front());
    slot.waiting.pop_front();
    slot.leases.emplace(next.ticket, std::move(next.holder));
    slot.last_activity = now();
    next.promise.deliver(grant(model));
  }
}

lease_outcome scheduler_state::queue_full(std::size_t model) const {
  const auto& slot = models_[model];
  // What the next place in the queue would wait for at least: the switch to the model, when it
  // is not the one serving (the queue ahead is not timed: its service times are unknown); at
  // least a second.
  auto switch_wait
    = slot.awake && !switch_ ? clock_type::duration{} : costs_.estimate(incumbent(model), model);
  auto seconds = std::max<std::int64_t>(1, std::chrono::duration_cast<std::chrono::seconds>(
                                             switch_wait + std::chrono::milliseconds(999))
                                             .count());
  auto answer = refused(refusal::queue_full,
                        fmt::format("{} requests already wait for model {} (max_queue); try again "
                                    "in {} s",
                                    slot.waiting.size(), slot.config.name, seconds));
  answer.retry_after_secs = static_cast<std::uint32_t>(seconds);
  return answer;
}

void scheduler_state::watch_idle(std::size_t model) {
  auto& slot = models_[model];
  ++slot.idle_watch;
  if (slot.config.idle_ttl_secs) {
    self_->delayed_send(self_, std::chrono::seconds(*slot.config.idle_ttl_secs), ttl_atom_v,
                        static_cast<std::uint64_t>(model), slot.idle_watch);
  }
}

void scheduler_state::check_idle(std::size_t model, std::uint64_t watch) {
  auto& slot = models_[model];
  if (watch != slot.idle_watch || !slot.awake || !slot.config.idle_ttl_secs) {
    return; // it left the GPU since, or became active again: another watch runs
  }
  auto ttl = std::chrono::seconds(*slot.config.idle_ttl_secs);
  auto last = last_used(slot);
  auto current = now();
  bool busy = in_flight(slot) > 0 || !slot.waiting.empty();
  // In manual mode the operator decides; during a switch or shutdown there is nothing to add.
  if (busy || current - last < ttl || switch_ || shutdown_ || mode_ == serving_mode::manual) {
    auto again = busy || current - last >= ttl ? ttl : ttl - (current - last);
    self_->delayed_send(self_, again, ttl_atom_v, static_cast<std::uint64_t>(model), watch);
    return;
  }
  ++slot.idle_evictions;
  log_->info("{} had no request for {} s (idle_ttl_secs): it leaves the GPU", slot.config.name,
             duration_cast<std::chrono::seconds>(current - last).count());
  forced_.push_back(forced_switch{model, true, std::nullopt, std::nullopt, std::nullopt});
  start_forced();
}

void scheduler_state::fail_all(std::size_t model, const lease_outcome& refused) {
  auto& slot = models_[model];
  while (!slot.waiting.empty()) {
    slot.waiting.front().promise.deliver(refused);
    slot.waiting.pop_front();
  }
}

scheduler_actor::behavior_type
scheduler_impl(scheduler_actor::stateful_pointer<scheduler_state> self, config::config cfg,
               model_factory factory, serving_hooks hooks) {
  return self->state.make_behavior(cfg, std::move(factory), std::move(hooks));
}

} // namespace detail

scheduler_actor spawn_scheduler(caf::actor_system& system, const config::config& cfg,
                                model_factory factory, serving_hooks hooks) {
  return system.spawn(detail::scheduler_impl, cfg, std::move(factory), std::move(hooks));
}

} // namespace llmux::actors
