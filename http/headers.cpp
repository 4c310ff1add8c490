#include "http/headers.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>

namespace llmux::http {

namespace {

// A fixed list of lower-case header names, looked up on every header of every request and
// response: a name is compared only with the listed names of its own length.
template <std::size_t N>
class name_set {
public:
  static constexpr std::size_t longest = 31;
  static_assert(N <= 32, "one bit per listed name");

  constexpr explicit name_set(std::array<std::string_view, N> names) : names_(names) {
    for (std::size_t i = 0; i < N; ++i) {
      if (names[i].size() > longest) {
        throw "a listed name is longer than name_set::longest"; // a compile-time error
      }
      by_length_[names[i].size()] |= 1u << i;
    }
  }

  bool contains(std::string_view name) const {
    if (name.size() > longest) {
      return false;
    }
    for (auto candidates = by_length_[name.size()]; candidates != 0; candidates &= candidates - 1) {
      if (iequals_lower(name, names_[static_cast<std::size_t>(std::countr_zero(candidates))])) {
        return true;
      }
    }
    return false;
  }

private:
  std::array<std::string_view, N> names_;
  /// For each length, one bit per listed name of that length.
  std::array<std::uint32_t, longest + 1> by_length_{};
};

bool starts_with(std::string_view name, std::string_view prefix) {
  return name.size() >= prefix.size() && iequals_lower(name.substr(0, prefix.size()), prefix);
}

// Headers that describe one hop, not the message: never copied across the proxy. (Expect too:
// llmux answers a client's 100-continue itself and has the whole body before it forwards; an
// engine asked again would answer 100 Continue first.)
constexpr name_set<12> hop_by_hop{std::array<std::string_view, 12>{
  "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
  "upgrade", "transfer-encoding", "content-length", "host", "proxy-connection", "expect"}};

// What the engine must not see: the client's credentials, browser context and cache
// validators are the business of the client and llmux, not of the engine; forwarding
// headers are llmux's to set.
constexpr name_set<14> client_private{std::array<std::string_view, 14>{
  "authorization", "x-api-key", "api-key", "cookie", "origin", "referer", "if-modified-since",
  "if-none-match", "if-match", "if-unmodified-since", "if-range", "model-override",
  "x-forwarded-proto", "x-forwarded-for"}};

} // namespace

std::string_view trim_blanks(std::string_view text) {
  while (!text.empty() && is_blank(text.front())) {
    text.remove_prefix(1);
  }
  while (!text.empty() && is_blank(text.back())) {
    text.remove_suffix(1);
  }
  return text;
}

bool iequals_lower(std::string_view text, std::string_view lower) {
  constexpr std::uint64_t lowering = 0x2020202020202020;
  if (text.size() != lower.size()) {
    return false;
  }
  std::size_t at = 0;
  for (; at + 8 <= text.size(); at += 8) {
    std::uint64_t word = 0;
    std::uint64_t expected = 0;
    std::memcpy(&word, text.data() + at, 8);
    std::memcpy(&expected, lower.data() + at, 8);
    if ((word | lowering) != expected) {
      return false;
    }
  }
  for (; at < text.size(); ++at) {
    if ((text[at] | 0x20) != lower[at]) {
      return false;
    }
  }
  return true;
}

bool forwards_request_header(std::string_view name) {
  return !hop_by_hop.contains(name) && !client_private.contains(name)
         && !starts_with(name, "sec-fetch-") && !starts_with(name, "sec-ch-ua");
}

bool forwards_response_header(std::string_view name) {
  return !hop_by_hop.contains(name);
}

} // namespace llmux::http
