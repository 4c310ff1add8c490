#include "actors/lease_gate.hpp"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace llmux::actors {
namespace {

lease_outcome grant_for(std::uint16_t port, std::uint64_t epoch) {
  lease_outcome grant;
  grant.granted = true;
  grant.engine_port = port;
  grant.model_path = "org/m";
  grant.engine_epoch = epoch;
  return grant;
}

TEST(lease_gate, lets_requests_in_only_while_open) {
  lease_gate gate;
  EXPECT_FALSE(gate.try_enter(1, {}));
  gate.open(grant_for(8001, 3));
  auto lease = gate.try_enter(2, {});
  ASSERT_TRUE(lease);
  EXPECT_TRUE(lease->granted);
  EXPECT_EQ(lease->engine_port, 8001);
  EXPECT_EQ(lease->engine_epoch, 3u);
  EXPECT_EQ(gate.held(), 1u);
  gate.close();
  EXPECT_FALSE(gate.try_enter(3, {}));
  EXPECT_EQ(gate.held(), 1u); // those inside stay
}

TEST(lease_gate, only_the_last_lease_of_a_closed_gate_reports_its_end) {
  lease_gate gate;
  gate.open(grant_for(8001, 1));
  ASSERT_TRUE(gate.try_enter(1, {}));
  ASSERT_TRUE(gate.try_enter(2, {}));
  ASSERT_TRUE(gate.try_enter(3, {}));
  EXPECT_FALSE(gate.leave(1)); // open: the scheduler counts on its own
  gate.close();
  EXPECT_FALSE(gate.leave(2));
  EXPECT_FALSE(gate.leave(42)); // never entered
  EXPECT_TRUE(gate.leave(3));
  EXPECT_FALSE(gate.leave(3)); // repeated
  EXPECT_EQ(gate.held(), 0u);
}

TEST(lease_gate, revokes_every_lease_it_holds) {
  lease_gate gate;
  gate.open(grant_for(8001, 1));
  std::vector<std::string> heard;
  ASSERT_TRUE(gate.try_enter(1, [&](std::string why) { heard.push_back("1: " + why); }));
  ASSERT_TRUE(gate.try_enter(2, [&](std::string why) { heard.push_back("2: " + why); }));
  EXPECT_FALSE(gate.leave(2));
  EXPECT_EQ(gate.revoke_all("engine died"), 1u);
  EXPECT_EQ(heard, std::vector<std::string>{"1: engine died"});
  EXPECT_EQ(gate.held(), 0u);
  // A revoked lease's own release later finds nothing and reports nothing.
  gate.close();
  EXPECT_FALSE(gate.leave(1));
}

// Ended leases leave their map nodes for the next ones: a reused node carries the new lease's
// ticket and callback only, and the ended lease's callback (with what it holds) is gone.
TEST(lease_gate, a_lease_in_a_reused_slot_is_its_own) {
  lease_gate gate;
  gate.open(grant_for(8001, 1));
  std::vector<std::string> heard;
  auto held_by_ended = std::make_shared<int>(0);
  ASSERT_TRUE(
    gate.try_enter(1, [&, held_by_ended](std::string why) { heard.push_back("1: " + why); }));
  ASSERT_TRUE(gate.try_enter(2, [&](std::string why) { heard.push_back("2: " + why); }));
  EXPECT_FALSE(gate.leave(1));
  EXPECT_EQ(held_by_ended.use_count(), 1); // the ended lease's callback was destroyed
  ASSERT_TRUE(gate.try_enter(3, [&](std::string why) { heard.push_back("3: " + why); }));
  EXPECT_EQ(gate.held(), 2u);
  EXPECT_FALSE(gate.leave(1)); // ended before: its ticket is not in the reused slot
  EXPECT_EQ(gate.held(), 2u);
  EXPECT_EQ(gate.revoke_all("engine died"), 2u);
  std::sort(heard.begin(), heard.end());
  EXPECT_EQ(heard, (std::vector<std::string>{"2: engine died", "3: engine died"}));
}

} // namespace
} // namespace llmux::actors
