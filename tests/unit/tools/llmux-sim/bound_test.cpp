#include "tools/llmux-sim/bound.hpp"

#include <gtest/gtest.h>

#include "tools/llmux-sim/workloads.hpp"

namespace llmux::tools::sim {
namespace {

using namespace std::chrono_literals;

// gpt-oss (wakes from level 1 in 1.2 s, sleeps in 5.8 s) and gemma (level 2: 31 s and 1 s).
struct two_models {
  std::vector<actors::sim_costs> costs;
  config::config cfg = l40_configuration({"gpt-oss", "gemma"}, "fifo", costs);
};

TEST(offline_bound, each_model_asked_for_is_activated_once_and_evictions_are_the_cheapest) {
  two_models l40;
  std::vector<actors::sim_request> workload{{0s, 0, 500ms}, {1s, 1, 500ms}, {2s, 0, 500ms}};
  auto one = bound_of(l40.cfg, l40.costs, workload, {1, 0.3}, 1);
  ASSERT_TRUE(one);
  EXPECT_EQ(one->switches, 2u);
  EXPECT_DOUBLE_EQ(one->switching_seconds, 1.2 + 31 + 1); // gemma's sleep is the cheaper
  EXPECT_DOUBLE_EQ(one->service_seconds, 1.5);
  ASSERT_TRUE(one->gpu_serving_fraction);
  EXPECT_DOUBLE_EQ(*one->gpu_serving_fraction, 1.5 / (1.5 + 33.2));
  auto both = bound_of(l40.cfg, l40.costs, workload, {1, 0.3}, 2);
  EXPECT_DOUBLE_EQ(both->switching_seconds, 1.2 + 31); // room for both: no eviction
}

TEST(offline_bound, the_p99_is_each_model_alone_on_the_gpu) {
  two_models l40;
  std::vector<actors::sim_request> workload{
    {0s, 0, 500ms}, {0s, 0, 500ms}, {0s, 0, 500ms}, {0s, 1, 500ms}};
  // Alone, model 0 serves its three in a row (waits 0, 0.5, 1 s); model 1 at once.
  EXPECT_DOUBLE_EQ(bound_of(l40.cfg, l40.costs, workload, {1, 0.3}, 1)->p99_wait, 1.0);
  // Two at a time: the third waits for the first.
  auto batched = bound_of(l40.cfg, l40.costs, workload, {2, 0.3}, 1);
  EXPECT_DOUBLE_EQ(batched->p99_wait, 0.5);
  EXPECT_FALSE(batched->gpu_serving_fraction); // serving time depends on the batches
}

TEST(offline_bound, a_closed_loop_has_none) {
  two_models l40;
  auto profiles = reference_profiles(500ms);
  ASSERT_EQ(profiles[1].name, "balanced");
  EXPECT_FALSE(bound_of(l40.cfg, l40.costs, profiles[1].requests, {1, 0.3}, 1));
}

} // namespace
} // namespace llmux::tools::sim
