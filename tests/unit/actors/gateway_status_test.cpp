#include <gtest/gtest.h>

#include "actors/gateway_actor.hpp"

namespace llmux::actors {
namespace {

using namespace std::chrono_literals;

model_snapshot model(std::string name, lifecycle state, bool awake, std::uint64_t waiting,
                     std::uint64_t in_flight) {
  model_snapshot out;
  out.name = std::move(name);
  out.state = state;
  out.awake = awake;
  out.waiting = waiting;
  out.in_flight = in_flight;
  return out;
}

node_link link(std::string name, link_phase phase, std::vector<model_snapshot> models) {
  node_link out;
  out.config.name = std::move(name);
  out.config.node_port = 7100;
  out.phase = phase;
  out.view.snapshot.models = std::move(models);
  for (const auto& each : out.view.snapshot.models) {
    if (each.awake) {
      out.view.snapshot.awake.push_back(each.name);
    }
  }
  out.view.snapshot.switches = 3;
  return out;
}

TEST(cluster_snapshot, merges_the_models_of_the_nodes_in_rotation_and_lists_every_node) {
  auto now = std::chrono::steady_clock::now();
  std::vector<node_link> links{
    link("a", link_phase::serving,
         {model("shared", lifecycle::sleeping, false, 1, 0),
          model("alpha", lifecycle::active, true, 2, 1)}),
    link("b", link_phase::serving, {model("shared", lifecycle::active, true, 0, 4)}),
    link("c", link_phase::unreachable, {model("gamma", lifecycle::active, true, 5, 5)})};
  links[0].joins = 1;
  links[0].last_heard = now - 120ms;
  links[0].proxy = {"10.0.0.1", 3000};
  links[0].routed = 7;
  links[0].sent = {{"alpha", 2}};
  links[2].last_error = "the link ended";
  auto snapshot = cluster_snapshot(links, now);

  ASSERT_EQ(snapshot.models.size(), 3u);
  const auto& shared = snapshot.models[0];
  EXPECT_EQ(shared.name, "shared");
  EXPECT_TRUE(shared.awake); // on b
  EXPECT_EQ(shared.state, lifecycle::active);
  EXPECT_EQ(shared.waiting, 1u);
  EXPECT_EQ(shared.in_flight, 4u);
  // A node out of rotation keeps its models known, but adds nothing to their state.
  const auto& gamma = snapshot.models[2];
  EXPECT_EQ(gamma.name, "gamma");
  EXPECT_FALSE(gamma.awake);
  EXPECT_EQ(gamma.waiting, 0u);
  EXPECT_EQ(snapshot.awake, (std::vector<std::string>{"shared", "alpha"}));
  EXPECT_EQ(snapshot.switches, 9u);

  ASSERT_EQ(snapshot.nodes.size(), 3u);
  const auto& a = snapshot.nodes[0];
  EXPECT_EQ(a.state, "serving");
  EXPECT_TRUE(a.in_rotation);
  EXPECT_EQ(a.address, "127.0.0.1:7100");
  EXPECT_EQ(a.proxy, "10.0.0.1:3000");
  EXPECT_EQ(a.last_heard_ms, 120u);
  EXPECT_EQ(a.models, (std::vector<std::string>{"shared", "alpha"}));
  EXPECT_EQ(a.awake, (std::vector<std::string>{"alpha"}));
  EXPECT_EQ(a.waiting, 3u);
  EXPECT_EQ(a.in_flight, 1u);
  EXPECT_EQ(a.routed, 7u);
  EXPECT_EQ(a.outstanding, 2u);
  const auto& c = snapshot.nodes[2];
  EXPECT_EQ(c.state, "unreachable");
  EXPECT_FALSE(c.in_rotation);
  EXPECT_EQ(c.proxy, ""); // never joined
  EXPECT_EQ(c.last_error, "the link ended");
}

} // namespace
} // namespace llmux::actors
