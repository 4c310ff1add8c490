#include "tools/mock-vllm/engine_state.hpp"

#include <algorithm>

namespace llmux::tools::mock_vllm {

namespace {

constexpr std::string_view weights_tag = "weights";
constexpr std::string_view kv_cache_tag = "kv_cache";

} // namespace

std::string_view to_string(cuda_state state) {
  switch (state) {
    case cuda_state::running:
      return "running";
    case cuda_state::locked:
      return "locked";
    case cuda_state::checkpointed:
      return "checkpointed";
  }
  return "unknown";
}

std::optional<cuda_action> parse_cuda_action(std::string_view text) {
  if (text == "lock") {
    return cuda_action::lock;
  }
  if (text == "checkpoint") {
    return cuda_action::checkpoint;
  }
  if (text == "restore") {
    return cuda_action::restore;
  }
  if (text == "unlock") {
    return cuda_action::unlock;
  }
  return std::nullopt;
}

engine_state::engine_state(memory_plan plan, bool sleep_mode_enabled)
  : plan_(plan), sleep_mode_enabled_(sleep_mode_enabled) {
}

void engine_state::sleep(int level) {
  if (is_sleeping()) {
    return;
  }
  sleeping_tags_ = {std::string{weights_tag}, std::string{kv_cache_tag}};
  sleep_level_ = level;
  weights_offloaded_ = level == 1 && sleep_mode_enabled_;
}

bool engine_state::wake(std::span<const std::string> tags) {
  if (!is_sleeping()) {
    return false;
  }
  for (const auto& tag : tags) {
    if (!sleeping_tags_.contains(tag)) {
      return false;
    }
  }
  bool waking_weights
    = tags.empty() || std::find(tags.begin(), tags.end(), weights_tag) != tags.end();
  if (waking_weights) {
    // Without sleep mode nothing was freed, so the weights never left.
    weights_valid_ = weights_valid_ && (weights_offloaded_ || !sleep_mode_enabled_);
    weights_offloaded_ = false;
  }
  if (tags.empty()) {
    sleeping_tags_.clear();
  } else {
    for (const auto& tag : tags) {
      sleeping_tags_.erase(tag);
    }
  }
  return true;
}

void engine_state::reload_weights() {
  weights_valid_ = true;
}

std::optional<std::string> engine_state::apply(cuda_action action) {
  auto refuse = [&](std::string_view what) {
    return std::string{what} + " is not allowed in state " + std::string{to_string(cuda_)};
  };
  switch (action) {
    case cuda_action::lock:
      if (cuda_ != cuda_state::running) {
        return refuse("lock");
      }
      cuda_ = cuda_state::locked;
      return std::nullopt;
    case cuda_action::checkpoint:
      if (cuda_ != cuda_state::locked) {
        return refuse("checkpoint");
      }
      checkpointed_gpu_mib_ = gpu_used_mib();
      cuda_ = cuda_state::checkpointed;
      return std::nullopt;
    case cuda_action::restore:
      if (cuda_ != cuda_state::checkpointed) {
        return refuse("restore");
      }
      checkpointed_gpu_mib_ = 0;
      cuda_ = cuda_state::locked;
      return std::nullopt;
    case cuda_action::unlock:
      if (cuda_ != cuda_state::locked) {
        return refuse("unlock");
      }
      cuda_ = cuda_state::running;
      return std::nullopt;
  }
  return std::string{"unknown action"};
}

double engine_state::awake_gpu_mib() const {
  return std::max(plan_.utilization * plan_.total_mib, plan_.context_mib + plan_.weights_mib);
}

double engine_state::gpu_used_mib() const {
  if (cuda_ == cuda_state::checkpointed) {
    return 0;
  }
  double awake = awake_gpu_mib();
  if (!sleep_mode_enabled_ && !plan_.elastic_kv) {
    return awake;
  }
  double kv_cache = awake - plan_.weights_mib - plan_.context_mib;
  if (plan_.elastic_kv) {
    kv_cache = std::min(kv_cache, plan_.kv_per_request_mib * static_cast<double>(running_));
  }
  double used = plan_.context_mib;
  used += sleeping_tags_.contains(weights_tag) ? 0 : plan_.weights_mib;
  used += sleeping_tags_.contains(kv_cache_tag) ? 0 : kv_cache;
  return used;
}

double engine_state::host_used_mib() const {
  double offloaded = weights_offloaded_ ? plan_.weights_mib : 0;
  return offloaded + checkpointed_gpu_mib_;
}

engine_snapshot engine_state::save() const {
  return {{sleeping_tags_.begin(), sleeping_tags_.end()},
          sleep_level_,
          weights_offloaded_,
          weights_valid_,
          nccl_suspended_};
}

void engine_state::restore(const engine_snapshot& snapshot) {
  sleeping_tags_ = {snapshot.sleeping_tags.begin(), snapshot.sleeping_tags.end()};
  sleep_level_ = snapshot.sleep_level;
  weights_offloaded_ = snapshot.weights_offloaded;
  weights_valid_ = snapshot.weights_valid;
  nccl_suspended_ = snapshot.nccl_suspended;
  cuda_ = cuda_state::running;
  checkpointed_gpu_mib_ = 0;
}

std::string_view engine_state::sleep_state_label() const {
  if (!is_sleeping()) {
    return "awake";
  }
  return sleep_level_ == 1 ? "weights_offloaded" : "discard_all";
}

} // namespace llmux::tools::mock_vllm
