#pragma once

// Shared set-up of the simulation tests: two or three models with the reference's L40 costs.

#include <vector>

#include "actors/simulation.hpp"

namespace llmux::actors::testing {

/// gpt-oss-20b with level-1 sleep, gemma-12b with level-2 sleep, qwen3-4b stopped.
inline config::config models(std::size_t count, const std::string& policy) {
  config::config cfg;
  const char* names[] = {"gpt-oss", "gemma", "qwen"};
  config::eviction_policy evictions[]
    = {{config::weight_strategy::offload, config::process_strategy::keep_running},
       {config::weight_strategy::discard, config::process_strategy::keep_running},
       {config::weight_strategy::retain, config::process_strategy::stop}};
  for (std::size_t i = 0; i < count; ++i) {
    config::model_config model;
    model.name = names[i];
    model.model_path = names[i];
    model.port = static_cast<std::uint16_t>(8001 + i);
    model.eviction = evictions[i];
    cfg.models.push_back(model);
  }
  cfg.policy.policy_type = policy;
  return cfg;
}

inline std::vector<sim_costs> l40_costs(std::size_t count) {
  using std::chrono::milliseconds;
  sim_costs gpt_oss{milliseconds(60000), milliseconds(5800), milliseconds(300),
                    milliseconds(1200),  milliseconds(8000), milliseconds(1000)};
  sim_costs gemma{milliseconds(74000), milliseconds(3000),  milliseconds(1000),
                  milliseconds(1500),  milliseconds(31000), milliseconds(1000)};
  sim_costs qwen{milliseconds(60000), milliseconds(3000), milliseconds(300),
                 milliseconds(800),   milliseconds(5000), milliseconds(1000)};
  std::vector<sim_costs> all{gpt_oss, gemma, qwen};
  all.resize(count);
  return all;
}

} // namespace llmux::actors::testing
