#include "http/field_syntax.hpp"

#include <algorithm>
#include <array>

namespace llmux::http {

namespace {

// What a field value, a reason phrase or a chunk extension may hold: visible characters,
// obs-text, space and tab; no other control character.
constexpr auto text_chars = [] {
  std::array<bool, 256> table{};
  for (int c = 0x20; c < 256; ++c) {
    table[c] = c != 0x7f;
  }
  table['\t'] = true;
  return table;
}();

} // namespace

bool is_field_text(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return text_chars[static_cast<unsigned char>(c)]; });
}

} // namespace llmux::http
