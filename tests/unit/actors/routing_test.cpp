#include "actors/routing.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "config/config.hpp"

namespace llmux::actors {
namespace {

using namespace std::chrono_literals;

route_candidate awake(std::uint64_t load) {
  return {true, true, 0, load, 0, 30s};
}

route_candidate asleep(std::chrono::milliseconds cost, std::uint64_t queued = 0) {
  return {true, false, 0, 0, queued, cost};
}

// The configuration validates cluster.routing against its own list (config/ does not see
// actors/): every name there is a strategy, and every strategy is named there.
TEST(routing, the_configuration_names_every_strategy_and_nothing_else) {
  std::vector<std::string_view> named;
  for (auto strategy : {routing::affinity, routing::round_robin, routing::least_loaded}) {
    named.push_back(to_string(strategy));
    EXPECT_EQ(routing_named(to_string(strategy)), strategy);
  }
  EXPECT_EQ(named, std::vector<std::string_view>(config::routing_names.begin(),
                                                 config::routing_names.end()));
  EXPECT_EQ(routing_named("nearest"), std::nullopt);
}

TEST(choose_node, affinity_prefers_the_node_where_the_model_is_awake) {
  std::vector<route_candidate> nodes{asleep(1200ms), awake(0), asleep(500ms)};
  EXPECT_EQ(choose_node(nodes, routing::affinity, 0, 500ms), 1u);
  // Among awake replicas, the least loaded.
  nodes = {awake(4), asleep(2s), awake(1)};
  EXPECT_EQ(choose_node(nodes, routing::affinity, 0, 500ms), 2u);
}

TEST(choose_node, affinity_spreads_a_hot_model_when_its_queue_outweighs_a_switch) {
  // Awake on node 0 with 10 requests ahead (5 s of work); node 1 can wake it in 1.2 s, which
  // counts twice (2.4 s).
  std::vector<route_candidate> nodes{awake(10), asleep(1200ms)};
  EXPECT_EQ(choose_node(nodes, routing::affinity, 0, 500ms), 1u);
  // With 4 ahead (2 s) the switch would save less than twice its cost: it stays.
  nodes[0] = awake(4);
  EXPECT_EQ(choose_node(nodes, routing::affinity, 0, 500ms), 0u);
}

TEST(choose_node, affinity_weighs_switch_cost_and_the_queue_ahead_on_the_node) {
  // Node 0 wakes it fast but 20 requests for other models queue there first (switches count
  // twice).
  std::vector<route_candidate> nodes{asleep(1200ms, 20), asleep(31s, 0)};
  EXPECT_EQ(choose_node(nodes, routing::affinity, 0, 500ms), 0u); // 12.4 s < 62 s
  nodes[0].queued_on_node = 120;                                  // 62.4 s > 62 s
  EXPECT_EQ(choose_node(nodes, routing::affinity, 0, 500ms), 1u);
}

TEST(choose_node, nodes_that_do_not_serve_the_model_are_never_chosen) {
  std::vector<route_candidate> nodes{route_candidate{}, asleep(60s), route_candidate{}};
  for (auto strategy : {routing::affinity, routing::round_robin, routing::least_loaded}) {
    for (std::uint64_t turn = 0; turn < 3; ++turn) {
      EXPECT_EQ(choose_node(nodes, strategy, turn, 500ms), 1u) << to_string(strategy);
    }
  }
  std::vector<route_candidate> none{route_candidate{}, route_candidate{}};
  EXPECT_EQ(choose_node(none, routing::affinity, 0, 500ms), std::nullopt);
  EXPECT_EQ(choose_node({}, routing::round_robin, 0, 500ms), std::nullopt);
}

TEST(choose_node, round_robin_takes_the_serving_nodes_in_turn) {
  std::vector<route_candidate> nodes{awake(0), route_candidate{}, asleep(60s)};
  std::vector<std::size_t> chosen;
  for (std::uint64_t turn = 0; turn < 4; ++turn) {
    chosen.push_back(*choose_node(nodes, routing::round_robin, turn, 500ms));
  }
  EXPECT_EQ(chosen, (std::vector<std::size_t>{0, 2, 2, 0}));
}

TEST(choose_node, least_loaded_ignores_switch_costs) {
  std::vector<route_candidate> nodes{awake(3), asleep(60s)};
  EXPECT_EQ(choose_node(nodes, routing::least_loaded, 0, 500ms), 1u);
}

model_snapshot model(std::string name, bool is_awake, std::uint64_t waiting,
                     std::uint64_t in_flight, std::uint32_t retry_in_secs = 0) {
  model_snapshot out;
  out.name = std::move(name);
  out.awake = is_awake;
  out.waiting = waiting;
  out.in_flight = in_flight;
  out.retry_in_secs = retry_in_secs;
  return out;
}

TEST(candidate_from, reads_the_node_snapshot_and_the_requests_sent_since) {
  scheduler_snapshot node;
  node.models = {model("a", true, 1, 2), model("b", false, 0, 0), model("c", false, 3, 0, 5)};
  node.costs = {{"a", "b", 4000}, {"c", "b", 2000}, {"b", "a", 6000}};
  sent_requests sent{{"b", 2}, {"a", 1}};
  auto b = candidate_from(node, "b", sent, 10s);
  EXPECT_TRUE(b.serves);
  EXPECT_FALSE(b.awake);
  EXPECT_EQ(b.waiting, 2u);         // the gateway's two are newer than the snapshot's none
  EXPECT_EQ(b.queued_on_node, 6u);  // a: 1 + 2 (more than the one sent), c: 3
  EXPECT_EQ(b.switch_cost, 3000ms); // the mean of the measured directions
  EXPECT_EQ(b.displaces, 6000ms);   // a is awake: bringing it back
  auto a = candidate_from(node, "a", sent, 10s);
  EXPECT_TRUE(a.awake);
  EXPECT_EQ(a.waiting, 3u);
  EXPECT_EQ(a.switch_cost, 6000ms);
  // Backing off: not served there. Unmeasured: the default cost.
  auto c = candidate_from(node, "c", sent, 10s);
  EXPECT_FALSE(c.serves);
  EXPECT_EQ(c.switch_cost, 10s);
  // Not configured there at all.
  EXPECT_FALSE(candidate_from(node, "d", sent, 10s).serves);
}

} // namespace
} // namespace llmux::actors
