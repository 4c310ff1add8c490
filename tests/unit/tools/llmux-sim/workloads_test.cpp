#include "tools/llmux-sim/workloads.hpp"

#include <gtest/gtest.h>

namespace llmux::tools::sim {
namespace {

using namespace std::chrono_literals;

TEST(workloads, the_reference_profiles_are_all_there_and_deterministic) {
  auto profiles = reference_profiles(500ms);
  ASSERT_EQ(profiles.size(), 12u);
  EXPECT_EQ(profiles.front().name, "single_model");
  EXPECT_EQ(profiles.back().name, "heavy_burst");
  EXPECT_EQ(profiles.back().requests.size(), 300u);
  auto again = reference_profiles(500ms);
  for (std::size_t p = 0; p < profiles.size(); ++p) {
    ASSERT_EQ(profiles[p].requests.size(), again[p].requests.size()) << profiles[p].name;
    for (std::size_t i = 0; i < profiles[p].requests.size(); ++i) {
      EXPECT_EQ(profiles[p].requests[i].arrival, again[p].requests[i].arrival);
      EXPECT_EQ(profiles[p].requests[i].model, again[p].requests[i].model);
    }
  }
}

TEST(workloads, balanced_is_a_closed_loop) {
  auto profiles = reference_profiles(500ms);
  const auto& balanced = profiles[1];
  ASSERT_EQ(balanced.name, "balanced");
  ASSERT_EQ(balanced.requests.size(), 40u);
  EXPECT_EQ(balanced.requests[1].sent_after, 0u); // B 0.1 s after A is sent
  EXPECT_EQ(balanced.requests[1].arrival, 100ms);
  EXPECT_EQ(balanced.requests[2].answered_after, (std::vector<std::size_t>{0, 1}));
}

TEST(workloads, traces_number_models_in_order_and_sort_by_time) {
  std::vector<std::string> names;
  auto trace
    = read_trace("time,model,service_seconds\n2.5,beta,1\n0,alpha,0.25\n1,beta,2\n", names);
  ASSERT_TRUE(trace) << trace.error();
  EXPECT_EQ(names, (std::vector<std::string>{"beta", "alpha"}));
  ASSERT_EQ(trace->requests.size(), 3u);
  EXPECT_EQ(trace->requests[0].arrival, 0ms);
  EXPECT_EQ(trace->requests[0].model, 1u);
  EXPECT_EQ(trace->requests[0].service, 250ms);
  EXPECT_EQ(trace->requests[2].arrival, 2500ms);
  EXPECT_EQ(trace->models, 2u);
}

TEST(workloads, bad_trace_lines_are_reported_with_their_number) {
  std::vector<std::string> names;
  EXPECT_EQ(read_trace("0,a,1\n1,b\n", names).error(),
            "line 2: expected time,model,service_seconds");
  names.clear();
  EXPECT_EQ(read_trace("x,a,1\n", names).error(), "line 1: bad time or service time");
  names.clear();
  EXPECT_EQ(read_trace("1,a,0\n", names).error(), "line 1: bad time or service time");
  names.clear();
  EXPECT_EQ(read_trace("1,a,2.5s\n", names).error(), "line 1: bad time or service time");
  names.clear();
  EXPECT_EQ(read_trace("1,a,2,extra\n", names).error(), "line 1: bad time or service time");
  names.clear();
  EXPECT_EQ(read_trace("0,a,1\n1,,1\n", names).error(), "line 2: empty model name");
}

} // namespace
} // namespace llmux::tools::sim
