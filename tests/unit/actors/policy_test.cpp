#include "actors/policy.hpp"
#include "actors/process.hpp"

#include <gtest/gtest.h>

namespace llmux::actors {
namespace {

using namespace std::chrono_literals;

TEST(fifo_policy, switches_at_once_and_serves_the_longest_waiting_queue_next) {
  fifo_policy fifo(true);
  std::vector<queue_view> queues{{2, 1s, 0}, {1, 3s, 0}, {0, {}, 0}};
  scheduler_view view{clock_type::now(), 0, 5s, queues};
  EXPECT_EQ(fifo.on_arrival(view, 1).what, decision::kind::switch_now);
  EXPECT_EQ(fifo.next_target(view), 1u);
  queues[1].waiting = 0;
  EXPECT_EQ(fifo.next_target(view), std::nullopt); // the active model's queue is not a target
  EXPECT_TRUE(fifo.drains_before_switch());
  EXPECT_FALSE(fifo_policy(false).drains_before_switch());
}

TEST(make_policy, follows_drain_before_switch) {
  config::policy_config settings;
  settings.drain_before_switch = false;
  EXPECT_FALSE(make_policy(settings)->drains_before_switch());
}

TEST(strip_ansi, removes_colour_sequences_and_keeps_the_text) {
  EXPECT_EQ(strip_ansi("\x1b[32mINFO\x1b[0m ready"), "INFO ready");
  EXPECT_EQ(strip_ansi("plain"), "plain");
}

} // namespace
} // namespace llmux::actors
