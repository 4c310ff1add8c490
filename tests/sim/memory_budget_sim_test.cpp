// The GPU memory budget on simulated engines: models that fit together stay awake together,
// and one that does not fit evicts the least recently used.

#include <gtest/gtest.h>

#include "actors/memory_budget.hpp"
#include "tests/sim/sim_support.hpp"

namespace llmux::actors {
namespace {

using namespace std::chrono_literals;
using testing::l40_costs;
using testing::models;

using testing::all_policies;
using testing::alternating;

// Every model takes 18 GiB awake; the budget holds `fitting` of them and what the others keep
// asleep (as llmux-sim --budget-models).
config::config budgeted(std::size_t count, const std::string& policy, std::uint64_t fitting) {
  auto cfg = models(count, policy);
  for (auto& model : cfg.models) {
    model.gpu_memory_mib = 18432;
  }
  cfg.gpu_memory_budget_mib
    = 18432 * fitting + (count - std::min<std::size_t>(count, fitting)) * asleep_estimate_mib;
  return cfg;
}

// What each engine did after the warmup, in order.
std::vector<std::pair<std::size_t, sim_operation::kind>> operations_of(const sim_run& run) {
  std::vector<std::pair<std::size_t, sim_operation::kind>> out;
  for (const auto& operation : run.operations) {
    out.emplace_back(operation.model, operation.what);
  }
  return out;
}

TEST(memory_budget_sim, two_models_that_fit_stay_awake_together) {
  for (auto policy : all_policies) {
    auto run = simulate(budgeted(2, policy, 2), l40_costs(2), alternating(20, 30s), {});
    auto summary = summarize(run);
    EXPECT_EQ(summary.served, 20u) << policy;
    // gpt-oss wakes for the first request, gemma beside it for the second; then nothing moves.
    using kind = sim_operation::kind;
    std::vector<std::pair<std::size_t, kind>> expected{{0, kind::wake}, {1, kind::wake}};
    EXPECT_EQ(operations_of(run), expected) << policy;
    EXPECT_EQ(summary.switches, 2u) << policy;
  }
}

TEST(memory_budget_sim, without_a_budget_the_same_traffic_switches_every_time) {
  auto summary = summarize(simulate(models(2, "fifo"), l40_costs(2), alternating(20, 30s), {}));
  EXPECT_EQ(summary.served, 20u);
  EXPECT_EQ(summary.switches, 20u);
}

TEST(memory_budget_sim, with_a_budget_of_two_the_wait_falls_to_the_serving_time) {
  auto run = simulate(budgeted(2, "fifo", 2), l40_costs(2), alternating(20, 30s), {});
  // Once both are awake, a request waits for nothing: it is granted as it arrives.
  for (std::size_t i = 2; i < run.requests.size(); ++i) {
    EXPECT_EQ(run.requests[i].granted, run.requests[i].arrival) << "request " << i;
  }
}

TEST(memory_budget_sim, a_third_model_evicts_the_least_recently_used) {
  // gpt-oss, gemma, gpt-oss again (gemma is now the least recently used), then qwen, which does
  // not fit beside both; then gpt-oss once more, which must still be awake.
  std::vector<sim_request> workload{
    {0s, 0, 500ms}, {60s, 1, 500ms}, {120s, 0, 500ms}, {180s, 2, 500ms}, {240s, 0, 500ms}};
  for (auto policy : all_policies) {
    auto run = simulate(budgeted(3, policy, 2), l40_costs(3), workload, {});
    EXPECT_EQ(summarize(run).served, workload.size()) << policy;
    using kind = sim_operation::kind;
    // gemma sleeps at level 2 (its eviction) to make room for qwen's cold start.
    std::vector<std::pair<std::size_t, kind>> expected{
      {0, kind::wake}, {1, kind::wake}, {1, kind::sleep}, {2, kind::start}};
    EXPECT_EQ(operations_of(run), expected) << policy;
    EXPECT_EQ(run.requests[4].granted, run.requests[4].arrival) << policy;
  }
}

TEST(memory_budget_sim, a_budget_of_one_model_behaves_as_no_budget) {
  // Two models alternating; three in rounds 100 ms apart (the sleeping ones keep memory that the
  // budget counts, and none of it needs to go).
  std::vector<sim_request> rounds;
  for (int round = 0; round < 6; ++round) {
    for (std::size_t m = 0; m < 3; ++m) {
      rounds.push_back({3s * round + 100ms * static_cast<long>(m), m, 500ms});
    }
  }
  for (auto [count, workload] :
       {std::pair{std::size_t{2}, alternating(12, 30s)}, std::pair{std::size_t{3}, rounds}}) {
    for (auto policy : all_policies) {
      auto with = simulate(budgeted(count, policy, 1), l40_costs(count), workload, {});
      auto without = simulate(models(count, policy), l40_costs(count), workload, {});
      ASSERT_EQ(with.requests.size(), without.requests.size());
      for (std::size_t i = 0; i < with.requests.size(); ++i) {
        EXPECT_EQ(with.requests[i].finished, without.requests[i].finished) << policy << " " << i;
      }
      EXPECT_EQ(operations_of(with), operations_of(without)) << policy << " " << count;
    }
  }
}

} // namespace
} // namespace llmux::actors
