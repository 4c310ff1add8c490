#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "actors/simulation.hpp"
#include "config/parsed.hpp"

namespace llmux::tools::sim {

/// A named workload over `models` models.
struct workload {
  std::string name;
  std::size_t models = 2;
  std::vector<actors::sim_request> requests;
};

/// The reference's benchmark profiles (spec §7.3, §7.6), each request served in `service`
/// (balanced is a closed loop, as the reference's benchmark client was; the rest arrive on a
/// fixed schedule):
/// single_model, balanced, bursty, dominant, interleave, surge, three_model, random_50,
/// random_100, random_200, dominant_95, heavy_burst. Deterministic (the random ones use fixed
/// seeds and a generator of our own).
std::vector<workload> reference_profiles(std::chrono::milliseconds service);

/// llmux's own profiles, not in the reference: alternating (one request for each of two models
/// at the start, then from 60 s on 200 requests, one a second, taking turns between them, open
/// loop: steady two-model traffic after both models have been asked for once).
std::vector<workload> project_profiles(std::chrono::milliseconds service);

/// A configuration of `names.size()` models on the reference's L40 measurements (spec §7.6 and
/// §7.7), taking the model types in turn: gpt-oss-20b sleeps at level 1 (wake about 1.2 s),
/// gemma-12b at level 2 (wake with reload about 31 s), qwen3-4b is stopped (cold start about
/// 60 s). Appends each model's simulated costs to `costs`.
config::config l40_configuration(const std::vector<std::string>& names, const std::string& policy,
                                 std::vector<actors::sim_costs>& costs);

/// A workload from CSV text, one request per line: `time,model,service_seconds` (seconds,
/// model name); a header line is allowed. Models are numbered in order of first appearance.
config::parsed<workload> read_trace(std::string_view csv, std::vector<std::string>& model_names);

} // namespace llmux::tools::sim
