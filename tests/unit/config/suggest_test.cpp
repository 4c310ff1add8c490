#include "config/suggest.hpp"

#include <array>

#include <gtest/gtest.h>

namespace llmux::config {
namespace {

constexpr std::array<std::string_view, 4> keys{"model_path", "port", "extra_args", "eviction"};

TEST(suggest, finds_the_closest_key_for_common_typos) {
  EXPECT_EQ(closest_match("extra_arg", keys), "extra_args");
  EXPECT_EQ(closest_match("modle_path", keys), "model_path"); // swapped letters
  EXPECT_EQ(closest_match("prot", keys), "port");
  EXPECT_EQ(closest_match("evicton", keys), "eviction");
}

TEST(suggest, offers_nothing_for_unrelated_words) {
  EXPECT_EQ(closest_match("max_sleeping", keys), std::nullopt);
  EXPECT_EQ(closest_match("xyz", keys), std::nullopt);
}

} // namespace
} // namespace llmux::config
