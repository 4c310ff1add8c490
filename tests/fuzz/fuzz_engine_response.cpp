// Fuzz target: engine_response_parser against Beast's response parser. The input is what an
// engine sends back. llmux's parser must read it the same whether it arrives whole or in
// pieces (the first byte sets their size), and wherever Beast reads a whole answer that llmux
// does not refuse by design, llmux must read the same: status, forwarded fields, body,
// whether the connection stays open, and where the answer ends.

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

#include "http/engine_response.hpp"
#include "http/headers.hpp"
#include "tests/fuzz/http_oracle.hpp"

namespace {

namespace bhttp = boost::beast::http;
using llmux::http::engine_response_parser;

struct reading {
  bool whole = false; ///< the answer ended (at its length, or with the connection)
  boost::system::error_code error;
  int status = 0;
  std::string fields;
  std::string body;
  bool keep_alive = false;
  std::size_t used = 0; ///< where the answer ended in the input
};

bool operator==(const reading& a, const reading& b) {
  return a.whole == b.whole && a.error == b.error && a.status == b.status && a.fields == b.fields
         && a.body == b.body && a.keep_alive == b.keep_alive && a.used == b.used;
}

// llmux's reading, the input arriving `piece` bytes at a time, then the end of the connection.
reading read_llmux(std::string_view input, std::size_t piece) {
  reading out;
  engine_response_parser parser(out.fields);
  std::size_t offered = std::min(piece, input.size());
  while (!parser.is_done()) {
    parser.clear_body();
    auto used
      = parser.put(boost::asio::buffer(input.data() + out.used, offered - out.used), out.error);
    for (auto part : parser.body_pieces()) {
      out.body += part;
    }
    out.used += used;
    if (out.error == bhttp::error::need_buffer) {
      continue;
    }
    if (out.error && out.error != bhttp::error::need_more) {
      break;
    }
    if (used == 0 || out.error == bhttp::error::need_more) {
      if (offered == input.size()) {
        parser.put_eof(out.error);
        break;
      }
      offered = std::min(offered + piece, input.size());
    }
  }
  out.whole = !out.error && parser.is_done();
  if (out.error) {
    out.fields.clear(); // no use for them: the relay answers 502
  }
  out.status = parser.status();
  out.keep_alive = out.whole && parser.keep_alive();
  return out;
}

// Beast's reading of the whole input, the head's fields filtered as llmux forwards them
// (Beast adds a chunked body's trailer fields to the same container later).
std::optional<reading> read_beast(std::string_view input) {
  bhttp::response_parser<bhttp::string_body> parser;
  // No body is longer than the input (string_body reserves what Content-Length announces).
  parser.body_limit(input.size());
  reading out;
  out.used = parser.put(boost::asio::buffer(input.data(), input.size()), out.error);
  // Beast bounds the status line and the fields each by its limit, llmux the whole head by
  // the same number: a head longer than that is llmux's header_limit error.
  if (out.error || !parser.is_header_done() || out.used > engine_response_parser::header_limit) {
    return std::nullopt;
  }
  for (const auto& field : parser.get()) {
    auto name = field.name_string();
    if (llmux::http::forwards_response_header({name.data(), name.size()})) {
      out.fields.append(name.data(), name.size()).append(": ");
      out.fields.append(field.value().data(), field.value().size()).append("\r\n");
    }
  }
  parser.eager(true);
  if (!parser.is_done()) {
    out.used += parser.put(boost::asio::buffer(input.data() + out.used, input.size() - out.used),
                           out.error);
  }
  if (!out.error && !parser.is_done()) {
    parser.put_eof(out.error);
  }
  if (out.error || !parser.is_done()) {
    return std::nullopt;
  }
  out.whole = true;
  out.status = static_cast<int>(parser.get().result_int());
  out.body = parser.get().body();
  out.keep_alive = parser.keep_alive();
  return out;
}

// Header lines grouped by name, in their order within each name: Beast's container keeps a
// repeated name's fields together, llmux keeps the order they came in.
std::string grouped(std::string_view fields) {
  std::vector<std::string_view> lines;
  while (!fields.empty()) {
    auto end = fields.find("\r\n") + 2;
    lines.push_back(fields.substr(0, end));
    fields.remove_prefix(end);
  }
  std::stable_sort(lines.begin(), lines.end(), [](std::string_view a, std::string_view b) {
    return llmux::fuzz::lower(a.substr(0, a.find(':')))
           < llmux::fuzz::lower(b.substr(0, b.find(':')));
  });
  std::string out;
  for (auto line : lines) {
    out += line;
  }
  return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto given = llmux::fuzz::pieced(data, size);
  if (!given) {
    return 0;
  }
  auto [input, piece] = *given;
  auto whole = read_llmux(input, input.size());
  if (!(read_llmux(input, piece) == whole)) {
    __builtin_trap(); // the reading depends on how the bytes arrive
  }
  auto beast = read_beast(input);
  if (!beast || beast->status < 100 || llmux::fuzz::refused_by_design(input)) {
    return 0;
  }
  whole.fields = grouped(whole.fields);
  beast->fields = grouped(beast->fields);
  if (!(whole == *beast)) {
    __builtin_trap(); // an answer Beast reads whole is read otherwise
  }
  return 0;
}
