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

/// A workload from CSV text, one request per line: `time,model,service_seconds` (seconds,
/// model name); a header line is allowed. Models are numbered in order of first appearance.
config::parsed<workload> read_trace(std::string_view csv, std::vector<std::string>& model_names);

} // namespace llmux::tools::sim
