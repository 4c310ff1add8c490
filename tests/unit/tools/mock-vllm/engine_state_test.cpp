#include "tools/mock-vllm/engine_state.hpp"

#include <gtest/gtest.h>

namespace llmux::tools::mock_vllm {
namespace {

memory_plan plan() {
  memory_plan p;
  p.total_mib = 1000;
  p.utilization = 0.8;
  p.weights_mib = 300;
  p.context_mib = 50;
  return p;
}

TEST(engine_state, awake_engine_uses_its_share_of_the_gpu) {
  engine_state state(plan(), true);
  EXPECT_TRUE(state.can_serve());
  EXPECT_DOUBLE_EQ(state.gpu_used_mib(), 800);
  EXPECT_DOUBLE_EQ(state.host_used_mib(), 0);
  EXPECT_EQ(state.sleep_state_label(), "awake");
}

TEST(engine_state, level_one_offloads_weights_to_host_and_keeps_them_valid) {
  engine_state state(plan(), true);
  state.sleep(1);
  EXPECT_TRUE(state.is_sleeping());
  EXPECT_FALSE(state.can_serve());
  EXPECT_DOUBLE_EQ(state.gpu_used_mib(), 50);
  EXPECT_DOUBLE_EQ(state.host_used_mib(), 300);
  EXPECT_EQ(state.sleep_state_label(), "weights_offloaded");
  EXPECT_TRUE(state.wake({}));
  EXPECT_TRUE(state.weights_valid());
  EXPECT_DOUBLE_EQ(state.gpu_used_mib(), 800);
  EXPECT_DOUBLE_EQ(state.host_used_mib(), 0);
}

TEST(engine_state, level_two_discards_weights_until_reload) {
  engine_state state(plan(), true);
  state.sleep(2);
  EXPECT_DOUBLE_EQ(state.host_used_mib(), 0);
  EXPECT_EQ(state.sleep_state_label(), "discard_all");
  EXPECT_TRUE(state.wake({}));
  EXPECT_FALSE(state.weights_valid());
  EXPECT_TRUE(state.can_serve());
  state.reload_weights();
  EXPECT_TRUE(state.weights_valid());
}

TEST(engine_state, a_second_sleep_changes_nothing) {
  engine_state state(plan(), true);
  state.sleep(1);
  state.sleep(2);
  EXPECT_EQ(state.sleep_level(), 1);
  EXPECT_DOUBLE_EQ(state.host_used_mib(), 300);
}

TEST(engine_state, tags_wake_separately_and_unknown_or_awake_tags_are_no_ops) {
  engine_state state(plan(), true);
  EXPECT_FALSE(state.wake({})); // awake already
  state.sleep(1);
  std::vector<std::string> weights{"weights"};
  std::vector<std::string> kv{"kv_cache"};
  std::vector<std::string> bogus{"weights,kv_cache"};
  EXPECT_FALSE(state.wake(bogus));
  EXPECT_TRUE(state.wake(weights));
  EXPECT_DOUBLE_EQ(state.gpu_used_mib(), 350);
  EXPECT_TRUE(state.is_sleeping());
  EXPECT_FALSE(state.wake(weights));
  EXPECT_TRUE(state.wake(kv));
  EXPECT_FALSE(state.is_sleeping());
}

TEST(engine_state, without_sleep_mode_nothing_is_freed_or_lost) {
  engine_state state(plan(), false);
  state.sleep(2);
  EXPECT_TRUE(state.is_sleeping());
  EXPECT_DOUBLE_EQ(state.gpu_used_mib(), 800);
  EXPECT_TRUE(state.wake({}));
  EXPECT_TRUE(state.weights_valid());
}

TEST(engine_state, cuda_checkpoint_moves_gpu_memory_to_the_host_and_back) {
  engine_state state(plan(), true);
  EXPECT_EQ(state.apply(cuda_action::checkpoint), "checkpoint is not allowed in state running");
  EXPECT_FALSE(state.apply(cuda_action::lock));
  EXPECT_FALSE(state.can_serve());
  EXPECT_FALSE(state.apply(cuda_action::checkpoint));
  EXPECT_EQ(state.cuda(), cuda_state::checkpointed);
  EXPECT_DOUBLE_EQ(state.gpu_used_mib(), 0);
  EXPECT_DOUBLE_EQ(state.host_used_mib(), 800);
  EXPECT_TRUE(state.apply(cuda_action::unlock).has_value());
  EXPECT_FALSE(state.apply(cuda_action::restore));
  EXPECT_FALSE(state.apply(cuda_action::unlock));
  EXPECT_TRUE(state.can_serve());
  EXPECT_DOUBLE_EQ(state.gpu_used_mib(), 800);
}

TEST(engine_state, snapshot_restores_the_sleep_state_with_cuda_running) {
  engine_state state(plan(), true);
  state.sleep(2);
  auto snapshot = state.save();
  engine_state restored(plan(), true);
  restored.restore(snapshot);
  EXPECT_TRUE(restored.is_sleeping());
  EXPECT_EQ(restored.sleep_level(), 2);
  EXPECT_TRUE(restored.wake({}));
  EXPECT_FALSE(restored.weights_valid());
  EXPECT_EQ(restored.cuda(), cuda_state::running);
}

} // namespace
} // namespace llmux::tools::mock_vllm
