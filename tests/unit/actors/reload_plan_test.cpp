#include "actors/reload_plan.hpp"

#include <gtest/gtest.h>

namespace llmux::actors {
namespace {

config::model_config model(const std::string& name, std::uint16_t port) {
  config::model_config made;
  made.name = name;
  made.model_path = "org/" + name;
  made.port = port;
  return made;
}

TEST(reload_plan, sorts_models_into_removed_changed_added_and_untouched) {
  auto alpha = model("alpha", 8001);
  auto beta = model("beta", 8002);
  auto gamma = model("gamma", 8003);
  auto beta_moved = model("beta", 8012);
  auto delta = model("delta", 8004);
  auto plan = plan_reload({alpha, beta, gamma}, {delta, beta_moved, alpha});
  EXPECT_EQ(plan.removed, (std::vector<std::string>{"gamma"}));
  ASSERT_EQ(plan.changed.size(), 1u);
  EXPECT_EQ(plan.changed[0].port, 8012);
  ASSERT_EQ(plan.added.size(), 1u);
  EXPECT_EQ(plan.added[0].name, "delta");
}

TEST(reload_plan, a_change_of_keys_or_order_alone_changes_nothing) {
  auto alpha = model("alpha", 8001);
  auto keyed = alpha;
  keyed.api_keys = {"k"};
  auto beta = model("beta", 8002);
  auto plan = plan_reload({alpha, beta}, {beta, keyed});
  EXPECT_TRUE(plan.removed.empty());
  EXPECT_TRUE(plan.changed.empty());
  EXPECT_TRUE(plan.added.empty());
}

TEST(reload_plan, any_engine_setting_is_a_change) {
  auto alpha = model("alpha", 8001);
  auto evicted = alpha;
  evicted.eviction.process = config::process_strategy::keep_running;
  auto argued = alpha;
  argued.extra_args = {"--max-num-seqs", "8"};
  EXPECT_EQ(plan_reload({alpha}, {evicted}).changed.size(), 1u);
  EXPECT_EQ(plan_reload({alpha}, {argued}).changed.size(), 1u);
}

} // namespace
} // namespace llmux::actors
