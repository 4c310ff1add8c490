#pragma once

// The syntax of HTTP/1.1 header lines (RFC 9110 section 5, RFC 9112 section 5), read fast: an
// engine's every answer passes through it.

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include <boost/beast/http/error.hpp>
#include <boost/system/error_code.hpp>

#include "http/headers.hpp"

namespace llmux::http {

/// Calls `each` with every element of a comma-separated list, its blanks trimmed (empty
/// elements included).
template <class Each>
void for_each_list_element(std::string_view list, Each each) {
  for (;;) {
    auto comma = list.find(',');
    each(trim_blanks(list.substr(0, comma)));
    if (comma == std::string_view::npos) {
      return;
    }
    list.remove_prefix(comma + 1);
  }
}

/// A header line read from the input, or why none could be.
struct field_line {
  enum { whole, incomplete, malformed } outcome;
  std::string_view name;
  std::string_view value; ///< its blanks trimmed
  const char* end;        ///< past its CRLF
};

namespace detail {

/// The characters of a token (RFC 9110, section 5.6.2).
inline constexpr auto token_chars = [] {
  std::array<bool, 256> table{};
  for (int c = '0'; c <= '9'; ++c) {
    table[c] = true;
  }
  for (int c = 'a'; c <= 'z'; ++c) {
    table[c] = true;
    table[c - 'a' + 'A'] = true;
  }
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) {
    table[static_cast<unsigned char>(c)] = true;
  }
  return table;
}();

/// The bytes of `word` that are control characters (below 0x20, or 0x7f), each as its high
/// bit: the tests for "has a byte less than n" and "has a zero byte". A borrow may also mark a
/// byte above a marked one; the lowest mark is always true.
inline std::uint64_t control_marks(std::uint64_t word) {
  constexpr std::uint64_t ones = 0x0101010101010101;
  constexpr std::uint64_t highs = 0x8080808080808080;
  auto below_space = (word - ones * 0x20) & ~word & highs;
  auto del_cleared = word ^ (ones * 0x7f);
  auto del = (del_cleared - ones) & ~del_cleared & highs;
  return below_space | del;
}

/// A control character other than tab.
inline bool is_control(char c) {
  auto byte = static_cast<unsigned char>(c);
  return (byte < 0x20 && byte != '\t') || byte == 0x7f;
}

/// The first control character other than tab in [first, last), or `last`: where a field
/// value ends (at its CR) or goes wrong. Eight bytes at a time, as values are mostly text.
inline const char* find_control(const char* first, const char* last) {
  if constexpr (std::endian::native == std::endian::little) {
    while (last - first >= 8) {
      std::uint64_t word = 0;
      std::memcpy(&word, first, sizeof word);
      if (auto marks = control_marks(word)) {
        const auto* found = first + std::countr_zero(marks) / 8;
        if (*found != '\t') {
          return found;
        }
        // Past a tab the marks may be false: the rest of the word, a byte at a time.
        found = std::find_if(found + 1, first + 8, is_control);
        if (found != first + 8) {
          return found;
        }
      }
      first += 8;
    }
  }
  return std::find_if(first, last, is_control);
}

} // namespace detail

/// Whether `text` may stand as a field value, a reason phrase or a chunk extension: visible
/// characters, obs-text, space and tab, no other control character.
inline bool is_field_text(std::string_view text) {
  const auto* last = text.data() + text.size();
  return detail::find_control(text.data(), last) == last;
}

/// The field line at `first` (not the empty line that ends a head), reading no further than
/// `last`: a token name, a colon, a value, CRLF. Malformed (with `ec` one of Beast's parse
/// errors) as soon as a byte shows it: a line that begins with a blank (obs-fold, which a proxy
/// may refuse), a name that is no token, a control character in the value, a bare CR or LF.
/// (Inline: it runs once per header line of every answer, and a call per line cost a head
/// about 8 % more instructions.)
inline field_line read_field_line(const char* first, const char* last,
                                  boost::system::error_code& ec) {
  field_line line{field_line::incomplete, {}, {}, last};
  const auto* colon = first;
  while (colon != last && detail::token_chars[static_cast<unsigned char>(*colon)]) {
    ++colon;
  }
  if (colon == last) {
    return line;
  }
  if (*colon != ':' || colon == first) {
    // A line that begins with a blank continues the last (obs-fold), which RFC 9112 section
    // 5.2 lets a proxy refuse.
    ec = is_blank(*first) ? boost::beast::http::error::bad_obs_fold
                          : boost::beast::http::error::bad_field;
    line.outcome = field_line::malformed;
    return line;
  }
  const auto* value = colon + 1;
  while (value != last && is_blank(*value)) {
    ++value;
  }
  const auto* end = detail::find_control(value, last);
  if (end == last || (*end == '\r' && end + 1 == last)) {
    return line;
  }
  if (*end != '\r' || end[1] != '\n') {
    ec = *end == '\n' ? boost::beast::http::error::bad_line_ending
                      : boost::beast::http::error::bad_value;
    line.outcome = field_line::malformed;
    return line;
  }
  line.end = end + 2;
  while (end != value && is_blank(end[-1])) {
    --end;
  }
  line.outcome = field_line::whole;
  line.name = std::string_view(first, static_cast<std::size_t>(colon - first));
  line.value = std::string_view(value, static_cast<std::size_t>(end - value));
  return line;
}

/// How reading a head's field lines ended.
enum class fields_read {
  whole,      ///< up to the empty line that ends the head
  incomplete, ///< at a line not all there yet
  malformed,  ///< at a line that cannot be read (`ec` says why)
};

/// Reads the field lines from `next` through the empty line that ends a head, not past
/// `last`, and hands each to `take(line)`, which says whether to go on (false: malformed, with
/// `ec` set). `next` ends past the last line taken (past the empty line when the head is
/// whole).
template <class Take>
fields_read read_field_lines(const char*& next, const char* last, Take&& take,
                             boost::system::error_code& ec) {
  for (;;) {
    if (next == last || (*next == '\r' && next + 1 == last)) {
      return fields_read::incomplete;
    }
    if (*next == '\r' || *next == '\n') {
      if (*next == '\n' || next[1] != '\n') {
        ec = boost::beast::http::error::bad_line_ending;
        return fields_read::malformed;
      }
      next += 2;
      return fields_read::whole;
    }
    auto line = read_field_line(next, last, ec);
    if (line.outcome == field_line::incomplete) {
      return fields_read::incomplete;
    }
    if (line.outcome == field_line::malformed || !take(line)) {
      return fields_read::malformed;
    }
    next = line.end;
  }
}

/// Copies field lines into a string as "Name: value\r\n". A line that came in that form (the
/// usual case) is not rewritten: a run of such lines, one after the other in the input, goes
/// in one append. (A run points into the input: flush before the input moves.)
class field_line_copier {
public:
  explicit field_line_copier(std::string& out) : out_(out) {
  }
  field_line_copier(const field_line_copier&) = delete;
  field_line_copier& operator=(const field_line_copier&) = delete;
  ~field_line_copier() {
    flush();
  }

  /// Copies `line`; returns where its value lies in the string.
  std::size_t copy(const field_line& line) {
    const auto* start = line.name.data();
    const auto* value = line.value.data();
    bool as_it_came = value == start + line.name.size() + 2 && value[-1] == ' '
                      && value + line.value.size() + 2 == line.end;
    if (as_it_came) {
      if (run_end_ != start) {
        flush();
        run_ = start;
      }
      run_end_ = line.end;
      return out_.size() + static_cast<std::size_t>(value - run_);
    }
    flush();
    out_.append(line.name).append(": ");
    auto at = out_.size();
    out_.append(line.value).append("\r\n");
    return at;
  }

  /// Appends the run of lines copied as they came.
  void flush() {
    if (run_ != run_end_) {
      out_.append(run_, static_cast<std::size_t>(run_end_ - run_));
      run_ = run_end_;
    }
  }

private:
  std::string& out_;
  const char* run_ = nullptr;
  const char* run_end_ = nullptr;
};

} // namespace llmux::http
