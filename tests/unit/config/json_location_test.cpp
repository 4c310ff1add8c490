#include "config/json_location.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

namespace llmux::config {
namespace {

struct located {
  std::string_view text;
  std::size_t line;
  std::size_t column;
};

class syntax_error_location : public testing::TestWithParam<located> {};

TEST_P(syntax_error_location, points_at_the_fault) {
  auto [text, line, column] = GetParam();
  simdjson::dom::parser parser;
  ASSERT_NE(parser.parse(text.data(), text.size()).error(), simdjson::SUCCESS)
    << "fixture must be invalid JSON";
  auto offset = locate_syntax_error(text);
  ASSERT_TRUE(offset.has_value());
  auto position = position_of(text, *offset);
  EXPECT_EQ(position.line, line);
  EXPECT_EQ(position.column, column);
}

INSTANTIATE_TEST_SUITE_P(
  faults, syntax_error_location,
  testing::Values(located{"{\n  \"port\": 3000,,\n}", 2, 16}, // doubled comma
                  located{"{\"a\": [1, 2 3]}", 1, 13},        // missing comma
                  located{"{\n\"a\": tru\n}", 2, 6},          // misspelt atom
                  located{"{\"a\" 1}", 1, 6},                 // missing colon
                  located{"{\"a\": 1}\nx", 2, 1},             // trailing content
                  located{"{\"a\": {\"b\": 1}", 1, 15},       // unclosed object
                  located{"{\n  \"a\": \"open\n}", 2, 8},     // unclosed string
                  located{"{\"a\": \"tab\there\"}", 1, 11},   // raw control char
                  located{"{\"a\": \"\xff\"}", 1, 8},         // invalid UTF-8
                  located{"{\"port\": 01}", 1, 10},           // leading zero
                  located{"", 1, 1}));                        // empty document

TEST(position_of, counts_lines_and_columns_from_one) {
  std::string_view text = "ab\ncd\n";
  EXPECT_EQ(position_of(text, 0).line, 1u);
  EXPECT_EQ(position_of(text, 0).column, 1u);
  EXPECT_EQ(position_of(text, 4).line, 2u);
  EXPECT_EQ(position_of(text, 4).column, 2u);
}

} // namespace
} // namespace llmux::config
