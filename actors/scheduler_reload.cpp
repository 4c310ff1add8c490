// Configuration reloads: policy and timeouts at once; models added, removed (drained and
// stopped) and changed (restarted with their new settings once off the GPU and idle). Slots
// are never erased, so the indexes the gates and the policy hold stay valid.

#include <caf/actor_cast.hpp>
#include <caf/send.hpp>
#include <fmt/format.h>

#include "actors/reload_plan.hpp"
#include "actors/scheduler_state.hpp"

namespace llmux::actors::detail {

void scheduler_state::use_engines_of(const config::config& cfg) {
  if (!own_factory_) {
    return;
  }
  factory_
    = [engines = vllm_engines(cfg.vllm_command, deadlines_, cfg.timeouts, cfg.checkpoint,
                              cfg.gpu_memory_budget_mib.has_value()),
       deadlines = deadlines_, object_store = cfg.checkpoint && cfg.checkpoint->object_store](
        caf::actor_system& system, const config::model_config& model, caf::actor scheduler) {
        return spawn_model(system, model, deadlines, engines, std::move(scheduler), object_store);
      };
}

caf::result<reload_outcome> scheduler_state::reload() {
  std::optional<reload_box::pending> pending;
  if (reloads_) {
    std::lock_guard lock(reloads_->mutex);
    pending = std::move(reloads_->next);
    reloads_->next.reset();
  }
  reload_outcome out;
  if (!pending) {
    out.ok = false;
    out.error = "no configuration to reload";
    return out;
  }
  if (shutdown_) {
    out.ok = false;
    out.error = "llmux is shutting down";
    return out;
  }
  const auto& cfg = pending->cfg;
  std::vector<config::model_config> live;
  for (const auto& slot : models_) {
    if (!slot.removed) {
      live.push_back(slot.replacement.value_or(slot.config));
    }
  }
  auto plan = plan_reload(live, cfg.models);
  settings_ = cfg.policy;
  budget_mib_ = cfg.gpu_memory_budget_mib;
  timeouts_ = cfg.timeouts;
  deadlines_ = engine_deadlines::from(cfg);
  use_engines_of(cfg);
  for (const auto& name : plan.removed) {
    auto index = *index_of(name);
    auto& slot = models_[index];
    slot.removed = true;
    slot.replacement.reset();
    fail_all(index,
             refused(refusal::unknown_model,
                     fmt::format("The model `{}` was removed from the configuration.", name)));
    out.removed.push_back(name);
  }
  for (const auto& model : plan.changed) {
    models_[*index_of(model.name)].replacement = model;
    out.changed.push_back(model.name);
  }
  for (std::size_t i = 0; i < plan.added.size(); ++i) {
    model_slot slot;
    slot.config = plan.added[i];
    rest_initially(slot);
    if (i < pending->added_gates.size()) {
      slot.gate = pending->added_gates[i];
    }
    models_.push_back(std::move(slot));
    supervise(models_.size() - 1);
    out.added.push_back(plan.added[i].name);
  }
  // A new policy starts fresh: it may count models differently and tick at another pace.
  policy_ = make_policy(settings_, models_.size());
  if (!ticking_ && policy_->tick_interval()) {
    ticking_ = true;
    self_->delayed_send(self_, *policy_->tick_interval(), tick_atom_v, true);
  }
  log_->info("configuration reloaded: {} added, {} removed, {} changed", out.added.size(),
             out.removed.size(), out.changed.size());
  apply_reload_changes();
  pick_next();
  return out;
}

bool scheduler_state::switchable(std::size_t model) const {
  const auto& slot = models_[model];
  return !slot.removed && !slot.stopping;
}

void scheduler_state::apply_reload_changes() {
  for (std::size_t i = 0; i < models_.size(); ++i) {
    auto& slot = models_[i];
    bool pending = (slot.removed && slot.actor) || slot.replacement;
    bool in_switch = switch_ && (switch_->target == i || switch_->evicts(i));
    if (!pending || slot.stopping || in_switch) {
      continue;
    }
    if (slot.awake) {
      // A removed model leaves at once (its requests in flight drain); a changed one when
      // nothing waits for it and nothing runs on it.
      bool idle = in_flight(slot) == 0 && slot.waiting.empty();
      bool queued = std::any_of(forced_.begin(), forced_.end(), [i](const forced_switch& next) {
        return next.model == i && next.to_idle;
      });
      if ((slot.removed || idle) && !queued) {
        forced_.push_back(forced_switch{
          i, true,
          config::eviction_policy{config::weight_strategy::retain, config::process_strategy::stop},
          std::nullopt, std::nullopt});
      }
      continue;
    }
    slot.stopping = true;
    log_->info("{}: stopping its engine ({})", slot.config.name,
               slot.removed ? "removed" : "settings changed");
    stop_engine(i, [this, i](const outcome&) { replaced(i); });
  }
}

void scheduler_state::replaced(std::size_t model) {
  auto& slot = models_[model];
  slot.stopping = false;
  // The old actor ends without counting as a crash.
  self_->demonitor(slot.actor.address());
  caf::anon_send_exit(slot.actor, caf::exit_reason::user_shutdown);
  retire(model);
  slot.state = lifecycle::stopped;
  if (slot.removed) {
    slot.actor = model_actor{};
    log_->info("{}: removed", slot.config.name);
  } else if (slot.replacement) {
    slot.config = std::move(*slot.replacement);
    slot.replacement.reset();
    rest_initially(slot);
    slot.failures = 0;
    slot.retry_at.reset();
    supervise(model);
    log_->info("{}: restarts with its new settings on its next activation", slot.config.name);
  }
  if (!switch_ && !shutdown_) {
    pick_next(); // requests that waited for it may want a switch now
  }
}

} // namespace llmux::actors::detail
