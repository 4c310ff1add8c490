#include "actors/switch_plan.hpp"

#include <gtest/gtest.h>

namespace llmux::actors {
namespace {

using p = switch_phase;
using s = switch_step;

struct row {
  p done;
  bool has_outgoing;
  bool drains_first;
  bool outgoing_busy;
  s next;
};

// Every phase against every combination of facts.
constexpr row table[] = {
  {p::cooldown, false, false, false, s::activate}, {p::cooldown, false, true, false, s::activate},
  {p::cooldown, true, false, false, s::evict},     {p::cooldown, true, false, true, s::evict},
  {p::cooldown, true, true, false, s::evict},      {p::cooldown, true, true, true, s::drain},
  {p::drain, true, true, false, s::evict},         {p::drain, true, true, true, s::evict},
  {p::drain, false, true, false, s::activate},     {p::evict, true, true, false, s::activate},
  {p::evict, true, true, true, s::activate},       {p::evict, false, false, false, s::activate},
  {p::activate, true, true, true, s::finish},      {p::activate, false, false, false, s::finish},
};

TEST(switch_plan, the_sequence_is_exactly_as_documented) {
  for (const auto& r : table) {
    EXPECT_EQ(next_step(r.done, {r.has_outgoing, r.drains_first, r.outgoing_busy}), r.next)
      << static_cast<int>(r.done) << " " << r.has_outgoing << r.drains_first << r.outgoing_busy;
  }
}

// A drain ends by the last release or by its deadline, which cuts the rest: either way the
// outgoing model is evicted next, busy or not.
TEST(switch_plan, a_drain_always_ends_in_an_eviction) {
  EXPECT_EQ(next_step(p::drain, {true, true, true}), s::evict);
}

// A switch that only frees the GPU (a sleep asked for by the admin API) ends after the eviction
// and never activates anything.
TEST(switch_plan, a_switch_without_target_finishes_after_the_eviction) {
  switch_facts to_idle{true, true, true, false};
  EXPECT_EQ(next_step(p::cooldown, to_idle), s::drain);
  EXPECT_EQ(next_step(p::drain, to_idle), s::evict);
  EXPECT_EQ(next_step(p::evict, to_idle), s::finish);
  to_idle.outgoing_busy = false;
  EXPECT_EQ(next_step(p::cooldown, to_idle), s::evict);
  to_idle.has_outgoing = false; // the outgoing model died meanwhile: nothing left to do
  EXPECT_EQ(next_step(p::cooldown, to_idle), s::finish);
  EXPECT_EQ(next_step(p::drain, to_idle), s::finish);
}

TEST(switch_plan, each_step_has_its_phase) {
  EXPECT_EQ(phase_of(s::drain), p::drain);
  EXPECT_EQ(phase_of(s::evict), p::evict);
  EXPECT_EQ(phase_of(s::activate), p::activate);
  EXPECT_EQ(phase_of(s::finish), p::activate);
}

} // namespace
} // namespace llmux::actors
