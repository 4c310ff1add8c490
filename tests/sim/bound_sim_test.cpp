// The offline bound against the real scheduler: no policy beats it on any open-loop profile.

#include <gtest/gtest.h>

#include "tests/sim/sim_support.hpp"
#include "tools/llmux-sim/bound.hpp"

namespace llmux::actors {
namespace {

using namespace std::chrono_literals;
using testing::all_policies;

TEST(offline_bound_sim, no_policy_beats_the_bound_on_any_open_loop_profile) {
  for (const auto& profile : tools::sim::reference_profiles(500ms)) {
    std::vector<std::string> names;
    for (std::size_t i = 0; i < profile.models; ++i) {
      names.push_back(std::string(1, static_cast<char>('A' + i)));
    }
    for (auto policy : all_policies) {
      std::vector<sim_costs> costs;
      auto cfg = tools::sim::l40_configuration(names, policy, costs);
      auto bound = tools::sim::bound_of(cfg, costs, profile.requests, {1, 0.3}, 1);
      if (!bound) {
        continue; // closed loop
      }
      auto summary = summarize(simulate(cfg, costs, profile.requests, {}));
      EXPECT_GE(summary.switches, bound->switches) << profile.name << " " << policy;
      EXPECT_GE(summary.switching_seconds + 1e-9, bound->switching_seconds)
        << profile.name << " " << policy;
      EXPECT_LE(summary.gpu_serving_fraction, *bound->gpu_serving_fraction + 1e-9)
        << profile.name << " " << policy;
      EXPECT_GE(summary.p99_wait + 1e-9, bound->p99_wait) << profile.name << " " << policy;
    }
  }
}

} // namespace
} // namespace llmux::actors
