#include "actors/lifecycle.hpp"

#include <gtest/gtest.h>

namespace llmux::actors {
namespace {

using s = lifecycle;
using e = lifecycle_event;

constexpr s all_states[]
  = {s::stopped, s::starting, s::active, s::evicting, s::sleeping, s::waking};
constexpr e all_events[] = {e::activate, e::started, e::start_failed, e::evict,      e::slept,
                            e::stopped,  e::woken,   e::wake_failed,  e::engine_died};

struct transition {
  s from;
  e event;
  s to;
};

// Every allowed transition; everything else must be refused.
constexpr transition table[] = {
  {s::stopped, e::activate, s::starting},
  {s::starting, e::started, s::active},
  {s::starting, e::start_failed, s::stopped},
  {s::active, e::evict, s::evicting},
  {s::evicting, e::slept, s::sleeping},
  {s::evicting, e::stopped, s::stopped},
  {s::sleeping, e::activate, s::waking},
  {s::sleeping, e::stopped, s::stopped},
  {s::waking, e::woken, s::active},
  {s::waking, e::wake_failed, s::stopped},
  {s::starting, e::engine_died, s::stopped},
  {s::active, e::engine_died, s::stopped},
  {s::evicting, e::engine_died, s::stopped},
  {s::sleeping, e::engine_died, s::stopped},
  {s::waking, e::engine_died, s::stopped},
  // Shutdown stops whatever runs.
  {s::starting, e::stopped, s::stopped},
  {s::active, e::stopped, s::stopped},
  {s::waking, e::stopped, s::stopped},
  // A step's own failure arriving after the engine died (it already stopped the model).
  {s::stopped, e::start_failed, s::stopped},
  {s::stopped, e::wake_failed, s::stopped},
  {s::stopped, e::stopped, s::stopped},
};

TEST(lifecycle, the_transition_table_is_exactly_as_documented) {
  for (auto from : all_states) {
    for (auto event : all_events) {
      std::optional<s> expected;
      for (const auto& row : table) {
        if (row.from == from && row.event == event) {
          expected = row.to;
        }
      }
      EXPECT_EQ(next_state(from, event), expected) << to_string(from) << " + " << to_string(event);
    }
  }
}

TEST(lifecycle, every_event_has_a_name) {
  for (auto event : all_events) {
    EXPECT_NE(to_string(event), "unknown");
  }
  EXPECT_EQ(to_string(e::wake_failed), "wake_failed");
}

} // namespace
} // namespace llmux::actors
