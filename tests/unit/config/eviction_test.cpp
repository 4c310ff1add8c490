#include "config/eviction.hpp"

#include <gtest/gtest.h>

namespace llmux::config {
namespace {

using w = weight_strategy;
using p = process_strategy;

TEST(eviction, default_is_retain_and_stop) {
  eviction_policy policy;
  EXPECT_EQ(policy.weights, w::retain);
  EXPECT_EQ(policy.process, p::stop);
}

TEST(eviction, derived_predicates_follow_both_axes) {
  struct row {
    eviction_policy policy;
    bool sleep;
    bool cuda;
    bool criu;
  };
  const row rows[] = {
    {{w::retain, p::stop}, false, false, false},
    {{w::offload, p::keep_running}, true, false, false},
    {{w::discard, p::keep_running}, true, false, false},
    {{w::retain, p::cuda_suspend}, false, true, false},
    {{w::discard, p::checkpoint}, true, true, true},
    {{w::offload, p::checkpoint}, true, true, true},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(to_spec(r.policy));
    EXPECT_EQ(r.policy.needs_vllm_sleep(), r.sleep);
    EXPECT_EQ(r.policy.needs_cuda_checkpoint(), r.cuda);
    EXPECT_EQ(r.policy.needs_criu(), r.criu);
  }
}

TEST(eviction, only_retain_keep_running_frees_nothing) {
  EXPECT_TRUE((eviction_policy{w::retain, p::keep_running}.frees_nothing()));
  EXPECT_FALSE((eviction_policy{w::retain, p::stop}.frees_nothing()));
  EXPECT_FALSE((eviction_policy{w::offload, p::keep_running}.frees_nothing()));
}

TEST(eviction, legacy_levels_map_as_the_reference_did) {
  EXPECT_EQ(eviction_from_level(1), (eviction_policy{w::offload, p::keep_running}));
  EXPECT_EQ(eviction_from_level(2), (eviction_policy{w::discard, p::keep_running}));
  EXPECT_EQ(eviction_from_level(3), (eviction_policy{w::retain, p::cuda_suspend}));
  EXPECT_EQ(eviction_from_level(4), (eviction_policy{w::discard, p::checkpoint}));
  EXPECT_EQ(eviction_from_level(5), (eviction_policy{w::retain, p::stop}));
  EXPECT_EQ(eviction_from_level(0), std::nullopt);
  EXPECT_EQ(eviction_from_level(6), std::nullopt);
  EXPECT_EQ(eviction_from_level(-1), std::nullopt);
}

TEST(eviction, spec_round_trips_for_every_combination) {
  for (auto weights : {w::retain, w::offload, w::discard}) {
    for (auto process : {p::keep_running, p::cuda_suspend, p::checkpoint, p::stop}) {
      eviction_policy policy{weights, process};
      auto parsed_policy = parse_eviction_spec(to_spec(policy));
      ASSERT_TRUE(parsed_policy) << parsed_policy.error();
      EXPECT_EQ(*parsed_policy, policy);
    }
  }
}

TEST(eviction, names_in_both_spellings) {
  eviction_policy policy{w::offload, p::keep_running};
  EXPECT_EQ(to_spec(policy), "offload+keep_running");
  EXPECT_EQ(display_name(policy), "Offload+KeepRunning");
  EXPECT_EQ(display_name({w::discard, p::cuda_suspend}), "Discard+CudaSuspend");
}

TEST(eviction, malformed_specs_say_what_is_wrong) {
  auto no_plus = parse_eviction_spec("offload");
  ASSERT_FALSE(no_plus);
  EXPECT_NE(no_plus.error().find("expected 'weights+process'"), std::string::npos);
  EXPECT_FALSE(parse_eviction_spec("offload+stop+stop"));
  auto bad_weights = parse_eviction_spec("keep+stop");
  ASSERT_FALSE(bad_weights);
  EXPECT_NE(bad_weights.error().find("unknown weight strategy 'keep'"), std::string::npos);
  auto bad_process = parse_eviction_spec("retain+sleep");
  ASSERT_FALSE(bad_process);
  EXPECT_NE(bad_process.error().find("unknown process strategy 'sleep'"), std::string::npos);
}

} // namespace
} // namespace llmux::config
