#include "http/access.hpp"

#include <gtest/gtest.h>

namespace llmux::http {
namespace {

TEST(same_secret, matches_only_the_exact_secret) {
  EXPECT_TRUE(same_secret("s3cret", "s3cret"));
  EXPECT_FALSE(same_secret("s3cre", "s3cret"));
  EXPECT_FALSE(same_secret("s3cretX", "s3cret"));
  EXPECT_FALSE(same_secret("S3cret", "s3cret"));
  EXPECT_FALSE(same_secret("", "s3cret"));
  EXPECT_FALSE(same_secret("", "")); // an empty secret opens nothing
  // A prefix repeated to the secret's length is no match either.
  EXPECT_FALSE(same_secret("abab", "ab"));
}

TEST(access_keys, nothing_configured_opens_everything_without_a_key) {
  access_keys keys;
  EXPECT_FALSE(keys.required("alpha"));
  EXPECT_FALSE(keys.required({}));
}

TEST(access_keys, global_keys_open_every_model_and_model_keys_only_theirs) {
  access_keys keys({"global"}, {{"alpha", {"alpha-only"}}, {"beta", {}}});
  EXPECT_TRUE(keys.required("alpha"));
  EXPECT_TRUE(keys.required("beta"));
  EXPECT_TRUE(keys.required("unknown"));
  EXPECT_TRUE(keys.opens("global", "alpha"));
  EXPECT_TRUE(keys.opens("global", "beta"));
  EXPECT_TRUE(keys.opens("alpha-only", "alpha"));
  EXPECT_FALSE(keys.opens("alpha-only", "beta"));
  EXPECT_FALSE(keys.opens("wrong", "alpha"));
  EXPECT_FALSE(keys.opens("", "alpha"));
  // The model list and the status take any configured key.
  EXPECT_TRUE(keys.opens("alpha-only", {}));
  EXPECT_FALSE(keys.opens("wrong", {}));
}

TEST(access_keys, a_model_without_keys_stays_open_when_only_others_have_some) {
  access_keys keys({}, {{"alpha", {"alpha-only"}}, {"beta", {}}});
  EXPECT_TRUE(keys.required("alpha"));
  EXPECT_FALSE(keys.required("beta"));
  EXPECT_FALSE(keys.required("unknown")); // answered as unknown: 404
  EXPECT_TRUE(keys.required({}));
}

TEST(access_keys, the_key_comes_from_a_bearer_header_or_x_api_key) {
  EXPECT_EQ(access_keys::presented("Bearer abc", ""), "abc");
  EXPECT_EQ(access_keys::presented("bearer abc", ""), "abc");
  EXPECT_EQ(access_keys::presented("Basic abc", "xyz"), "xyz");
  EXPECT_EQ(access_keys::presented("", "xyz"), "xyz");
  EXPECT_EQ(access_keys::presented("Bearer ", ""), "");
}

TEST(key_list, splits_on_commas_and_trims) {
  EXPECT_EQ(key_list(" a, b ,,c "), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(key_list("").empty());
  EXPECT_TRUE(key_list(" , ").empty());
}

} // namespace
} // namespace llmux::http
