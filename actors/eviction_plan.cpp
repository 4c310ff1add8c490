#include "actors/eviction_plan.hpp"

#include <algorithm>

namespace llmux::actors {

namespace {

using config::process_strategy;
using config::weight_strategy;

// vLLM's own wake for weights that slept: `/wake_up`, and after level 2 the weights back and a
// prefix cache that no longer matches them dropped.
void wake_vllm(weight_strategy weights, std::vector<engine_step>& steps) {
  if (weights == weight_strategy::retain) {
    return;
  }
  steps.push_back(engine_step::vllm_wake_up);
  if (weights == weight_strategy::discard) {
    steps.push_back(engine_step::reload_weights);
    steps.push_back(engine_step::reset_prefix_cache);
  }
}

} // namespace

std::string_view to_string(engine_step step) {
  switch (step) {
    case engine_step::vllm_sleep_1:
      return "sleep level 1";
    case engine_step::vllm_sleep_2:
      return "sleep level 2";
    case engine_step::suspend_nccl:
      return "suspend NCCL";
    case engine_step::cuda_suspend:
      return "cuda-checkpoint suspend";
    case engine_step::criu_dump:
      return "CRIU dump";
    case engine_step::upload_images:
      return "upload images";
    case engine_step::stop:
      return "stop";
    case engine_step::cold_start:
      return "cold start";
    case engine_step::download_images:
      return "download images";
    case engine_step::criu_restore:
      return "CRIU restore";
    case engine_step::cuda_resume:
      return "cuda-checkpoint resume";
    case engine_step::resume_nccl:
      return "resume NCCL";
    case engine_step::vllm_wake_up:
      return "wake_up";
    case engine_step::reload_weights:
      return "reload_weights";
    case engine_step::reset_prefix_cache:
      return "reset_prefix_cache";
  }
  return "unknown step";
}

step_phase phase_of(engine_step step) {
  switch (step) {
    case engine_step::vllm_sleep_1:
    case engine_step::vllm_sleep_2:
    case engine_step::suspend_nccl:
    case engine_step::stop:
      return step_phase::sleep;
    case engine_step::cuda_suspend:
    case engine_step::criu_dump:
    case engine_step::criu_restore:
    case engine_step::cuda_resume:
      return step_phase::checkpoint;
    case engine_step::upload_images:
    case engine_step::download_images:
      return step_phase::transfer;
    case engine_step::cold_start:
    case engine_step::resume_nccl:
    case engine_step::vllm_wake_up:
    case engine_step::reload_weights:
    case engine_step::reset_prefix_cache:
      return step_phase::wake;
  }
  return step_phase::wake;
}

std::vector<step_phase> phases_of(const std::vector<engine_step>& steps) {
  std::vector<step_phase> phases;
  for (auto step : steps) {
    if (std::find(phases.begin(), phases.end(), phase_of(step)) == phases.end()) {
      phases.push_back(phase_of(step));
    }
  }
  return phases;
}

config::weight_strategy weights_of(const std::vector<engine_step>& steps) {
  for (auto step : steps) {
    if (step == engine_step::vllm_sleep_1) {
      return weight_strategy::offload;
    }
    if (step == engine_step::vllm_sleep_2) {
      return weight_strategy::discard;
    }
  }
  return weight_strategy::retain;
}

bool evicts(const std::vector<engine_step>& steps) {
  return std::any_of(steps.begin(), steps.end(), [](engine_step step) {
    return phase_of(step) == step_phase::sleep || step == engine_step::cuda_suspend
           || step == engine_step::criu_dump || step == engine_step::upload_images;
  });
}

bool restores_process(engine_step step) {
  return step == engine_step::download_images || step == engine_step::criu_restore
         || step == engine_step::cuda_resume;
}

std::vector<engine_step> eviction_plan(const config::eviction_policy& eviction,
                                       const plan_facts& facts) {
  if (eviction.process == process_strategy::stop) {
    return {engine_step::stop}; // the weights go with the process
  }
  std::vector<engine_step> steps;
  if (eviction.weights == weight_strategy::offload) {
    steps.push_back(engine_step::vllm_sleep_1);
  } else if (eviction.weights == weight_strategy::discard) {
    steps.push_back(engine_step::vllm_sleep_2);
  }
  if (eviction.process == process_strategy::keep_running) {
    return steps;
  }
  if (facts.tp_size > 1) {
    steps.push_back(engine_step::suspend_nccl);
  }
  if (eviction.process == process_strategy::cuda_suspend) {
    steps.push_back(engine_step::cuda_suspend);
    return steps;
  }
  steps.push_back(engine_step::criu_dump);
  if (facts.object_store) {
    steps.push_back(engine_step::upload_images);
  }
  return steps;
}

std::vector<engine_step> wake_plan(const config::eviction_policy& evicted_with,
                                   const plan_facts& facts) {
  std::vector<engine_step> steps;
  switch (evicted_with.process) {
    case process_strategy::stop:
      return {engine_step::cold_start};
    case process_strategy::keep_running:
      break;
    case process_strategy::cuda_suspend:
      steps.push_back(engine_step::cuda_resume);
      if (facts.tp_size > 1) {
        steps.push_back(engine_step::resume_nccl);
      }
      break;
    case process_strategy::checkpoint:
      if (facts.object_store) {
        steps.push_back(engine_step::download_images);
      }
      steps.push_back(engine_step::criu_restore);
      if (facts.tp_size > 1) {
        steps.push_back(engine_step::resume_nccl);
      }
      break;
  }
  wake_vllm(evicted_with.weights, steps);
  return steps;
}

} // namespace llmux::actors
