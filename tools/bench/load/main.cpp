// llmux-load: load generators for tools/bench/proxy that wrk cannot be.
//
//   llmux-load stream PORT MODEL STREAMS MAX_TOKENS
//     STREAMS concurrent streamed chat completions, each on its own connection. The engine
//     (mock-vllm --mock-sse-timestamps) starts each event with ": sent_ns=N" (CLOCK_MONOTONIC);
//     each event's delay is the time it arrived here minus N.
//   llmux-load wait PORT MODELS REQUESTS
//     REQUESTS concurrent chat completions, one connection each, spread over the comma-separated
//     MODELS in turn; waits for every answer.
//   llmux-load ready PORT SECONDS
//     Asks GET /health every millisecond until it answers 200 (at most SECONDS); prints the
//     milliseconds that took.
//   llmux-load paced PORT MODEL RATE SECONDS CONNECTIONS
//     Open-loop load: chat completions arrive for SECONDS as a Poisson process of RATE a second,
//     whatever the answers do, each sent on an idle one of CONNECTIONS keep-alive connections (or
//     waiting for one; one the server closes with an answer is opened anew). A request's latency
//     runs from its planned arrival to the end of its answer, so waiting for a connection counts
//     (no coordinated omission).
//   llmux-load idle PORT MODEL CONNECTIONS SECONDS
//     CONNECTIONS keep-alive connections (256 opening at a time), each asks one chat completion
//     and reads its answer; then all stay open and idle: prints `HOLDING answered=N` once every
//     answer came (the caller measures the server meanwhile) and keeps them open for SECONDS.
//   llmux-load wake FROM_CORE TO_CORE SAMPLES
//     The machine's own share of a relayed event's delay: a thread on TO_CORE blocked in a read
//     of a loopback TCP connection is written to every 20 ms by a thread on FROM_CORE; each
//     delay is the time the read returned minus the time just before the write.
//
// Prints one line: `RESULT key=value ...`.

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <pthread.h>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <fmt/format.h>

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

std::int64_t monotonic_ns() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return now.tv_sec * 1'000'000'000LL + now.tv_nsec;
}

std::string chat_request(std::uint16_t port, std::string_view model, bool stream, int max_tokens,
                         bool keep_alive = false) {
  auto body = fmt::format(R"({{"model":"{}","messages":[{{"role":"user","content":"Tell me a )"
                          R"(story."}}],"stream":{},"max_tokens":{},"ignore_eos":true}})",
                          model, stream, max_tokens);
  return fmt::format("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n"
                     "Content-Type: application/json\r\nContent-Length: {}\r\n"
                     "{}\r\n{}",
                     port, body.size(), keep_alive ? "" : "Connection: close\r\n", body);
}

struct totals {
  std::vector<double> delays_us;
  std::map<std::string, int> statuses;
  int finished = 0;
  int failed = 0;
};

// Collects the `: sent_ns=N` stamps of one response as its bytes arrive.
class stamp_reader {
public:
  explicit stamp_reader(std::vector<double>& delays) : delays_(delays) {
  }

  void feed(std::string_view bytes) {
    auto arrived = monotonic_ns();
    pending_.append(bytes);
    constexpr std::string_view marker = ": sent_ns=";
    std::size_t at = 0;
    for (;;) {
      auto found = pending_.find(marker, at);
      if (found == std::string::npos) {
        // Keep a tail that may hold the start of a marker.
        auto keep = std::min(pending_.size(), marker.size() + 24);
        pending_.erase(0, pending_.size() - keep);
        return;
      }
      auto digits = found + marker.size();
      auto end = pending_.find('\n', digits);
      if (end == std::string::npos) {
        pending_.erase(0, found);
        return;
      }
      std::int64_t sent = 0;
      std::from_chars(pending_.data() + digits, pending_.data() + end, sent);
      delays_.push_back(static_cast<double>(arrived - sent) / 1000.0);
      at = end;
    }
  }

private:
  std::vector<double>& delays_;
  std::string pending_;
};

// A loopback connection to `port` with `request` sent on it; none, counted as failed, if either
// failed.
net::awaitable<std::optional<tcp::socket>> send_request(std::uint16_t port,
                                                        const std::string& request, totals& out) {
  tcp::socket socket(co_await net::this_coro::executor);
  tcp::endpoint server(net::ip::make_address_v4("127.0.0.1"), port);
  if (auto [ec] = co_await socket.async_connect(server, use_tuple); ec) {
    ++out.failed;
    co_return std::nullopt;
  }
  if (auto [ec, n] = co_await net::async_write(socket, net::buffer(request), use_tuple); ec) {
    ++out.failed;
    co_return std::nullopt;
  }
  co_return std::move(socket);
}

net::awaitable<void> one_request(std::uint16_t port, std::string request, bool stamps,
                                 totals& out) {
  auto sent = co_await send_request(port, request, out);
  if (!sent) {
    co_return;
  }
  auto& socket = *sent;
  stamp_reader reader(out.delays_us);
  std::string head;
  std::array<char, 16384> buffer;
  bool saw_done = false;
  for (;;) {
    auto [ec, n] = co_await socket.async_read_some(net::buffer(buffer), use_tuple);
    std::string_view piece(buffer.data(), n);
    if (head.size() < 16) {
      head.append(piece.substr(0, 16 - head.size()));
    }
    if (stamps) {
      reader.feed(piece);
    }
    saw_done = saw_done || piece.find("[DONE]") != std::string_view::npos;
    if (ec) {
      break; // the end of the response (Connection: close) or a failure
    }
  }
  auto status = head.size() >= 12 ? head.substr(9, 3) : std::string("none");
  ++out.statuses[status];
  if (status == "200" && (!stamps || saw_done)) {
    ++out.finished;
  } else {
    ++out.failed;
  }
}

// `count` keep-alive connections one after another, each asks once and reads its answer; those
// that stay open go to `held`.
net::awaitable<void> requests_then_idle(std::uint16_t port, std::string request, int count,
                                        std::vector<tcp::socket>& held, totals& out) {
  for (int i = 0; i < count; ++i) {
    auto sent = co_await send_request(port, request, out);
    if (!sent) {
      continue;
    }
    beast::flat_buffer buffer;
    beast::http::response<beast::http::string_body> answer;
    if (auto [ec, n] = co_await beast::http::async_read(*sent, buffer, answer, use_tuple); ec) {
      ++out.failed;
      continue;
    }
    ++out.statuses[std::to_string(answer.result_int())];
    if (answer.result_int() == 200 && answer.keep_alive()) {
      ++out.finished;
      held.push_back(std::move(*sent));
    } else {
      ++out.failed;
    }
  }
}

// The open-loop run of `paced`: a dispatcher queues each request at its planned arrival and wakes
// an idle connection; connections take queued requests in arrival order.
class paced_load {
public:
  using clock = std::chrono::steady_clock;

  paced_load(net::io_context& io, std::uint16_t port, std::string request, double rate,
             std::chrono::duration<double> length, int connections)
    : io_(io), engine_(net::ip::make_address_v4("127.0.0.1"), port), request_(std::move(request)),
      rate_(rate), length_(length) {
    for (int i = 0; i < connections; ++i) {
      wakes_.push_back(std::make_unique<net::steady_timer>(io_, clock::time_point::max()));
    }
  }

  void start() {
    for (auto& wake : wakes_) {
      net::co_spawn(io_, serve(*wake), net::detached);
    }
    net::co_spawn(io_, dispatch(), net::detached);
  }

  std::vector<double> latencies_us;
  int errors = 0;
  int non2xx = 0;
  std::chrono::duration<double> took{};

private:
  net::awaitable<void> dispatch() {
    co_await connected_all();
    std::mt19937_64 random(42);
    std::exponential_distribution<double> gap(rate_);
    auto began = clock::now();
    auto arrival = began;
    auto end = began + std::chrono::duration_cast<clock::duration>(length_);
    net::steady_timer timer(io_);
    for (;;) {
      arrival
        += std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(gap(random)));
      if (arrival >= end) {
        break;
      }
      timer.expires_at(arrival);
      co_await timer.async_wait(use_tuple);
      due_.push_back(arrival);
      wake_one();
    }
    arrivals_over_ = true;
    while (!waiting_.empty()) {
      wake_one();
    }
    // Connections still answering finish the requests queued and then see the run is over.
    while (live_ > 0) {
      timer.expires_after(std::chrono::milliseconds(1));
      co_await timer.async_wait(use_tuple);
    }
    took = clock::now() - began;
    errors += static_cast<int>(due_.size()); // left when every connection had failed
  }

  net::awaitable<void> connected_all() {
    net::steady_timer timer(io_);
    while (connected_ + failed_ < static_cast<int>(wakes_.size())) {
      timer.expires_after(std::chrono::milliseconds(1));
      co_await timer.async_wait(use_tuple);
    }
  }

  void wake_one() {
    if (!waiting_.empty()) {
      waiting_.back()->cancel();
      waiting_.pop_back();
    }
  }

  net::awaitable<void> serve(net::steady_timer& wake) {
    tcp::socket socket(io_);
    if (!co_await open(socket)) {
      ++failed_;
      ++errors;
      co_return;
    }
    ++connected_;
    ++live_;
    struct leaving {
      int& live;
      ~leaving() {
        --live;
      }
    } counted{live_};
    beast::flat_buffer buffer;
    for (;;) {
      if (due_.empty()) {
        if (arrivals_over_) {
          co_return;
        }
        waiting_.push_back(&wake);
        wake.expires_at(clock::time_point::max());
        co_await wake.async_wait(use_tuple);
        continue;
      }
      auto arrival = due_.front();
      due_.pop_front();
      auto result = co_await exchange(socket, buffer);
      if (result == outcome::failed) {
        ++errors;
        co_return;
      }
      latencies_us.push_back(
        std::chrono::duration<double, std::micro>(clock::now() - arrival).count());
      if (result == outcome::closed) {
        // The server ended the connection with its answer (Connection: close): a new one, as a
        // client would open.
        beast::error_code ignored;
        socket.close(ignored);
        buffer.clear();
        if (!co_await open(socket)) {
          ++errors;
          co_return;
        }
      }
    }
  }

  // Connects `socket` to the server, without Nagle's delay; whether it connected.
  net::awaitable<bool> open(tcp::socket& socket) {
    auto [ec] = co_await socket.async_connect(engine_, use_tuple);
    if (!ec) {
      socket.set_option(tcp::no_delay(true));
    }
    co_return !ec;
  }

  enum class outcome { kept, closed, failed };

  // One request and its answer; whether the connection failed, or else stays open for the next.
  net::awaitable<outcome> exchange(tcp::socket& socket, beast::flat_buffer& buffer) {
    if (auto [ec, n] = co_await net::async_write(socket, net::buffer(request_), use_tuple); ec) {
      co_return outcome::failed;
    }
    beast::http::response<beast::http::string_body> answer;
    if (auto [ec, n] = co_await beast::http::async_read(socket, buffer, answer, use_tuple); ec) {
      co_return outcome::failed;
    }
    if (answer.result_int() / 100 != 2) {
      ++non2xx;
    }
    co_return answer.keep_alive() ? outcome::kept : outcome::closed;
  }

  net::io_context& io_;
  tcp::endpoint engine_;
  std::string request_;
  double rate_;
  std::chrono::duration<double> length_;
  /// One per connection: cancelled to wake it when it waits for a request.
  std::vector<std::unique_ptr<net::steady_timer>> wakes_;
  /// The connections waiting for a request.
  std::vector<net::steady_timer*> waiting_;
  std::deque<clock::time_point> due_;
  int connected_ = 0;
  int failed_ = 0;
  int live_ = 0;
  bool arrivals_over_ = false;
};

// Polls GET /health with blocking sockets, once a millisecond.
int wait_until_ready(std::uint16_t port, std::chrono::seconds bound) {
  auto began = std::chrono::steady_clock::now();
  net::io_context io(1);
  tcp::endpoint engine(net::ip::make_address_v4("127.0.0.1"), port);
  std::string request = fmt::format("GET /health HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n"
                                    "Connection: close\r\n\r\n",
                                    port);
  while (std::chrono::steady_clock::now() - began < bound) {
    boost::system::error_code ec;
    tcp::socket socket(io);
    socket.connect(engine, ec);
    if (!ec) {
      net::write(socket, net::buffer(request), ec);
      std::array<char, 64> head{};
      auto n = ec ? 0 : socket.read_some(net::buffer(head), ec);
      if (n >= 12 && std::string_view(head.data() + 9, 3) == "200") {
        auto took
          = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - began);
        fmt::print("{:.0f}\n", took.count());
        return 0;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return 1;
}

double percentile(std::vector<double>& values, double p) {
  if (values.empty()) {
    return 0;
  }
  auto rank = static_cast<std::size_t>(p / 100.0 * static_cast<double>(values.size() - 1));
  std::nth_element(values.begin(), values.begin() + static_cast<long>(rank), values.end());
  return values[rank];
}

std::vector<std::string> split(std::string_view text) {
  std::vector<std::string> parts;
  while (!text.empty()) {
    auto comma = text.find(',');
    parts.emplace_back(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
  }
  return parts;
}

int run_paced(std::uint16_t port, std::string_view model, double rate, double seconds,
              int connections) {
  net::io_context io(1);
  paced_load load(io, port, chat_request(port, model, false, 16, true), rate,
                  std::chrono::duration<double>(seconds), connections);
  load.start();
  io.run();
  auto& latencies = load.latencies_us;
  auto answered = latencies.size();
  fmt::print("RESULT requests={} errors={} non2xx={} rps={:.1f} p50={:.0f} p99={:.0f} "
             "p999={:.0f}\n",
             answered, load.errors, load.non2xx,
             static_cast<double>(answered) / std::max(load.took.count(), 1e-9),
             percentile(latencies, 50), percentile(latencies, 99), percentile(latencies, 99.9));
  return load.errors == 0 ? 0 : 1;
}

void pin_to_core(int core) {
  cpu_set_t cores;
  CPU_ZERO(&cores);
  CPU_SET(core, &cores);
  pthread_setaffinity_np(pthread_self(), sizeof cores, &cores);
}

int measure_wake(int from_core, int to_core, int samples) {
  net::io_context io(1);
  tcp::acceptor acceptor(io, tcp::endpoint(net::ip::make_address_v4("127.0.0.1"), 0));
  tcp::socket writer(io);
  tcp::socket reader(io);
  writer.connect(acceptor.local_endpoint());
  acceptor.accept(reader);
  writer.set_option(tcp::no_delay(true));
  std::vector<double> delays;
  std::thread receiving([&] {
    pin_to_core(to_core);
    for (int i = 0; i < samples; ++i) {
      std::int64_t sent = 0;
      boost::system::error_code ec;
      net::read(reader, net::buffer(&sent, sizeof sent), ec);
      if (ec) {
        return;
      }
      delays.push_back(static_cast<double>(monotonic_ns() - sent) / 1000.0);
    }
  });
  pin_to_core(from_core);
  for (int i = 0; i < samples; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    auto now = monotonic_ns();
    net::write(writer, net::buffer(&now, sizeof now));
  }
  receiving.join();
  fmt::print("RESULT samples={} wake_p50_us={:.0f} wake_p99_us={:.0f} wake_max_us={:.0f}\n",
             delays.size(), percentile(delays, 50), percentile(delays, 99),
             percentile(delays, 100));
  return static_cast<int>(delays.size()) == samples ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 4 || argc > 7) {
    std::fprintf(stderr, "usage: llmux-load stream PORT MODEL STREAMS MAX_TOKENS\n"
                         "       llmux-load wait PORT MODELS REQUESTS\n"
                         "       llmux-load ready PORT SECONDS\n"
                         "       llmux-load paced PORT MODEL RATE SECONDS CONNECTIONS\n"
                         "       llmux-load idle PORT MODEL CONNECTIONS SECONDS\n"
                         "       llmux-load wake FROM_CORE TO_CORE SAMPLES\n");
    return 2;
  }
  std::string_view mode = argv[1];
  if (mode == "wake" && argc == 5) {
    return measure_wake(std::stoi(argv[2]), std::stoi(argv[3]), std::stoi(argv[4]));
  }
  auto port = static_cast<std::uint16_t>(std::stoi(argv[2]));
  if (mode == "ready" && argc == 4) {
    return wait_until_ready(port, std::chrono::seconds(std::stoi(argv[3])));
  }
  if (mode == "paced" && argc == 7) {
    return run_paced(port, argv[3], std::stod(argv[4]), std::stod(argv[5]), std::stoi(argv[6]));
  }
  net::io_context io(1);
  totals out;
  std::vector<tcp::socket> held;
  double hold_seconds = 0;
  auto began = std::chrono::steady_clock::now();
  if (mode == "stream" && argc == 6) {
    int streams = std::stoi(argv[4]);
    int max_tokens = std::stoi(argv[5]);
    for (int i = 0; i < streams; ++i) {
      net::co_spawn(io, one_request(port, chat_request(port, argv[3], true, max_tokens), true, out),
                    net::detached);
    }
  } else if (mode == "wait" && argc == 5) {
    auto models = split(argv[3]);
    int requests = std::stoi(argv[4]);
    for (int i = 0; i < requests; ++i) {
      const auto& model = models[static_cast<std::size_t>(i) % models.size()];
      net::co_spawn(io, one_request(port, chat_request(port, model, false, 4), false, out),
                    net::detached);
    }
  } else if (mode == "idle" && argc == 6) {
    int connections = std::stoi(argv[4]);
    hold_seconds = std::stod(argv[5]);
    // A few hundred requests at a time: a proxy opens an engine connection for each request in
    // flight, and the engine takes a few thousand at most.
    constexpr int in_flight = 256;
    for (int lane = 0; lane < std::min(in_flight, connections); ++lane) {
      int count = connections / in_flight + (lane < connections % in_flight ? 1 : 0);
      net::co_spawn(
        io, requests_then_idle(port, chat_request(port, argv[3], false, 4, true), count, held, out),
        net::detached);
    }
  } else {
    std::fprintf(stderr, "llmux-load: unknown mode or wrong arguments\n");
    return 2;
  }
  io.run();
  auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  if (mode == "idle") {
    fmt::print("HOLDING answered={}\n", held.size());
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::duration<double>(hold_seconds));
  }
  std::string statuses;
  for (const auto& [status, count] : out.statuses) {
    statuses += fmt::format("{}{}:{}", statuses.empty() ? "" : ",", status, count);
  }
  auto events = out.delays_us.size();
  auto p50 = percentile(out.delays_us, 50);
  auto p99 = percentile(out.delays_us, 99);
  auto max = percentile(out.delays_us, 100);
  fmt::print(
    "RESULT finished={} failed={} statuses={} seconds={:.2f} events={} delay_p50_us={:.0f} "
    "delay_p99_us={:.0f} delay_max_us={:.0f}\n",
    out.finished, out.failed, statuses, took, events, p50, p99, max);
  return out.failed == 0 ? 0 : 1;
}
