#include "http/model_extract.hpp"

#include <gtest/gtest.h>

namespace llmux::http {
namespace {

TEST(find_model, reads_the_body_model_and_its_byte_range) {
  std::string body = R"({"messages":[],"model" : "qwen-7b"  ,"stream":true})";
  auto found = find_model("", body);
  EXPECT_EQ(found.model, "qwen-7b");
  ASSERT_TRUE(found.body_span);
  EXPECT_EQ(body.substr(found.body_span->first, found.body_span->second), R"("qwen-7b")");
  EXPECT_TRUE(found.error.empty());
}

TEST(find_model, header_wins_over_the_body) {
  std::string body = R"({"model":"a"})";
  auto found = find_model("b", body);
  EXPECT_EQ(found.model, "b");
  EXPECT_TRUE(found.body_span); // the body's model is still rewritten
}

TEST(find_model, header_alone_needs_no_json_body) {
  std::string body = "not json at all";
  auto found = find_model("m", body);
  EXPECT_EQ(found.model, "m");
  EXPECT_TRUE(found.error.empty());
  EXPECT_FALSE(found.body_span);
}

TEST(find_model, bad_bodies_without_a_header) {
  std::string not_json = "{oops";
  EXPECT_FALSE(find_model("", not_json).error.empty());
  std::string array = "[1,2]";
  EXPECT_EQ(find_model("", array).error, "the request body is not a JSON object");
  std::string number = R"({"model":7})";
  EXPECT_EQ(find_model("", number).error, "the request body's \"model\" must be a string");
  std::string none = R"({"messages":[]})";
  auto missing = find_model("", none);
  EXPECT_TRUE(missing.model.empty());
  EXPECT_TRUE(missing.error.empty());
  std::string empty;
  EXPECT_TRUE(find_model("", empty).model.empty());
}

TEST(find_model, escaped_names_are_unescaped) {
  std::string body = R"({"model":"org\/name"})";
  EXPECT_EQ(find_model("", body).model, "org/name");
}

TEST(find_model, header_must_be_visible_ascii) {
  std::string body = R"({"model":"a"})";
  EXPECT_EQ(find_model("bad name", body).model, "a");
}

TEST(spliced_body, replaces_only_the_value) {
  std::string body = R"({"model":"a","x":1})";
  auto found = find_model("", body);
  ASSERT_TRUE(found.body_span);
  spliced_body spliced(body, *found.body_span, "org/Model-1");
  EXPECT_EQ(spliced.joined(), R"({"model":"org/Model-1","x":1})");
  EXPECT_EQ(spliced.size(), spliced.joined().size());
  // The body's own bytes are not copied: two pieces lie in it.
  auto pieces = spliced.pieces();
  EXPECT_EQ(pieces[0].data(), body.data());
  EXPECT_EQ(pieces[2].data() + pieces[2].size(), body.data() + body.size());
}

TEST(spliced_body, escapes_a_value_that_needs_it) {
  std::string body = R"({"x":[1],"model":"a\u0062"})";
  auto found = find_model("", body);
  ASSERT_TRUE(found.body_span);
  spliced_body spliced(body, *found.body_span, "org/Model \"1\"\\");
  EXPECT_EQ(spliced.joined(), R"({"x":[1],"model":"org/Model \"1\"\\"})");
  std::string again = spliced.joined();
  EXPECT_EQ(find_model("", again).model, "org/Model \"1\"\\");
}

TEST(spliced_body, whole_body_is_one_piece) {
  std::string body = R"({"model":"a"})";
  spliced_body whole(body);
  EXPECT_EQ(whole.joined(), body);
  EXPECT_EQ(whole.size(), body.size());
}

} // namespace
} // namespace llmux::http
