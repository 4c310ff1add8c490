#include "actors/switch_ledger.hpp"

#include <gtest/gtest.h>

namespace llmux::actors {
namespace {

using namespace std::chrono_literals;

TEST(switch_ledger, times_each_phase_and_keeps_the_record) {
  clock_type::time_point t0{};
  switch_ledger ledger(t0);
  ledger.begin("alpha", "beta", t0 + 1s, 1700000000000);
  auto progress = ledger.progress(t0 + 1500ms);
  EXPECT_TRUE(progress.running);
  EXPECT_EQ(progress.phase, switch_phase::cooldown);
  EXPECT_EQ(progress.elapsed_ms, 500u);
  ledger.enter(switch_phase::drain, t0 + 2s);
  ledger.enter(switch_phase::evict, t0 + 5s);
  ledger.enter(switch_phase::activate, t0 + 6s);
  const auto* record = ledger.finish(true, {}, t0 + 10s);
  ASSERT_NE(record, nullptr);
  EXPECT_EQ(record->from, "alpha");
  EXPECT_EQ(record->to, "beta");
  EXPECT_TRUE(record->ok);
  EXPECT_EQ(record->began_unix_ms, 1700000000000);
  EXPECT_EQ(record->cooldown_ms, 1000u);
  EXPECT_EQ(record->drain_ms, 3000u);
  EXPECT_EQ(record->evict_ms, 1000u);
  EXPECT_EQ(record->activate_ms, 4000u);
  EXPECT_EQ(record->total_ms, 9000u);
  EXPECT_FALSE(ledger.progress(t0 + 10s).running);
  EXPECT_EQ(ledger.switches(), 1u);
  EXPECT_EQ(ledger.failures(), 0u);
}

TEST(switch_ledger, splits_time_into_serving_switching_and_idle) {
  clock_type::time_point t0{};
  switch_ledger ledger(t0);
  ledger.begin("", "alpha", t0 + 2s, 0); // idle 2 s
  ledger.enter(switch_phase::activate, t0 + 2s);
  ledger.finish(true, {}, t0 + 5s); // switching 3 s
  EXPECT_EQ(ledger.serving_ms(t0 + 9s), 4000u);
  ledger.set_serving(false, t0 + 9s); // the engine died: idle from here
  ledger.begin("", "alpha", t0 + 10s, 0);
  ledger.finish(false, "start failed", t0 + 11s);
  EXPECT_EQ(ledger.serving_ms(t0 + 20s), 4000u);
  EXPECT_EQ(ledger.switching_ms(t0 + 20s), 4000u);
  EXPECT_EQ(ledger.failures(), 1u);
  EXPECT_EQ(ledger.history().back().error, "start failed");
  EXPECT_FALSE(ledger.history().back().ok);
}

TEST(switch_ledger, keeps_only_the_most_recent_switches) {
  clock_type::time_point t0{};
  switch_ledger ledger(t0, 3);
  for (int i = 0; i < 5; ++i) {
    ledger.begin("", "m" + std::to_string(i), t0 + std::chrono::seconds(i), 0);
    ledger.finish(true, {}, t0 + std::chrono::seconds(i) + 100ms);
  }
  ASSERT_EQ(ledger.history().size(), 3u);
  EXPECT_EQ(ledger.history().front().to, "m2");
  EXPECT_EQ(ledger.history().back().to, "m4");
  EXPECT_EQ(ledger.switches(), 5u);
}

TEST(switch_ledger, a_finish_without_a_switch_records_nothing) {
  switch_ledger ledger(clock_type::time_point{});
  EXPECT_EQ(ledger.finish(true, {}, clock_type::time_point{} + 1s), nullptr);
  EXPECT_TRUE(ledger.history().empty());
}

} // namespace
} // namespace llmux::actors
