#pragma once

#include <string>
#include <vector>

#include "actors/simulation.hpp"
#include "tools/llmux-sim/bound.hpp"

namespace llmux::tools::sim {

/// One row of the comparison: a policy on a workload.
struct result_row {
  std::string workload;
  std::string policy;
  actors::sim_summary summary;
  /// Every served request's wait, for suite-wide percentiles.
  std::vector<double> waits;
  /// What no policy can beat on this workload (the same in every row of a workload); none for
  /// closed-loop workloads.
  std::optional<offline_bound> bound;
};

/// A Markdown table per workload, its offline bound below the policies and each policy's share
/// of the bound's GPU serving; then the suite per policy (workloads that need no switch, like
/// single_model, are left out of the suite figures).
std::string markdown_report(const std::vector<result_row>& rows);

/// An SVG timeline of one run: per model a lane with its engine operations (start, sleep, wake,
/// stop), the intervals its requests were in service, and its queue depth over time.
std::string svg_timeline(const actors::sim_run& run, const std::vector<std::string>& models,
                         const std::string& title);

} // namespace llmux::tools::sim
