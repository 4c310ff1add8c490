// The admin API's requests: modes, pins, forced switches, sleeps and wakes. They go through
// the same switch machinery as the policy's (cooldown, drain, deadlines), so the scheduler
// always knows which model is on the GPU.

#include <fmt/format.h>

#include "actors/scheduler_state.hpp"

namespace llmux::actors::detail {

namespace {

control_result succeeded() {
  return {};
}

control_result failed(control_error error, std::string detail) {
  return {error, std::move(detail)};
}

} // namespace

caf::result<control_result> scheduler_state::control(const control_request& request) {
  if (shutdown_) {
    return failed(control_error::shutting_down, "llmux is shutting down");
  }
  auto action = request.action;
  if (action == control_action::set_mode || action == control_action::unpin) {
    auto manual = action == control_action::set_mode && request.mode == serving_mode::manual;
    mode_ = manual ? serving_mode::manual : serving_mode::automatic;
    pinned_.reset();
    log_->info("mode: {}", to_string(mode_));
    pick_next(); // back in automatic mode, waiting requests may want a switch
    return succeeded();
  }
  auto index = index_of(request.model);
  if (!index) {
    return failed(control_error::unknown_model, request.model);
  }
  if (action == control_action::set_eviction) {
    models_[*index].config.eviction = request.eviction;
    log_->info("{}: eviction set to {}", request.model, config::to_spec(request.eviction));
    return succeeded();
  }
  auto promise = self_->make_response_promise<control_result>();
  forced_switch forced{*index, action == control_action::sleep, std::nullopt, promise,
                       std::nullopt};
  if (action == control_action::sleep && request.has_eviction) {
    forced.eviction = request.eviction;
  }
  if (action == control_action::pin) {
    forced.restore_on_failure = std::make_pair(mode_, pinned_);
  }
  if (action == control_action::pin
      || (action == control_action::switch_to && mode_ == serving_mode::manual)) {
    mode_ = serving_mode::manual;
    pinned_ = *index;
  }
  forced_.push_back(std::move(forced));
  pick_next();
  return promise;
}

control_result scheduler_state::slept_with(const forced_switch& sleep) const {
  return {control_error::none,
          config::to_spec(sleep.eviction.value_or(models_[sleep.model].config.eviction))};
}

bool scheduler_state::start_forced() {
  while (!switch_ && !forced_.empty()) {
    auto next = std::move(forced_.front());
    forced_.pop_front();
    auto& slot = models_[next.model];
    bool on_gpu = slot.awake;
    if (next.to_idle && !on_gpu && next.eviction
        && next.eviction->process == config::process_strategy::stop
        && slot.state == lifecycle::sleeping && !slot.stopping) {
      stop_sleeping(std::move(next));
      continue;
    }
    if (next.to_idle != on_gpu) {
      // Already where it was asked to be: asleep (or stopped), or active.
      next.reply(next.to_idle ? slept_with(next) : succeeded());
      continue;
    }
    if (!next.to_idle && !switchable(next.model)) {
      next.reply(failed(control_error::failed, slot.removed ? "the model was removed by a reload"
                                                            : "the model is being restarted"));
      continue;
    }
    if (!next.to_idle) {
      // The operator asks for it: a model that backs off is tried again at once.
      slot.retry_at.reset();
    }
    log_->info("{} of {} asked for", next.to_idle ? "sleep" : "switch", slot.config.name);
    begin_switch(next.model, true, std::move(next));
    return true;
  }
  return false;
}

// A sleep with `stop` asked of a model asleep in its running engine: the engine ends, and with
// it the CUDA context it kept on the GPU. No switch is needed, the model is off the GPU.
void scheduler_state::stop_sleeping(forced_switch sleep) {
  auto model = sleep.model;
  log_->info("{}: stopping its sleeping engine, as asked", models_[model].config.name);
  auto answer = std::make_shared<forced_switch>(std::move(sleep));
  stop_engine(model, [this, model, answer](const outcome& stopped) {
    auto& slot = models_[model];
    // An activation may have begun meanwhile (it runs after the stop): leave its state alone.
    if (slot.state == lifecycle::sleeping) {
      rest(slot, *answer->eviction);
      retire(model);
    }
    answer->reply(stopped.ok ? slept_with(*answer) : failed(control_error::failed, stopped.error));
  });
}

void scheduler_state::answer_forced(switch_run& run, bool ok, const std::string& error) {
  if (!run.forced) {
    return;
  }
  auto& forced = *run.forced;
  if (!ok && forced.restore_on_failure) {
    std::tie(mode_, pinned_) = *forced.restore_on_failure;
  }
  if (!ok) {
    forced.reply(failed(control_error::failed, error));
  } else {
    forced.reply(forced.to_idle ? slept_with(forced) : succeeded());
  }
}

void scheduler_state::refuse_forced(control_error error, const std::string& why) {
  while (!forced_.empty()) {
    forced_.front().reply(failed(error, why));
    forced_.pop_front();
  }
}

std::optional<lease_outcome> scheduler_state::manual_refusal(std::size_t model) const {
  if (mode_ != serving_mode::manual) {
    return std::nullopt;
  }
  if (pinned_ ? *pinned_ == model : models_[model].awake) {
    return std::nullopt;
  }
  auto allowed = pinned_ ? pinned_ : latest_awake();
  return refused(refusal::manual_mode,
                 fmt::format("Manual mode active: model {} not available (active: {})",
                             models_[model].config.name,
                             allowed ? models_[*allowed].config.name : std::string{"none"}));
}

} // namespace llmux::actors::detail
