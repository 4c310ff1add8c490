#include "tests/e2e/browser.hpp"

#include <array>
#include <fstream>
#include <optional>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <fmt/format.h>
#include <simdjson.h>

#include "config/json_writer.hpp"
#include "http/client.hpp"
#include "tests/support/child_process.hpp"

namespace llmux::testing_support {

namespace net = boost::asio;
namespace websocket = boost::beast::websocket;

namespace {

std::string base64_decode(std::string_view text) {
  std::array<int, 256> value{};
  value.fill(-1);
  constexpr std::string_view alphabet
    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (std::size_t i = 0; i < alphabet.size(); ++i) {
    value[static_cast<unsigned char>(alphabet[i])] = static_cast<int>(i);
  }
  std::string out;
  int bits = 0;
  int collected = 0;
  for (char c : text) {
    auto six = value[static_cast<unsigned char>(c)];
    if (six < 0) {
      continue; // padding
    }
    collected = (collected << 6) | six;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((collected >> bits) & 0xff));
    }
  }
  return out;
}

} // namespace

struct headless_browser::connection {
  std::unique_ptr<child_process> chromium;
  net::io_context io;
  std::optional<websocket::stream<net::ip::tcp::socket>> socket;
  int next_id = 1;
};

headless_browser::headless_browser(const std::string& url, const std::filesystem::path& profile)
  : connection_(std::make_unique<connection>()) {
  auto& self = *connection_;
  // As root (in containers) Chromium needs --no-sandbox; no GPU on test machines.
  self.chromium = std::make_unique<child_process>(
    std::vector<std::string>{"chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
                             "--hide-scrollbars", "--no-first-run", "--window-size=1200,800",
                             "--remote-debugging-port=0", "--user-data-dir=" + profile.string(),
                             url},
    std::vector<std::string>{"HOME=" + profile.string()});
  constexpr std::string_view marker = "DevTools listening on ws://127.0.0.1:";
  auto listening = self.chromium->wait_for_text(marker, std::chrono::seconds(30));
  if (!listening) {
    failure_ = "chromium did not start: " + self.chromium->output();
    return;
  }
  auto port_text = listening->substr(listening->find(marker) + marker.size());
  auto port = port_text.substr(0, port_text.find('/'));
  // The page's own DevTools endpoint.
  auto targets = http::http_request("GET", fmt::format("http://127.0.0.1:{}/json/list", port));
  simdjson::dom::parser parser;
  simdjson::dom::array list;
  if (parser.parse(targets.body).get(list)) {
    failure_ = "no DevTools target list: " + targets.body;
    return;
  }
  std::string page_path;
  for (auto target : list) {
    std::string_view type;
    std::string_view address;
    if (!target["type"].get(type) && type == "page"
        && !target["webSocketDebuggerUrl"].get(address)) {
      page_path = std::string(address.substr(address.find('/', std::string_view("ws://").size())));
      break;
    }
  }
  if (page_path.empty()) {
    failure_ = "no page among the DevTools targets: " + targets.body;
    return;
  }
  boost::beast::error_code ec;
  net::ip::tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"),
                                  static_cast<unsigned short>(std::stoi(port)));
  self.socket.emplace(self.io);
  self.socket->next_layer().connect(endpoint, ec);
  if (!ec) {
    self.socket->handshake(fmt::format("127.0.0.1:{}", port), page_path, ec);
  }
  if (ec) {
    failure_ = "cannot open the DevTools connection: " + ec.message();
    self.socket.reset();
  }
}

headless_browser::~headless_browser() {
  if (connection_->socket) {
    boost::beast::error_code ignored;
    connection_->socket->close(websocket::close_code::normal, ignored);
  }
}

std::string headless_browser::command(const std::string& method, const std::string& params) {
  auto& self = *connection_;
  if (!self.socket) {
    return {};
  }
  auto id = self.next_id++;
  auto message = fmt::format(R"({{"id":{},"method":"{}","params":{}}})", id, method, params);
  boost::beast::error_code ec;
  self.socket->write(net::buffer(message), ec);
  // Events come in between; the answer carries the command's id.
  while (!ec) {
    boost::beast::flat_buffer buffer;
    self.socket->read(buffer, ec);
    if (ec) {
      break;
    }
    auto text = boost::beast::buffers_to_string(buffer.data());
    simdjson::dom::parser parser;
    simdjson::dom::element reply;
    std::int64_t reply_id = 0;
    if (parser.parse(text).get(reply) || reply["id"].get(reply_id) || reply_id != id) {
      continue;
    }
    simdjson::dom::element result;
    if (reply["result"].get(result)) {
      failure_ = method + " failed: " + text;
      return {};
    }
    return simdjson::to_string(result);
  }
  failure_ = method + ": " + ec.message();
  return {};
}

std::string headless_browser::evaluate(const std::string& expression) {
  auto result
    = command("Runtime.evaluate", fmt::format(R"({{"expression":{},"returnByValue":true}})",
                                              config::json_quote(expression)));
  simdjson::dom::parser parser;
  simdjson::dom::element parsed;
  simdjson::dom::element value;
  if (result.empty() || parser.parse(result).get(parsed)) {
    return {};
  }
  if (!parsed["exceptionDetails"].error()) {
    failure_ = "the page threw: " + result;
    return {};
  }
  if (parsed["result"]["value"].get(value)) {
    return "undefined";
  }
  return simdjson::to_string(value);
}

bool headless_browser::wait_until(const std::string& expression, std::chrono::milliseconds bound) {
  auto until = std::chrono::steady_clock::now() + bound;
  while (std::chrono::steady_clock::now() < until) {
    if (evaluate(expression) == "true") {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

bool headless_browser::screenshot(const std::filesystem::path& file) {
  auto result = command("Page.captureScreenshot", R"({"format":"png"})");
  simdjson::dom::parser parser;
  std::string_view data;
  if (result.empty() || parser.parse(result)["data"].get(data)) {
    return false;
  }
  std::ofstream(file, std::ios::binary) << base64_decode(data);
  return true;
}

} // namespace llmux::testing_support
