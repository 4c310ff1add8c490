#include "http/field_syntax.hpp"

#include <string>
#include <string_view>
#include <utility>

#include <boost/beast/http/error.hpp>
#include <gtest/gtest.h>

namespace llmux::http {
namespace {

namespace bhttp = boost::beast::http;
using boost::system::error_code;

field_line read(std::string_view input, error_code& ec) {
  return read_field_line(input.data(), input.data() + input.size(), ec);
}

TEST(field_syntax, a_whole_line_gives_its_name_and_trimmed_value) {
  // Values long enough to be read eight bytes at a time, with tabs before and after the marks.
  for (std::string value : {"x", "application/json", "a\tb\tc long value with\ttabs in it",
                            "caf\xc3\xa9 and obs-text \x80\xff"}) {
    std::string input = "X-Name: \t" + value + " \t\r\nNext: 1\r\n";
    error_code ec;
    auto line = read(input, ec);
    ASSERT_EQ(line.outcome, field_line::whole) << value;
    EXPECT_FALSE(ec);
    EXPECT_EQ(line.name, "X-Name");
    EXPECT_EQ(line.value, value);
    EXPECT_EQ(std::string_view(line.end), "Next: 1\r\n");
  }
  error_code ec;
  auto empty = read("X-Empty:\r\n", ec);
  ASSERT_EQ(empty.outcome, field_line::whole);
  EXPECT_EQ(empty.value, "");
}

TEST(field_syntax, a_line_cut_anywhere_is_incomplete) {
  std::string_view input = "Content-Type: text/event-stream; charset=utf-8\r\n";
  for (std::size_t size = 0; size < input.size(); ++size) {
    error_code ec;
    EXPECT_EQ(read(input.substr(0, size), ec).outcome, field_line::incomplete) << size;
    EXPECT_FALSE(ec) << size;
  }
}

TEST(field_syntax, a_malformed_line_says_why_as_soon_as_a_byte_shows_it) {
  const std::pair<std::string_view, bhttp::error> cases[] = {
    {" folded", bhttp::error::bad_obs_fold},
    {"\tfolded", bhttp::error::bad_obs_fold},
    {": no name", bhttp::error::bad_field},
    {"Bad Name: x", bhttp::error::bad_field},
    {"Name\r\n", bhttp::error::bad_field},
    {"X: a\x01", bhttp::error::bad_value},
    {"X: a long value, then DEL\x7f", bhttp::error::bad_value},
    {"X: bare CR\rx", bhttp::error::bad_value},
    {"X: bare LF\n", bhttp::error::bad_line_ending},
  };
  for (auto [input, expected] : cases) {
    error_code ec;
    EXPECT_EQ(read(input, ec).outcome, field_line::malformed) << input;
    EXPECT_EQ(ec, expected) << input;
  }
}

TEST(field_syntax, field_text_allows_tabs_and_obs_text_only_beside_visible_characters) {
  EXPECT_TRUE(is_field_text("a\tb c~\x80\xff"));
  EXPECT_TRUE(is_field_text(""));
  EXPECT_FALSE(is_field_text("a\rb"));
  EXPECT_FALSE(is_field_text("a\x7f"));
  EXPECT_FALSE(is_field_text(std::string_view("a\0b", 3)));
}

TEST(field_syntax, list_elements_are_trimmed_and_empty_ones_kept) {
  std::string seen;
  for_each_list_element(" close ,\tkeep-alive,, x", [&](std::string_view element) {
    seen.append("[").append(element).append("]");
  });
  EXPECT_EQ(seen, "[close][keep-alive][][x]");
}

} // namespace
} // namespace llmux::http
