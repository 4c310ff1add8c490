#include "tools/mock-vllm/text_model.hpp"

#include <cmath>

#include <gtest/gtest.h>

namespace llmux::tools::mock_vllm {
namespace {

TEST(text_model, same_inputs_same_answer) {
  auto a = generate("m", "hello", 1, std::nullopt, true);
  auto b = generate("m", "hello", 1, std::nullopt, true);
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_EQ(a.finish_reason, "stop");
  EXPECT_GE(a.tokens.size(), 8u);
  EXPECT_EQ(a.prompt_tokens, 1u);
}

TEST(text_model, model_prompt_and_seed_each_change_the_answer) {
  auto base = generate("m", "hello", 1, std::nullopt, true).text();
  EXPECT_NE(generate("n", "hello", 1, std::nullopt, true).text(), base);
  EXPECT_NE(generate("m", "hello!", 1, std::nullopt, true).text(), base);
  EXPECT_NE(generate("m", "hello", 2, std::nullopt, true).text(), base);
}

TEST(text_model, max_tokens_cuts_with_finish_reason_length) {
  auto full = generate("m", "p", 0, std::nullopt, true);
  auto cut = generate("m", "p", 0, 3, true);
  ASSERT_EQ(cut.tokens.size(), 3u);
  EXPECT_EQ(cut.finish_reason, "length");
  EXPECT_TRUE(std::equal(cut.tokens.begin(), cut.tokens.end(), full.tokens.begin()));
  EXPECT_EQ(generate("m", "p", 0, 1000, true).finish_reason, "stop");
}

TEST(text_model, ignore_eos_runs_to_max_tokens) {
  auto long_answer = generate("m", "p", 0, 500, true, true);
  EXPECT_EQ(long_answer.tokens.size(), 500u);
  EXPECT_EQ(long_answer.finish_reason, "length");
}

TEST(text_model, invalid_weights_give_garbage) {
  auto garbage = generate("m", "p", 0, 5, false);
  EXPECT_EQ(garbage.text(), "!!!!!");
}

TEST(text_model, counts_whitespace_separated_tokens) {
  EXPECT_EQ(count_tokens(""), 0u);
  EXPECT_EQ(count_tokens("  one two\nthree\t"), 3u);
}

TEST(text_model, embeddings_are_deterministic_unit_vectors) {
  auto v = embed("m", "text", 16);
  ASSERT_EQ(v.size(), 16u);
  double norm = 0;
  for (double x : v) {
    norm += x * x;
  }
  EXPECT_NEAR(std::sqrt(norm), 1.0, 1e-9);
  EXPECT_EQ(embed("m", "text", 16), v);
  EXPECT_NE(embed("m", "other", 16), v);
}

} // namespace
} // namespace llmux::tools::mock_vllm
