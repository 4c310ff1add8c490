// The real scheduler and model actors on simulated engines and virtual time.

#include <gtest/gtest.h>

#include "tests/sim/sim_support.hpp"

namespace llmux::actors {
namespace {

using namespace std::chrono_literals;
using testing::l40_costs;
using testing::models;

std::vector<sim_request> alternating(std::size_t count, std::chrono::milliseconds gap) {
  std::vector<sim_request> workload;
  for (std::size_t i = 0; i < count; ++i) {
    workload.push_back({gap * static_cast<long>(i), i % 2, 500ms});
  }
  return workload;
}

TEST(scheduler_sim, fifo_switches_on_every_alternation) {
  auto run = simulate(models(2, "fifo"), l40_costs(2), alternating(10, 120s), {});
  auto summary = summarize(run);
  EXPECT_EQ(summary.served, 10u);
  EXPECT_EQ(summary.switches, 10u); // idle -> a, then one switch per alternation
}

} // namespace
} // namespace llmux::actors
