// Several nodes behind a gateway on virtual time: the real schedulers, the real routing.

#include <map>

#include <gtest/gtest.h>

#include "tests/sim/sim_support.hpp"

namespace llmux::actors {
namespace {

using namespace std::chrono_literals;
using testing::alternating;
using testing::l40_costs;
using testing::models;

TEST(cluster_sim, affinity_keeps_each_model_on_a_node_of_its_own) {
  // Pairs: A, A, B, B, ... 2 s apart (strict alternation would make round robin look clever).
  std::vector<sim_request> workload;
  for (std::size_t i = 0; i < 40; ++i) {
    workload.push_back({2s * static_cast<long>(i), (i / 2) % 2, 500ms});
  }
  auto affinity = simulate(models(2, "fifo"), l40_costs(2), workload, {}, {2, routing::affinity});
  auto summary = summarize(affinity);
  EXPECT_EQ(summary.served, 40u);
  EXPECT_EQ(summary.switches, 2u); // one activation per model, then none
  std::map<std::size_t, std::size_t> node_of_model;
  for (const auto& request : affinity.requests) {
    auto first = node_of_model.emplace(request.model, request.node).first;
    EXPECT_EQ(request.node, first->second) << "model " << request.model << " changed nodes";
  }
  EXPECT_NE(node_of_model[0], node_of_model[1]);
  auto round_robin
    = summarize(simulate(models(2, "fifo"), l40_costs(2), workload, {}, {2, routing::round_robin}));
  EXPECT_EQ(round_robin.served, 40u);
  EXPECT_GT(round_robin.switches, summary.switches);
}

TEST(cluster_sim, every_routing_serves_every_request_and_one_node_is_no_cluster) {
  auto workload = alternating(20, 1s);
  for (auto strategy : {routing::affinity, routing::round_robin, routing::least_loaded}) {
    auto summary
      = summarize(simulate(models(3, "cost_quantum"), l40_costs(3), workload, {}, {4, strategy}));
    EXPECT_EQ(summary.served, 20u) << to_string(strategy);
  }
  auto single = simulate(models(2, "fifo"), l40_costs(2), workload, {}, {1, routing::round_robin});
  auto plain = simulate(models(2, "fifo"), l40_costs(2), workload, {});
  ASSERT_EQ(single.requests.size(), plain.requests.size());
  for (std::size_t i = 0; i < single.requests.size(); ++i) {
    EXPECT_EQ(single.requests[i].finished, plain.requests[i].finished) << i;
  }
}

} // namespace
} // namespace llmux::actors
