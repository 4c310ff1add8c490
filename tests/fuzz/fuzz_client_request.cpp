// Fuzz target: client_request_parser against Beast's request parser. The input is what a client
// sends. llmux's parser must read it the same whether it arrives whole or in pieces (the first
// byte sets their size). Wherever Beast reads a whole request that llmux does not refuse by
// design, llmux must read the same: method, target, version, the header lines the engine gets,
// the headers llmux reads itself, the body, keep-alive, and where the request ends. Wherever
// llmux reads a head that Beast refuses, llmux must be lenient by design.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "http/client_request.hpp"
#include "http/headers.hpp"
#include "tests/fuzz/http_oracle.hpp"

namespace {

namespace bhttp = boost::beast::http;
using llmux::fuzz::lower;
using llmux::http::client_request_parser;

constexpr std::uint32_t header_limit = 8 * 1024;
/// The headers llmux reads itself, as client_request answers for them.
constexpr std::string_view noted[]
  = {"authorization", "x-api-key", "model-override", "expect", "content-type"};

struct reading {
  bool head = false;  ///< the head was read
  bool whole = false; ///< the request was read to its end
  std::string method;
  std::string target;
  unsigned version = 0;
  std::string fields; ///< the lines the engine gets, grouped by name
  std::vector<std::string> noted_values;
  std::string body;
  bool keep_alive = false;
  std::size_t used = 0; ///< where the request ended in the input
};

bool operator==(const reading& a, const reading& b) {
  return a.whole == b.whole && a.method == b.method && a.target == b.target
         && a.version == b.version && a.fields == b.fields && a.noted_values == b.noted_values
         && a.body == b.body && a.keep_alive == b.keep_alive && a.used == b.used;
}

// Header lines grouped by name, in their order within each name: Beast's container keeps a
// repeated name's fields together, llmux keeps the order they came in.
std::string grouped(std::vector<std::string> lines) {
  std::stable_sort(lines.begin(), lines.end(), [](std::string_view a, std::string_view b) {
    return lower(a.substr(0, a.find(':'))) < lower(b.substr(0, b.find(':')));
  });
  std::string out;
  for (const auto& line : lines) {
    out += line;
  }
  return out;
}

// llmux's reading, the input arriving `piece` bytes at a time.
reading read_llmux(std::string_view input, std::size_t piece) {
  reading out;
  client_request_parser parser;
  parser.header_limit(header_limit);
  parser.body_limit(input.size());
  parser.eager(true);
  std::size_t offered = std::min(piece, input.size());
  boost::system::error_code ec;
  while (!parser.is_done()) {
    auto used = parser.put(boost::asio::buffer(input.data() + out.used, offered - out.used), ec);
    out.used += used;
    if (ec && ec != bhttp::error::need_more) {
      break;
    }
    if (used == 0 || ec == bhttp::error::need_more) {
      if (offered == input.size()) {
        break;
      }
      offered = std::min(offered + piece, input.size());
    }
  }
  out.head = parser.is_header_done() && (!ec || ec == bhttp::error::need_more);
  out.whole = !ec && parser.is_done();
  if (!out.whole) {
    return out;
  }
  const auto& request = parser.get();
  out.method = request.method_string();
  out.target = request.target();
  out.version = request.version();
  std::vector<std::string> lines;
  request.for_each_forwarded([&](std::string_view line) { lines.emplace_back(line); });
  out.fields = grouped(std::move(lines));
  for (auto name : noted) {
    out.noted_values.emplace_back(request[name]);
  }
  out.body = request.body();
  out.keep_alive = request.keep_alive();
  return out;
}

struct beast_reading {
  reading read;
  boost::system::error_code error;
  unsigned version = 0; ///< as sent: 10 times the major version plus the minor
};

// Beast's reading of the whole input, its fields filtered as llmux forwards them.
beast_reading read_beast(std::string_view input) {
  beast_reading out;
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(header_limit);
  parser.body_limit(input.size());
  // The head first: Beast adds a chunked body's trailer fields to the same container later.
  out.read.used = parser.put(boost::asio::buffer(input.data(), input.size()), out.error);
  out.read.head = !out.error && parser.is_header_done();
  if (!out.read.head) {
    return out;
  }
  const auto& request = parser.get();
  out.read.method = request.method_string();
  out.read.target = request.target();
  out.version = request.version();
  out.read.version = request.version() == 10 ? 10 : 11;
  std::vector<std::string> lines;
  for (const auto& field : request) {
    auto name = field.name_string();
    if (llmux::http::forwards_request_header({name.data(), name.size()})) {
      lines.push_back(std::string(name) + ": " + std::string(field.value()) + "\r\n");
    }
  }
  out.read.fields = grouped(std::move(lines));
  for (auto name : noted) {
    auto known = bhttp::string_to_field({name.data(), name.size()});
    auto found = known == bhttp::field::unknown ? request.find({name.data(), name.size()})
                                                : request.find(known);
    out.read.noted_values.emplace_back(found == request.end() ? std::string()
                                                              : std::string(found->value()));
  }
  parser.eager(true);
  if (!parser.is_done()) {
    out.read.used += parser.put(
      boost::asio::buffer(input.data() + out.read.used, input.size() - out.read.used), out.error);
  }
  out.read.whole = !out.error && parser.is_done();
  out.read.body = request.body();
  out.read.keep_alive = parser.keep_alive();
  return out;
}

// The head's lines after the request line, up to the empty line.
std::vector<std::string_view> head_lines(std::string_view input) {
  std::vector<std::string_view> lines;
  auto head = input.substr(0, input.find("\r\n\r\n"));
  head.remove_prefix(std::min(head.size(), head.find("\r\n")));
  while (head.size() >= 2) {
    head.remove_prefix(2);
    auto line = head.substr(0, head.find("\r\n"));
    head.remove_prefix(line.size());
    lines.push_back(line);
  }
  return lines;
}

// What Beast reads whole but llmux refuses by design: what engine answers are refused for
// (folded lines, a Transfer-Encoding other than one chunked), a version other than 1.x, a
// target with bytes beyond ASCII, a head longer than the limit (Beast bounds the request
// line and the fields each by it).
bool refused_by_design(std::string_view input, const beast_reading& beast) {
  auto request_line = input.substr(0, input.find("\r\n"));
  bool outside_ascii = std::any_of(request_line.begin(), request_line.end(),
                                   [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
  return llmux::fuzz::refused_by_design(input) || beast.version / 10 != 1 || outside_ascii
         || beast.read.used > header_limit;
}

// What llmux reads as a head but Beast refuses, by design: empty lines before the request line
// (RFC 9112, section 2.2), a version 1.x later than 1.1 (read as 1.1: RFC 9110, section 2.5),
// a Connection value Beast finds no token list, a head Beast finds over its limits.
bool lenient_by_design(std::string_view input, boost::system::error_code beast_error) {
  if (input.starts_with("\r\n") || beast_error == bhttp::error::header_limit) {
    return true;
  }
  if (beast_error == bhttp::error::bad_version) {
    auto request_line = input.substr(0, input.find("\r\n"));
    return request_line.size() > 8 && request_line.substr(request_line.size() - 8, 7) == "HTTP/1.";
  }
  if (beast_error != bhttp::error::bad_value) {
    return false;
  }
  auto lines = head_lines(input);
  return std::any_of(lines.begin(), lines.end(), [](std::string_view line) {
    auto name = lower(line.substr(0, line.find(':')));
    return name == "connection" || name == "proxy-connection";
  });
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto given = llmux::fuzz::pieced(data, size);
  if (!given) {
    return 0;
  }
  auto [input, piece] = *given;
  auto whole = read_llmux(input, input.size());
  auto pieces = read_llmux(input, piece);
  if (!(pieces == whole) || pieces.head != whole.head) {
    __builtin_trap(); // the reading depends on how the bytes arrive
  }
  auto beast = read_beast(input);
  if (whole.head && !beast.read.head && !lenient_by_design(input, beast.error)) {
    __builtin_trap(); // llmux takes a head Beast refuses
  }
  if (!beast.read.whole || refused_by_design(input, beast)) {
    return 0;
  }
  if (!(whole == beast.read)) {
    __builtin_trap(); // a request Beast reads whole is read otherwise
  }
  return 0;
}
