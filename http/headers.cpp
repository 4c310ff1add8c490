#include "http/headers.hpp"

#include <algorithm>
#include <array>
#include <span>

namespace llmux::http {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
           return lower(x) == lower(y);
         });
}

bool is_one_of(std::string_view name, std::span<const std::string_view> names) {
  return std::any_of(names.begin(), names.end(),
                     [&](std::string_view listed) { return iequals(name, listed); });
}

bool starts_with(std::string_view name, std::string_view prefix) {
  return name.size() >= prefix.size() && iequals(name.substr(0, prefix.size()), prefix);
}

// Headers that describe one hop, not the message: never copied across the proxy. (Expect too:
// llmux answers a client's 100-continue itself and has the whole body before it forwards; an
// engine asked again would answer 100 Continue first.)
constexpr std::array<std::string_view, 12> hop_by_hop{
  "connection",       "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
  "trailer",          "upgrade",    "transfer-encoding",  "content-length",      "host",
  "proxy-connection", "expect"};

// What the engine must not see: the client's credentials, browser context and cache
// validators are the business of the client and llmux, not of the engine; forwarding
// headers are llmux's to set.
constexpr std::array<std::string_view, 14> client_private{"authorization",
                                                          "x-api-key",
                                                          "api-key",
                                                          "cookie",
                                                          "origin",
                                                          "referer",
                                                          "if-modified-since",
                                                          "if-none-match",
                                                          "if-match",
                                                          "if-unmodified-since",
                                                          "if-range",
                                                          "model-override",
                                                          "x-forwarded-proto",
                                                          "x-forwarded-for"};

} // namespace

bool forwards_request_header(std::string_view name) {
  return !is_one_of(name, hop_by_hop) && !is_one_of(name, client_private)
         && !starts_with(name, "sec-fetch-") && !starts_with(name, "sec-ch-ua");
}

bool forwards_response_header(std::string_view name) {
  return !is_one_of(name, hop_by_hop);
}

} // namespace llmux::http
