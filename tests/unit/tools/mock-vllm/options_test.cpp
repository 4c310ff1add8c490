#include "tools/mock-vllm/options.hpp"

#include <gtest/gtest.h>

namespace llmux::tools::mock_vllm {
namespace {

std::variant<options, int> parse(std::vector<const char*> args) {
  args.insert(args.begin(), "mock-vllm");
  return parse_options(static_cast<int>(args.size()), args.data());
}

TEST(mock_options, vllm_command_line_with_unknown_flags) {
  auto parsed = parse({"serve", "org/Llama-3.1-8B", "--port", "8123", "--host", "127.0.0.1",
                       "--enable-sleep-mode", "--enforce-eager", "--max-num-seqs", "16",
                       "--served-model-name", "llama", "--tensor-parallel-size", "2"});
  ASSERT_TRUE(std::holds_alternative<options>(parsed));
  const auto& opts = std::get<options>(parsed);
  EXPECT_EQ(opts.model, "org/Llama-3.1-8B");
  EXPECT_EQ(opts.port, 8123);
  EXPECT_TRUE(opts.enable_sleep_mode);
  EXPECT_EQ(opts.served_name(), "llama");
  EXPECT_EQ(opts.tensor_parallel_size, 2u);
  EXPECT_DOUBLE_EQ(opts.weights_gib, 16.0);
}

TEST(mock_options, fast_profile_scales_durations_unless_overridden) {
  auto fast = std::get<options>(parse({"serve", "m", "--mock-profile", "fast"}));
  EXPECT_DOUBLE_EQ(fast.time_scale, 0.01);
  EXPECT_DOUBLE_EQ(fast.tokens_per_second, 1000);
  auto tuned = std::get<options>(parse({"serve", "m", "--mock-profile", "fast", "--mock-time-scale",
                                        "0.5", "--mock-tokens-per-sec", "7"}));
  EXPECT_DOUBLE_EQ(tuned.time_scale, 0.5);
  EXPECT_DOUBLE_EQ(tuned.tokens_per_second, 7);
}

TEST(mock_options, usage_errors) {
  testing::internal::CaptureStderr();
  EXPECT_EQ(std::get<int>(parse({"run", "m"})), 2);
  EXPECT_EQ(std::get<int>(parse({"serve", "m", "--mock-faults", "explode"})), 2);
  EXPECT_EQ(std::get<int>(parse({"serve", "m", "--mock-sleeping-requests", "drop"})), 2);
  testing::internal::GetCapturedStderr();
}

TEST(mock_options, weights_from_the_parameter_count_in_the_name) {
  EXPECT_DOUBLE_EQ(weights_gib_from_name("meta-llama/Llama-3.1-8B-Instruct"), 16);
  EXPECT_DOUBLE_EQ(weights_gib_from_name("Qwen/Qwen2.5-0.5B"), 1);
  EXPECT_DOUBLE_EQ(weights_gib_from_name("google/gemma-3-12b-it"), 24);
  EXPECT_DOUBLE_EQ(weights_gib_from_name("test-model"), 1);
}

TEST(mock_options, faults_parse_and_accumulate) {
  auto plan = parse_faults("fail_sleep=2,crash_at_start&hang_wake=300");
  ASSERT_TRUE(plan) << plan.error();
  EXPECT_EQ(plan->fail_sleep, 2);
  EXPECT_TRUE(plan->crash_at_start);
  EXPECT_EQ(plan->hang_wake_ms, 300u);
  auto more = parse_faults(
    "crash_mid_stream=4,body_on_head=50,interim_answers=3,switch_protocols,both_framings=2", *plan);
  ASSERT_TRUE(more);
  EXPECT_EQ(more->fail_sleep, 2);
  EXPECT_EQ(more->crash_mid_stream, 4);
  EXPECT_EQ(more->body_on_head_ms, 50u);
  EXPECT_EQ(more->interim_answers, 3);
  EXPECT_EQ(more->switch_protocols, 1);
  EXPECT_EQ(more->both_framings, 2);
  int left = 1;
  EXPECT_TRUE(take_one(left));
  EXPECT_FALSE(take_one(left));
  EXPECT_EQ(left, 0);
  EXPECT_FALSE(parse_faults("fail_sleep=x"));
  EXPECT_NE(parse_faults("boom").error().find("unknown fault 'boom'"), std::string::npos);
}

TEST(mock_timing, durations_follow_the_size_and_scale) {
  options opts;
  opts.weights_gib = 9;
  opts.time_scale = 1;
  timing t(opts);
  EXPECT_DOUBLE_EQ(t.sleep_ms(1), 10000); // 9 GiB at 0.9 GiB/s
  EXPECT_DOUBLE_EQ(t.sleep_ms(2), 300);
  EXPECT_DOUBLE_EQ(t.reload_ms(), 3000);
  EXPECT_DOUBLE_EQ(t.start_ms(), 24500);
  opts.time_scale = 0.01;
  EXPECT_DOUBLE_EQ(timing(opts).sleep_ms(2), 3);
}

} // namespace
} // namespace llmux::tools::mock_vllm
