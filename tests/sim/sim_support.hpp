#pragma once

// Shared set-up of the simulation tests: two or three models with the reference's L40 costs,
// the same deployment llmux-sim simulates.

#include <string>
#include <vector>

#include "actors/simulation.hpp"
#include "tools/llmux-sim/workloads.hpp"

namespace llmux::actors::testing {

inline std::vector<std::string> model_names(std::size_t count) {
  std::vector<std::string> names{"gpt-oss", "gemma", "qwen"};
  names.resize(count);
  return names;
}

/// gpt-oss-20b with level-1 sleep, gemma-12b with level-2 sleep, qwen3-4b stopped.
inline config::config models(std::size_t count, const std::string& policy) {
  std::vector<sim_costs> unused;
  return tools::sim::l40_configuration(model_names(count), policy, unused);
}

/// Every switch policy llmux has.
inline constexpr const char* all_policies[] = {"fifo", "cost_aware", "time_slice", "cost_quantum"};

/// `count` requests of 0.5 s, alternating between the first two models, `gap` apart.
inline std::vector<sim_request> alternating(std::size_t count, std::chrono::milliseconds gap) {
  std::vector<sim_request> workload;
  for (std::size_t i = 0; i < count; ++i) {
    workload.push_back({gap * static_cast<long>(i), i % 2, std::chrono::milliseconds(500)});
  }
  return workload;
}

inline std::vector<sim_costs> l40_costs(std::size_t count) {
  std::vector<sim_costs> costs;
  tools::sim::l40_configuration(model_names(count), "fifo", costs);
  return costs;
}

} // namespace llmux::actors::testing
