// The scheduler's awake set under a GPU memory budget: what each model holds on the GPU, what
// must leave for another to fit (memory_budget.hpp decides), which awake model a policy weighs
// a switch against, and models brought up beside the awake ones.

#include <algorithm>

#include "actors/scheduler_state.hpp"

namespace llmux::actors::detail {

namespace {

// What `slot` held on the GPU after its last eviction with `eviction`, when measured.
std::optional<std::uint64_t> measured_asleep(const model_slot& slot,
                                             const config::eviction_policy& eviction) {
  auto measured = slot.measured_asleep_mib.find(config::to_spec(eviction));
  if (measured == slot.measured_asleep_mib.end()) {
    return std::nullopt;
  }
  return measured->second;
}

} // namespace

std::optional<std::size_t> scheduler_state::latest_awake() const {
  std::optional<std::size_t> latest;
  for (std::size_t i = 0; i < models_.size(); ++i) {
    if (models_[i].awake && (!latest || models_[i].activated_at >= models_[*latest].activated_at)) {
      latest = i;
    }
  }
  return latest;
}

std::uint64_t scheduler_state::awake_mib(std::size_t model) const {
  const auto& slot = models_[model];
  return slot.measured_awake_mib.value_or(
    slot.config.gpu_memory_mib.value_or(budget_mib_.value_or(0)));
}

std::uint64_t scheduler_state::holds_mib(std::size_t model) const {
  const auto& slot = models_[model];
  if (slot.awake) {
    return awake_mib(model);
  }
  if (slot.state != lifecycle::sleeping) {
    return 0;
  }
  return left_after(slot.rests_with, awake_mib(model), measured_asleep(slot, slot.rests_with));
}

room_plan scheduler_state::room_for(std::size_t target) const {
  room_plan plan;
  if (!budget_mib_) {
    for (std::size_t i = 0; i < models_.size(); ++i) {
      if (models_[i].awake && i != target) {
        plan.victims.push_back(i);
      }
    }
    return plan;
  }
  std::vector<memory_holder> holders;
  for (std::size_t i = 0; i < models_.size(); ++i) {
    auto holds = holds_mib(i);
    if (i == target || holds == 0) {
      continue;
    }
    const auto& slot = models_[i];
    memory_holder holder;
    holder.model = i;
    holder.awake = slot.awake;
    holder.holds_mib = holds;
    // An awake model frees what its eviction does not leave behind; a sleeping one, stopped,
    // frees all it holds.
    holder.frees_mib = slot.awake ? holds
                                      - left_after(slot.config.eviction, holds,
                                                   measured_asleep(slot, slot.config.eviction))
                                  : holds;
    holder.busy = in_flight(slot) > 0 || !slot.waiting.empty();
    holder.last_used = last_used(slot);
    holders.push_back(holder);
  }
  auto need = awake_mib(target) - std::min(awake_mib(target), holds_mib(target));
  return make_room(*budget_mib_, need, std::move(holders));
}

std::optional<std::size_t> scheduler_state::incumbent(std::optional<std::size_t> target) const {
  if (target) {
    for (auto victim : room_for(*target).victims) {
      if (models_[victim].awake) {
        return victim;
      }
    }
    return std::nullopt;
  }
  // No target named: the awake model that would be evicted first for any of them.
  std::optional<std::size_t> first;
  auto key = [this](std::size_t i) {
    const auto& slot = models_[i];
    return std::make_pair(in_flight(slot) > 0 || !slot.waiting.empty(), last_used(slot));
  };
  for (std::size_t i = 0; i < models_.size(); ++i) {
    if (models_[i].awake && (!first || key(i) < key(*first))) {
      first = i;
    }
  }
  return first;
}

bool scheduler_state::bring_up_beside() {
  if (!budget_mib_ || !any_awake()) {
    return false;
  }
  std::vector<std::size_t> waiting;
  for (std::size_t i = 0; i < models_.size(); ++i) {
    const auto& slot = models_[i];
    if (!slot.awake && !slot.waiting.empty() && switchable(i) && !backing_off(i)) {
      waiting.push_back(i);
    }
  }
  std::sort(waiting.begin(), waiting.end(), [this](std::size_t a, std::size_t b) {
    return models_[a].waiting.front().order < models_[b].waiting.front().order;
  });
  for (auto model : waiting) {
    auto plan = room_for(model);
    bool evicts_awake = std::any_of(plan.victims.begin(), plan.victims.end(),
                                    [this](std::size_t victim) { return models_[victim].awake; });
    if (!evicts_awake && plan.fits) {
      begin_switch(model);
      return true;
    }
  }
  return false;
}

void scheduler_state::note_memory(std::size_t model, const outcome& result, bool awake) {
  if (result.gpu_memory_mib == 0) {
    return;
  }
  auto& slot = models_[model];
  if (awake) {
    slot.measured_awake_mib = result.gpu_memory_mib;
  } else {
    slot.measured_asleep_mib[slot.evicted_with] = result.gpu_memory_mib;
  }
}

} // namespace llmux::actors::detail
