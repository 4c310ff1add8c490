#pragma once

#include <array>
#include <cstddef>
#include <string_view>

#include <boost/beast/http/field.hpp>

namespace llmux::http {

/// A header filter of headers.hpp (a function of the name) answered by Beast's `field` number
/// for the names Beast recognises: a table made once from the filter itself, so the names stay
/// listed in one place; `name` is compared only when Beast does not know it. (Each comparison
/// of a name cost about 90 instructions, on every header of every request and response.)
template <bool (*Filter)(std::string_view)>
bool forwards_field(boost::beast::http::field known, std::string_view name) {
  namespace bhttp = boost::beast::http;
  constexpr auto count = static_cast<std::size_t>(bhttp::field::xref) + 1;
  static const auto by_number = [] {
    std::array<bool, count> table{};
    for (std::size_t number = 1; number < count; ++number) {
      auto text = bhttp::to_string(static_cast<bhttp::field>(number));
      table[number] = Filter({text.data(), text.size()});
    }
    return table;
  }();
  if (known == bhttp::field::unknown) {
    return Filter(name);
  }
  return by_number[static_cast<std::size_t>(known)];
}

} // namespace llmux::http
