#include "actors/memory_budget.hpp"

#include <gtest/gtest.h>

namespace llmux::actors {
namespace {

using namespace std::chrono_literals;
using config::eviction_policy;
using config::process_strategy;
using config::weight_strategy;

std::chrono::steady_clock::time_point at(std::chrono::seconds when) {
  return std::chrono::steady_clock::time_point{} + when;
}

memory_holder awake(std::size_t model, std::uint64_t mib, std::chrono::seconds used,
                    bool busy = false) {
  return {model, true, mib, mib, busy, at(used)};
}

TEST(make_room, nothing_leaves_when_the_model_fits) {
  auto plan = make_room(40000, 18000, {awake(0, 18000, 10s)});
  EXPECT_TRUE(plan.victims.empty());
  EXPECT_TRUE(plan.fits);
}

TEST(make_room, the_least_recently_used_idle_model_leaves_first) {
  auto plan = make_room(40000, 18000, {awake(0, 18000, 30s), awake(1, 18000, 20s)});
  EXPECT_EQ(plan.victims, std::vector<std::size_t>{1});
  EXPECT_TRUE(plan.fits);
}

TEST(make_room, busy_models_leave_after_idle_and_sleeping_ones) {
  memory_holder asleep{2, false, 1500, 1500, false, at(1s)};
  auto plan = make_room(20000, 18000, {awake(0, 10000, 5s, true), awake(1, 8000, 50s), asleep});
  // 19500 in use: the idle one frees 8000 (11500 left), the sleeping one 1500 (10000 left),
  // and still 18000 do not fit beside the busy one; with the busy one gone, the sleeping one
  // need not go after all.
  EXPECT_EQ(plan.victims, (std::vector<std::size_t>{1, 0}));
  EXPECT_TRUE(plan.fits);
}

TEST(make_room, a_victim_a_later_one_made_unneeded_stays) {
  // The sleeping engine goes before the busy model, but evicting the busy one alone makes room.
  memory_holder asleep{0, false, 1500, 1500, false, at(1s)};
  auto plan = make_room(21000, 18000, {asleep, awake(1, 18000, 5s, true)});
  EXPECT_EQ(plan.victims, std::vector<std::size_t>{1});
  EXPECT_TRUE(plan.fits);
}

TEST(make_room, a_model_whose_eviction_frees_nothing_is_skipped) {
  memory_holder keeps_all{0, true, 18000, 0, false, at(1s)};
  auto plan = make_room(40000, 18000, {keeps_all, awake(1, 18000, 20s)});
  EXPECT_EQ(plan.victims, std::vector<std::size_t>{1});
}

TEST(make_room, a_model_that_can_never_fit_evicts_everything_it_can) {
  memory_holder keeps_all{0, true, 30000, 0, false, at(1s)};
  auto plan = make_room(40000, 18000, {keeps_all, awake(1, 5000, 20s)});
  EXPECT_EQ(plan.victims, std::vector<std::size_t>{1});
  EXPECT_FALSE(plan.fits);
}

TEST(left_after, what_each_eviction_leaves_on_the_gpu) {
  auto left = [](weight_strategy weights, process_strategy process,
                 std::optional<std::uint64_t> measured = std::nullopt) {
    return left_after(eviction_policy{weights, process}, 18000, measured);
  };
  EXPECT_EQ(left(weight_strategy::retain, process_strategy::stop), 0u);
  EXPECT_EQ(left(weight_strategy::offload, process_strategy::checkpoint), 0u);
  EXPECT_EQ(left(weight_strategy::retain, process_strategy::cuda_suspend), 0u);
  EXPECT_EQ(left(weight_strategy::retain, process_strategy::keep_running), 18000u);
  EXPECT_EQ(left(weight_strategy::offload, process_strategy::keep_running), asleep_estimate_mib);
  EXPECT_EQ(left(weight_strategy::discard, process_strategy::keep_running, 900), 900u);
}

} // namespace
} // namespace llmux::actors
