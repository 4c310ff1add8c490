#include "actors/expiry_timer.hpp"

#include <gtest/gtest.h>

namespace llmux::actors {
namespace {

using namespace std::chrono_literals;
using clock = expiry_timer::clock;

class expiry_timer_test : public ::testing::Test {
protected:
  expiry_timer timer{10ms};
  clock::time_point t0 = clock::now();
};

TEST_F(expiry_timer_test, the_first_deadline_schedules_a_wake_up_slack_after_it) {
  auto wake = timer.watch(t0 + 1s);
  ASSERT_TRUE(wake);
  EXPECT_EQ(wake->at, t0 + 1s + 10ms);
  EXPECT_TRUE(timer.woken(wake->serial));
}

TEST_F(expiry_timer_test, later_deadlines_wait_for_the_wake_up_already_scheduled) {
  auto wake = timer.watch(t0 + 1s);
  ASSERT_TRUE(wake);
  EXPECT_FALSE(timer.watch(t0 + 1s));
  EXPECT_FALSE(timer.watch(t0 + 5s));
  EXPECT_TRUE(timer.woken(wake->serial));
  // After the look, the soonest deadline left is watched anew.
  auto next = timer.watch(t0 + 5s);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->at, t0 + 5s + 10ms);
  EXPECT_NE(next->serial, wake->serial);
}

TEST_F(expiry_timer_test, a_sooner_deadline_replaces_the_wake_up_and_the_old_one_is_ignored) {
  auto late = timer.watch(t0 + 5s);
  auto soon = timer.watch(t0 + 1s);
  ASSERT_TRUE(late);
  ASSERT_TRUE(soon);
  EXPECT_EQ(soon->at, t0 + 1s + 10ms);
  EXPECT_FALSE(timer.woken(late->serial));
  EXPECT_TRUE(timer.woken(soon->serial));
  // Each wake-up counts once.
  EXPECT_FALSE(timer.woken(soon->serial));
}

TEST_F(expiry_timer_test, deadlines_within_the_slack_share_a_wake_up) {
  auto wake = timer.watch(t0 + 1s);
  ASSERT_TRUE(wake);
  EXPECT_FALSE(timer.watch(t0 + 1s + 5ms)); // met 5 ms late at most
  EXPECT_TRUE(timer.watch(t0 + 1s - 20ms)); // would be met 30 ms late: a sooner wake-up
}

TEST_F(expiry_timer_test, nothing_is_scheduled_until_a_deadline_is_watched) {
  EXPECT_FALSE(timer.woken(0));
  EXPECT_FALSE(timer.woken(1));
}

} // namespace
} // namespace llmux::actors
