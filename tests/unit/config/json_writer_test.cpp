#include "config/json_writer.hpp"

#include <gtest/gtest.h>

namespace llmux::config {
namespace {

TEST(json_writer, writes_nested_values_indented) {
  json_writer out;
  out.begin_object();
  out.key("a");
  out.integer(1);
  out.key("list");
  out.begin_array();
  out.string("x");
  out.boolean(false);
  out.null();
  out.end_array();
  out.key("empty");
  out.begin_object();
  out.end_object();
  out.key("f");
  out.real(0.5);
  out.end_object();
  EXPECT_EQ(out.str(), "{\n  \"a\": 1,\n  \"list\": [\n    \"x\",\n    false,\n    null\n  ],\n"
                       "  \"empty\": {},\n  \"f\": 0.5\n}");
}

TEST(json_writer, compact_layout_has_no_whitespace) {
  json_writer out(json_writer::layout::compact);
  out.begin_object();
  out.key("a");
  out.begin_array();
  out.integer(1);
  out.string("b c");
  out.end_array();
  out.key("o");
  out.begin_object();
  out.key("n");
  out.null();
  out.end_object();
  out.end_object();
  EXPECT_EQ(out.str(), R"({"a":[1,"b c"],"o":{"n":null}})");
}

TEST(json_writer, whole_reals_stay_visibly_real) {
  json_writer out;
  out.real(2.0);
  EXPECT_EQ(out.str(), "2.0");
}

TEST(json_quote, escapes_quotes_backslashes_and_control_characters) {
  EXPECT_EQ(json_quote("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(json_quote("line\nnext\t"), R"("line\nnext\t")");
  EXPECT_EQ(json_quote(std::string_view("\x01", 1)), R"("\u0001")");
  EXPECT_EQ(json_quote("ünï"), "\"ünï\"");
  EXPECT_EQ(json_quote(""), R"("")");
  EXPECT_EQ(json_quote("\"\"\r"), R"("\"\"\r")");
}

TEST(json_quote, appends_after_what_is_there) {
  std::string out = "x=";
  append_json_quoted(out, "org/model\\t1\x02");
  EXPECT_EQ(out, R"(x="org/model\\t1\u0002")");
}

} // namespace
} // namespace llmux::config
