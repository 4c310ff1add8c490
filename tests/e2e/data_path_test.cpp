// The data path between llmux and its engines: kept-alive engine connections, reused while the
// engine serves the same model and dropped when it stops. Real llmux, real mock-vllm engines,
// connections counted in the kernel's own table.

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <set>
#include <sstream>
#include <sys/resource.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tests/e2e/daemon.hpp"

namespace llmux::testing_support {
namespace {

// The established TCP connections to 127.0.0.1:`port`, by their local address (the connecting
// side), from /proc/net/tcp. Liveness probes come and go; a kept connection stays.
std::set<std::string> connections_to(std::uint16_t port) {
  std::ifstream table("/proc/net/tcp");
  std::string line;
  std::getline(table, line); // the column names
  auto remote = fmt::format("0100007F:{:04X}", port);
  std::set<std::string> open;
  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::string slot, local, peer, state;
    fields >> slot >> local >> peer >> state;
    if (peer == remote && state == "01") {
      open.insert(local);
    }
  }
  return open;
}

// How many answers in `received` begin with "200 OK".
std::size_t answers_ok(const std::string& received) {
  std::size_t answers = 0;
  for (auto at = received.find("HTTP/1.1 200 OK\r\n"); at != std::string::npos;
       at = received.find("HTTP/1.1 200 OK\r\n", at + 1)) {
    ++answers;
  }
  return answers;
}

// Whether none of `kept` is still established to `port`.
bool all_closed(const std::set<std::string>& kept, std::uint16_t port) {
  auto open = connections_to(port);
  return std::none_of(kept.begin(), kept.end(),
                      [&](const std::string& local) { return open.count(local) > 0; });
}

TEST_F(daemon_test, requests_reuse_one_engine_connection_until_it_idles_out) {
  auto daemon
    = start_daemon({{"alpha"}}, R"("min_active_secs": 0)", {}, {"--upstream-idle-ms", "1500"});
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(daemon.chat("alpha").status, 200);
  }
  // One request at a time: one connection carried them all (a liveness probe may be open too).
  auto kept = connections_to(engine_port("alpha"));
  EXPECT_GE(kept.size(), 1u);
  EXPECT_LE(kept.size(), 2u);
  // Idle past --upstream-idle-ms: closed by llmux, before the engine would close it.
  EXPECT_TRUE(eventually([&] { return all_closed(kept, engine_port("alpha")); }, 4s));
  EXPECT_EQ(daemon.chat("alpha").status, 200);
}

TEST_F(daemon_test, a_connection_the_engine_closed_while_idle_is_retried_on_a_new_one) {
  // llmux keeps idle connections longer than mock-vllm (5 s, as uvicorn): the engine closes
  // the kept one, and the next request must not fail on it.
  auto daemon
    = start_daemon({{"alpha"}}, R"("min_active_secs": 0)", {}, {"--upstream-idle-ms", "60000"});
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  ASSERT_EQ(daemon.chat("alpha", true).status, 200);
  std::this_thread::sleep_for(6s);
  auto again = daemon.chat("alpha");
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_FALSE(answer_content(again).empty());
  auto streamed = daemon.chat("alpha", true);
  EXPECT_EQ(streamed.status, 200) << streamed.body;
  EXPECT_NE(streamed.body.find("data: [DONE]"), std::string::npos) << streamed.body;
}

TEST_F(daemon_test, an_evicted_engine_keeps_no_connection_from_llmux) {
  auto daemon = start_daemon({{"alpha", "offload+keep_running"}, {"beta"}},
                             R"("min_active_secs": 0)", {}, {"--upstream-idle-ms", "60000"});
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  auto kept = connections_to(engine_port("alpha"));
  EXPECT_GE(kept.size(), 1u);
  ASSERT_EQ(daemon.chat_until_served("beta", 30s).status, 200);
  // alpha sleeps in its running engine; llmux dropped its kept connections when it left.
  EXPECT_TRUE(eventually([&] { return all_closed(kept, engine_port("alpha")); }, 2s))
    << fmt::format("kept {} open {}", fmt::join(kept, ","),
                   fmt::join(connections_to(engine_port("alpha")), ","));
  ASSERT_EQ(daemon.chat_until_served("alpha", 30s).status, 200);
}

// The sockets `pid` holds open, as their inode links ("socket:[1234]").
std::set<std::string> sockets_of(pid_t pid) {
  std::set<std::string> sockets;
  for (const auto& entry : std::filesystem::directory_iterator(fmt::format("/proc/{}/fd", pid))) {
    std::error_code ignored;
    auto target = std::filesystem::read_symlink(entry.path(), ignored).string();
    if (target.starts_with("socket:")) {
      sockets.insert(target);
    }
  }
  return sockets;
}

TEST_F(daemon_test, an_engine_shares_no_socket_with_llmux) {
  // beta's engine starts while llmux listens and keeps a connection to alpha's engine: an
  // engine that inherited them would keep them open after llmux closed them.
  auto daemon = start_daemon({{"alpha", "offload+keep_running"}, {"beta"}},
                             R"("min_active_secs": 0)", {}, {"--upstream-idle-ms", "60000"});
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  ASSERT_EQ(daemon.chat_until_served("beta", 30s).status, 200);
  auto own = sockets_of(daemon.process->pid());
  ASSERT_FALSE(own.empty()); // at least the listening socket
  for (const auto& model : {"alpha", "beta"}) {
    auto pid = engine_pid(engine_port(model));
    ASSERT_GT(pid, 0) << model;
    std::set<std::string> shared;
    std::ranges::set_intersection(sockets_of(pid), own, std::inserter(shared, shared.end()));
    EXPECT_TRUE(shared.empty()) << model << " holds " << fmt::format("{}", fmt::join(shared, ","));
  }
}

TEST_F(daemon_test, one_client_connection_carries_requests_back_to_back) {
  auto daemon = start_daemon({{"alpha"}});
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  auto requests = chat_http_request("alpha", false) + chat_http_request("alpha", false)
                  + chat_http_request("alpha", true);
  auto received = daemon.raw_exchange(requests, 10s);
  EXPECT_EQ(answers_ok(received), 3u) << received;
  EXPECT_EQ(received.find("Transfer-Encoding"), std::string::npos) << received;
}

// A chat completion request for "alpha" with `prompt`, five tokens long.
std::string prompt_request(const std::string& prompt, bool stream, bool close) {
  auto body = fmt::format(R"({{"model":"alpha",{})",
                          chat_request(prompt, stream, R"(,"max_tokens":5)").substr(1));
  return chat_http_post(body, close);
}

// Every `"prompt_tokens":N` in `received`, in order.
std::vector<int> prompt_token_counts(const std::string& received) {
  std::vector<int> counts;
  std::string_view key = R"("prompt_tokens":)";
  for (auto at = received.find(key); at != std::string::npos; at = received.find(key, at + 1)) {
    counts.push_back(std::stoi(received.substr(at + key.size())));
  }
  return counts;
}

// The response heads in `received`, in order.
std::vector<std::string> response_heads(const std::string& received) {
  std::vector<std::string> heads;
  for (auto at = received.find("HTTP/1.1 "); at != std::string::npos;
       at = received.find("HTTP/1.1 ", at + 1)) {
    heads.push_back(received.substr(at, received.find("\r\n\r\n", at) - at));
  }
  return heads;
}

// A connection's requests are read into the memory of the one before, and its relays build their
// heads in memory the connection keeps: nothing of a longer request, or of an answer with other
// framing, carries over into the next.
TEST_F(daemon_test, a_connections_requests_carry_nothing_over_from_the_one_before) {
  auto daemon = start_daemon({{"alpha"}});
  std::string long_prompt;
  for (int word = 0; word < 400; ++word) {
    long_prompt += fmt::format("word{} ", word);
  }
  // What the engine counts for each prompt sent alone.
  std::vector<int> alone;
  for (const auto* prompt : {long_prompt.c_str(), "Hi", "Hello there"}) {
    auto counts
      = prompt_token_counts(daemon.raw_exchange(prompt_request(prompt, false, true), 10s));
    ASSERT_EQ(counts.size(), 1u);
    alone.push_back(counts[0]);
  }
  ASSERT_GT(alone[0], alone[1]);
  auto received = daemon.raw_exchange(
    prompt_request(long_prompt, false, false) + prompt_request("Hi", false, false)
      + prompt_request(long_prompt, true, false) + prompt_request("Hello there", false, true),
    20s);
  // The streamed answer reports no usage: the other three, in order, as alone.
  EXPECT_EQ(prompt_token_counts(received), alone) << received;
  auto heads = response_heads(received);
  ASSERT_EQ(heads.size(), 4u) << received;
  for (auto i : {0, 1, 3}) {
    EXPECT_NE(heads[i].find("Content-Length: "), std::string::npos) << heads[i];
    EXPECT_EQ(heads[i].find("Transfer-Encoding"), std::string::npos) << heads[i];
    EXPECT_EQ(heads[i].find("text/event-stream"), std::string::npos) << heads[i];
  }
  EXPECT_NE(heads[2].find("Transfer-Encoding: chunked"), std::string::npos) << heads[2];
  EXPECT_NE(heads[2].find("text/event-stream"), std::string::npos) << heads[2];
  EXPECT_NE(heads[3].find("Connection: close"), std::string::npos) << heads[3];
}

// A chat completion for "alpha" of exactly `tokens` tokens, closing the connection after it.
std::string long_chat(int tokens, bool stream) {
  auto body = fmt::format(R"({{"model":"alpha",{})",
                          chat_request("Hello there", stream,
                                       fmt::format(R"(,"max_tokens":{},"ignore_eos":true)", tokens))
                            .substr(1));
  return chat_http_post(body, true);
}

// Sends `request` on a new connection with a 4 KB receive buffer and reads the answer
// `per_ms` bytes a millisecond until llmux closes the connection (at most a minute).
std::string read_slowly(std::uint16_t port, const std::string& request, std::size_t per_ms) {
  std::string response;
  int fd = connect_with_small_window(port);
  if (fd < 0) {
    return response;
  }
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL)
      != static_cast<ssize_t>(request.size())) {
    ::close(fd);
    return response;
  }
  std::vector<char> piece(per_ms);
  auto until = std::chrono::steady_clock::now() + 60s;
  for (;;) {
    auto got = ::recv(fd, piece.data(), piece.size(), 0);
    if (got <= 0 || std::chrono::steady_clock::now() > until) {
      break;
    }
    response.append(piece.data(), static_cast<std::size_t>(got));
    std::this_thread::sleep_for(1ms);
  }
  ::close(fd);
  return response;
}

// The body of a chunked HTTP/1.1 response (`response` whole: head, chunks, last chunk), or
// "<bad framing>".
std::string dechunked(const std::string& response) {
  auto at = response.find("\r\n\r\n");
  if (at == std::string::npos) {
    return "<bad framing>";
  }
  at += 4;
  std::string body;
  for (;;) {
    auto line_end = response.find("\r\n", at);
    if (line_end == std::string::npos) {
      return "<bad framing>";
    }
    auto size = std::stoul(response.substr(at, line_end - at), nullptr, 16);
    at = line_end + 2;
    if (size == 0) {
      return response.compare(at, std::string::npos, "\r\n") == 0 ? body : "<bad framing>";
    }
    if (response.size() < at + size + 2 || response.compare(at + size, 2, "\r\n") != 0) {
      return "<bad framing>";
    }
    body.append(response, at, size);
    at += size + 2;
  }
}

// A client that reads a fast stream slowly through a small receive buffer: llmux's writes to it
// wait for room, the engine's events pile up in between, and every event still arrives whole
// and in order.
TEST_F(daemon_test, a_slow_reader_gets_every_event_of_a_fast_stream_whole) {
  auto daemon
    = start_daemon({{"alpha", "offload+keep_running", {"--mock-tokens-per-sec", "20000"}}});
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  constexpr int tokens = 3000;
  auto began = std::chrono::steady_clock::now();
  auto response = read_slowly(daemon.port, long_chat(tokens, true), 1024);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now()
                                                                    - began);
  ASSERT_TRUE(response.starts_with("HTTP/1.1 200 OK\r\n")) << response.substr(0, 300);
  auto events = dechunked(response);
  // How far an unfinished stream got, and how long it took, tell a stall from a slow trickle.
  ASSERT_NE(events, "<bad framing>")
    << response.size() << " bytes in " << took.count() << " ms; the last of them: "
    << response.substr(response.size() > 300 ? response.size() - 300 : 0);
  // The role's event, one per token, then [DONE]: each whole JSON, in order.
  simdjson::dom::parser parser;
  int json_events = 0;
  bool done = false;
  std::size_t at = 0;
  while (at < events.size()) {
    auto end = events.find("\n\n", at);
    ASSERT_NE(end, std::string::npos) << events.substr(at, 300);
    auto event = events.substr(at, end - at);
    at = end + 2;
    ASSERT_TRUE(event.starts_with("data: ")) << event;
    ASSERT_FALSE(done) << "an event after [DONE]: " << event;
    auto data = event.substr(6);
    if (data == "[DONE]") {
      done = true;
      continue;
    }
    simdjson::dom::element chunk;
    ASSERT_EQ(parser.parse(data).get(chunk), simdjson::SUCCESS) << data;
    ++json_events;
  }
  EXPECT_TRUE(done);
  EXPECT_EQ(json_events, tokens + 1);
}

// A long answer (about 6 MB, more than the kernel buffers between llmux and a client that
// reads slowly): llmux's writes of the engine's large reads go out in parts, and the body
// arrives whole.
TEST_F(daemon_test, a_slow_reader_gets_a_long_answer_whole) {
  auto daemon
    = start_daemon({{"alpha", "offload+keep_running", {"--mock-tokens-per-sec", "10000000"}}});
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  constexpr int tokens = 1000000;
  auto response = read_slowly(daemon.port, long_chat(tokens, false), 8192);
  ASSERT_TRUE(response.starts_with("HTTP/1.1 200 OK\r\n")) << response.substr(0, 300);
  auto head_end = response.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos);
  auto answer = response.substr(head_end + 4);
  EXPECT_GT(answer.size(), 4'500'000u);
  // Every byte the head announced, no more (words dropped from the middle would still leave
  // valid JSON).
  auto length_at = response.find("Content-Length: ");
  ASSERT_LT(length_at, head_end) << response.substr(0, head_end);
  EXPECT_EQ(answer.size(), std::stoul(response.substr(length_at + 16)));
  simdjson::dom::parser parser;
  simdjson::dom::element completion;
  ASSERT_EQ(parser.parse(answer).get(completion), simdjson::SUCCESS) << answer.substr(0, 300);
  EXPECT_EQ(number_at(completion["usage"]["completion_tokens"]),
            static_cast<std::uint64_t>(tokens));
}

// HEAD is answered wherever GET is, with GET's head and no body, and the connection carries on:
// a body after a HEAD answer would be read as the next response. Other methods get 405 with the
// methods the path allows.
TEST_F(daemon_test, llmux_paths_answer_head_like_get_without_a_body) {
  auto daemon = start_daemon({{"alpha"}});
  auto received = daemon.raw_exchange("HEAD /health HTTP/1.1\r\nHost: llmux\r\n\r\n"
                                      "HEAD /v1/models HTTP/1.1\r\nHost: llmux\r\n\r\n"
                                      "DELETE /health HTTP/1.1\r\nHost: llmux\r\n\r\n"
                                      "GET /health HTTP/1.1\r\nHost: llmux\r\n"
                                      "Connection: close\r\n\r\n",
                                      10s);
  auto health_head = received.find("HTTP/1.1 200 OK\r\n");
  ASSERT_NE(health_head, std::string::npos) << received;
  auto models_head = received.find("\r\n\r\n", health_head) + 4;
  // The first answer ends with its head: the second begins right after it.
  EXPECT_TRUE(received.substr(models_head).starts_with("HTTP/1.1 200 OK\r\n")) << received;
  EXPECT_NE(received.substr(health_head, models_head - health_head).find("Content-Length: 15\r\n"),
            std::string::npos)
    << received;
  auto refused = received.find("\r\n\r\n", models_head) + 4;
  EXPECT_TRUE(received.substr(refused).starts_with("HTTP/1.1 405 Method Not Allowed\r\n"))
    << received;
  EXPECT_NE(received.find("Allow: GET, HEAD\r\n", refused), std::string::npos) << received;
  EXPECT_EQ(received.find(R"("object":"list")"), std::string::npos) << received;
  // Only the last answer, to GET, carries the health body.
  auto body = received.find(R"({"status":"ok"})");
  ASSERT_NE(body, std::string::npos) << received;
  EXPECT_EQ(received.find(R"({"status":"ok"})", body + 1), std::string::npos) << received;
  EXPECT_GT(body, received.rfind("HTTP/1.1 200 OK\r\n")) << received;
}

// A forwarded HEAD gets the engine's head and nothing more: llmux does not wait for the body the
// head's Content-Length announces (none comes), and the connection carries on at once.
TEST_F(daemon_test, a_forwarded_head_request_ends_with_the_engines_head) {
  auto daemon = start_daemon({{"alpha"}}, R"("min_active_secs": 0)",
                             R"("timeouts": {"engine_idle_timeout_secs": 60})");
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  auto received = daemon.raw_exchange("HEAD /version HTTP/1.1\r\nHost: llmux\r\n"
                                      "Model-Override: alpha\r\n\r\n"
                                      "GET /health HTTP/1.1\r\nHost: llmux\r\n"
                                      "Connection: close\r\n\r\n",
                                      10s);
  // The engine answers HEAD where it answers GET: its 200 head, with the length its body would
  // have.
  ASSERT_TRUE(received.starts_with("HTTP/1.1 200")) << received;
  auto next = received.find("\r\n\r\n") + 4;
  EXPECT_NE(received.substr(0, next).find("Content-Length: "), std::string::npos) << received;
  EXPECT_EQ(received.find("version\":"), std::string::npos) << received; // no body
  EXPECT_TRUE(received.substr(next).starts_with("HTTP/1.1 200 OK\r\n")) << received;
  EXPECT_TRUE(received.ends_with(R"({"status":"ok"})")) << received;
}

// A method the engine's route does not take is refused by llmux as the engine would refuse it
// (405 with Allow), not read for a model first.
TEST_F(daemon_test, a_method_the_route_does_not_take_is_a_405_naming_the_ones_it_does) {
  auto daemon = start_daemon({{"alpha"}});
  auto get = http::http_request("GET", daemon.url("/v1/chat/completions"), {}, {}, 5s);
  EXPECT_EQ(get.status, 405) << get.body;
  EXPECT_NE(get.body.find("/v1/chat/completions does not allow GET"), std::string::npos)
    << get.body;
  auto received = daemon.raw_exchange("POST /version HTTP/1.1\r\nHost: llmux\r\n"
                                      "Content-Length: 0\r\n\r\n"
                                      "PUT /ping HTTP/1.1\r\nHost: llmux\r\nContent-Length: 0\r\n"
                                      "Connection: close\r\n\r\n",
                                      10s);
  EXPECT_TRUE(received.starts_with("HTTP/1.1 405")) << received;
  EXPECT_NE(received.find("Allow: GET, HEAD\r\n"), std::string::npos) << received;
  EXPECT_NE(received.find("Allow: GET, HEAD, POST\r\n"), std::string::npos) << received;
  auto ping = http::http_request("POST", daemon.url("/ping"), {}, {}, 5s);
  EXPECT_EQ(ping.status, 200) << ping.body;
}

// An engine that sends a body with its answer to HEAD anyway (mock-vllm's body_on_head fault):
// the connection it came on is not kept, so that body is not read as the next request's answer.
TEST_F(daemon_test, an_engine_connection_that_answered_head_is_not_reused) {
  auto daemon
    = start_daemon({{"alpha", "offload+keep_running", {"--mock-faults", "body_on_head=50"}}});
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  auto head = daemon.raw_exchange("HEAD /version HTTP/1.1\r\nHost: llmux\r\n"
                                  "Model-Override: alpha\r\nConnection: close\r\n\r\n",
                                  10s);
  ASSERT_TRUE(head.starts_with("HTTP/1.1 200")) << head;
  EXPECT_EQ(head.find("version\":"), std::string::npos) << head; // no body relayed
  // At once, while the engine's late body is on its way.
  for (int i = 0; i < 3; ++i) {
    auto answer = daemon.chat("alpha");
    EXPECT_EQ(answer.status, 200) << answer.body;
  }
}

// An engine that sends interim answers (100 Continue, 103 Early Hints) before its final ones,
// as a client must accept unasked: llmux reads past them and relays only the final answers, each
// to its own request (three on one client connection, a stream among them), and the engine
// connection stays fit for the next request.
TEST_F(daemon_test, an_engines_interim_answers_are_read_past_not_relayed) {
  auto daemon
    = start_daemon({{"alpha", "offload+keep_running", {"--mock-faults", "interim_answers=3"}}});
  std::string long_prompt;
  for (int word = 0; word < 100; ++word) {
    long_prompt += fmt::format("word{} ", word);
  }
  auto received = daemon.raw_exchange(prompt_request(long_prompt, false, false)
                                        + prompt_request("Hi", true, false)
                                        + prompt_request("Hello there", false, true),
                                      20s);
  auto heads = response_heads(received);
  ASSERT_EQ(heads.size(), 3u) << received;
  for (const auto& head : heads) {
    EXPECT_TRUE(head.starts_with("HTTP/1.1 200 OK\r\n")) << head;
  }
  EXPECT_EQ(received.find("hints.css"), std::string::npos) << received;
  EXPECT_NE(heads[1].find("text/event-stream"), std::string::npos) << heads[1];
  EXPECT_NE(received.find("data: [DONE]"), std::string::npos) << received;
  // The two answers with usage, in their requests' order: the long prompt's first.
  auto counts = prompt_token_counts(received);
  ASSERT_EQ(counts.size(), 2u) << received;
  EXPECT_GT(counts[0], counts[1]) << received;
  auto after = daemon.chat("alpha");
  EXPECT_EQ(after.status, 200) << after.body;
}

// For an engine whose first answer is spoiled (one of mock-vllm's faults): that request gets an
// OpenAI-shaped 502 that says `what`, and the next request its answer.
void expect_a_502_saying_then_an_answer(const running_daemon& daemon, std::string_view what) {
  auto spoiled = daemon.chat("alpha");
  EXPECT_EQ(spoiled.status, 502) << spoiled.body;
  EXPECT_NE(spoiled.body.find(what), std::string::npos) << spoiled.body;
  EXPECT_NE(spoiled.body.find(R"("error")"), std::string::npos) << spoiled.body;
  auto next = daemon.chat("alpha");
  EXPECT_EQ(next.status, 200) << next.body;
}

// An engine that answers 101 Switching Protocols, which llmux never asks for: no 101 relayed.
TEST_F(daemon_test, an_engine_that_switches_protocols_unasked_answers_502) {
  auto daemon
    = start_daemon({{"alpha", "offload+keep_running", {"--mock-faults", "switch_protocols=1"}}});
  expect_a_502_saying_then_an_answer(daemon, "switched protocols (101) unasked");
}

// An engine whose answer no client may accept (Content-Length and chunked at once): the 502
// names a malformed answer, not a closed connection.
TEST_F(daemon_test, an_engines_malformed_answer_is_a_502_that_says_so) {
  auto daemon
    = start_daemon({{"alpha", "offload+keep_running", {"--mock-faults", "both_framings=1"}}});
  expect_a_502_saying_then_an_answer(daemon, "sent a malformed answer");
}

// A request that waits for a switch lets go of its connection's coroutines while it waits (the
// connection is parked with it) and takes the connection up again: pipelined requests behind it
// are answered in order on the same connection.
TEST_F(daemon_test, a_connection_whose_request_waits_for_a_switch_carries_on_after_it) {
  auto daemon = start_daemon({{"alpha"}, {"beta"}});
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  // The last one asks to close, which ends the exchange.
  auto requests = chat_http_request("beta", false) + chat_http_request("alpha", false)
                  + chat_http_request("beta", true);
  auto received = daemon.raw_exchange(requests, 30s);
  std::vector<std::string> models;
  for (auto at = received.find("\"model\":\"org/"); at != std::string::npos;
       at = received.find("\"model\":\"org/", at + 1)) {
    auto start = at + std::string_view("\"model\":\"org/").size();
    auto model = received.substr(start, received.find('"', start) - start);
    models.push_back(model);
  }
  EXPECT_EQ(models, (std::vector<std::string>{"beta", "alpha", "beta"})) << received;
  EXPECT_EQ(answers_ok(received), 3u) << received;
  simdjson::dom::parser parser;
  EXPECT_EQ(number_at(daemon.status(parser)["switches"]), 4u);
}

// Whether `received` holds a whole answer: its head and Content-Length bytes of body.
bool whole_answer(const std::string& received) {
  auto head_end = received.find("\r\n\r\n");
  auto field = received.find("Content-Length: ");
  if (head_end == std::string::npos || field == std::string::npos || field > head_end) {
    return false;
  }
  return received.size() >= head_end + 4 + std::stoul(received.substr(field + 16));
}

// A keep-alive connection whose request waited for a switch (its connection parked meanwhile)
// serves a request that comes after an idle spell, in pieces, and a connection left idle after
// its answer is closed quietly (no 408) at its idle deadline.
TEST_F(daemon_test, a_keep_alive_connection_is_served_after_idle_spells_and_closed_quietly) {
  auto daemon = start_daemon({{"alpha"}, {"beta"}}, R"("min_active_secs": 0)",
                             R"("timeouts": {"client_idle_timeout_secs": 2})");
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  int fd = connect_loopback(daemon.port);
  ASSERT_GE(fd, 0);
  auto send_all = [fd](std::string_view bytes) {
    return ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL)
           == static_cast<ssize_t>(bytes.size());
  };
  ASSERT_TRUE(send_all(chat_http_request("beta", false)));
  auto first = read_until(fd, 30s, whole_answer);
  EXPECT_EQ(answers_ok(first.received), 1u) << first.received;
  std::this_thread::sleep_for(700ms);
  for (std::string_view piece : {"GET /health HTTP/1.1\r\n", "Host: x\r\n\r\n"}) {
    ASSERT_TRUE(send_all(piece));
    std::this_thread::sleep_for(300ms);
  }
  auto last_sent = std::chrono::steady_clock::now();
  auto answers = read_until_closed(fd, 10s);
  EXPECT_TRUE(answers.closed);
  EXPECT_EQ(answers_ok(answers.received), 1u) << answers.received;
  EXPECT_EQ(answers.received.find("HTTP/1.1 408"), std::string::npos) << answers.received;
  EXPECT_GE(std::chrono::steady_clock::now() - last_sent, 1500ms); // not before its deadline
  ::close(fd);
}

// A client that shuts down its sending side right after its first request gets the answer and
// then the connection's end at once, not at the idle deadline (60 s): the request and the
// half-close often come in one epoll event, taken before the connection's first read begins
// (in some of the connections, not all: drained_read_test shows the mechanism every time).
TEST_F(daemon_test, a_client_that_half_closes_after_its_first_request_is_answered_and_closed) {
  auto daemon = start_daemon({{"alpha"}}, R"("min_active_secs": 0)");
  for (int i = 0; i < 100; ++i) { // the event is taken first in some of them, not all
    int fd = connect_loopback(daemon.port);
    ASSERT_GE(fd, 0);
    std::string_view request = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
    ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(request.size()));
    ::shutdown(fd, SHUT_WR);
    auto answer = read_until_closed(fd, 10s);
    ::close(fd);
    ASSERT_TRUE(answer.closed) << "connection " << i << " still open after 10 s";
    ASSERT_EQ(answers_ok(answer.received), 1u) << answer.received;
  }
}

// In a crowd (1,000 connections or more) an idle keep-alive connection holds no coroutine
// frame and lets go of the memory it kept for its next request: that request is served all the
// same.
TEST_F(daemon_test, keep_alive_clients_in_a_crowd_are_served_again_after_an_idle_spell) {
  constexpr int clients = 1050;
  rlimit files{};
  ::getrlimit(RLIMIT_NOFILE, &files);
  if (files.rlim_max < 2 * clients + 100) {
    GTEST_SKIP() << "needs " << 2 * clients + 100 << " file descriptors";
  }
  files.rlim_cur = files.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &files);
  auto daemon = start_daemon({{"alpha"}}, R"("min_active_secs": 0)");
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  std::vector<int> fds;
  for (int i = 0; i < clients; ++i) {
    fds.push_back(connect_loopback(daemon.port));
    ASSERT_GE(fds.back(), 0);
  }
  // Each asks once and keeps its connection; then, all of them idle, each asks again.
  for (bool last : {false, true}) {
    auto request = chat_http_request("alpha", last);
    for (int fd : fds) {
      ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL),
                static_cast<ssize_t>(request.size()));
    }
    std::size_t answered = 0;
    for (int fd : fds) {
      answered += answers_ok(last ? read_until_closed(fd, 30s).received
                                  : read_until(fd, 30s, whole_answer).received);
    }
    EXPECT_EQ(answered, static_cast<std::size_t>(clients));
  }
  for (int fd : fds) {
    ::close(fd);
  }
  simdjson::dom::parser parser;
  EXPECT_EQ(number_at(daemon.status(parser)["models"]["alpha"]["in_flight"]), 0u);
}

// A lease taken at once is held by the client connection, not by a coroutine frame: it must
// end with its request, not with the connection. Here the connection stays open after an
// immediate request; the next one on it needs a switch, whose drain waits for that lease (and
// would cut it after the drain timeout, 1 s here, if it were still held).
TEST_F(daemon_test, an_immediate_lease_ends_with_its_request_not_with_its_connection) {
  auto daemon = start_daemon({{"alpha"}, {"beta"}}, R"("min_active_secs": 0)",
                             R"("timeouts": {"drain_timeout_secs": 1})");
  ASSERT_EQ(daemon.chat("alpha").status, 200); // alpha serves: the next alpha is immediate
  auto requests = chat_http_request("alpha", false) + chat_http_request("beta", false)
                  + chat_http_request("alpha", true);
  auto received = daemon.raw_exchange(requests, 30s);
  EXPECT_EQ(answers_ok(received), 3u) << received;
  simdjson::dom::parser parser;
  auto status = daemon.status(parser);
  EXPECT_EQ(number_at(status["switches"]), 3u);
  for (const char* model : {"alpha", "beta"}) {
    EXPECT_EQ(number_at(status["models"][model]["leases_cut"]), 0u) << model;
    EXPECT_EQ(number_at(status["models"][model]["in_flight"]), 0u) << model;
  }
}

// With several io threads each connection stays on the thread that accepted it (the first
// thread accepts for all, in turn), and so do its engine connections and waits: many keep-alive
// clients at once, some of whose requests wait for a switch, all get every answer.
TEST_F(daemon_test, two_io_threads_serve_keep_alive_clients_through_a_switch) {
  auto daemon
    = start_daemon({{"alpha"}, {"beta"}}, R"("min_active_secs": 0)", {}, {"--io-threads", "2"});
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  std::vector<std::future<std::string>> clients;
  for (int client = 0; client < 24; ++client) {
    // Two thirds ask for alpha only; the rest need beta at the end (a switch, and back).
    bool switches = client % 3 == 2;
    auto requests = chat_http_request("alpha", false) + chat_http_request("alpha", false)
                    + chat_http_request(switches ? "beta" : "alpha", true);
    clients.push_back(std::async(
      std::launch::async, [&daemon, requests] { return daemon.raw_exchange(requests, 30s); }));
  }
  for (auto& client : clients) {
    auto received = client.get();
    EXPECT_EQ(answers_ok(received), 3u) << received;
  }
  simdjson::dom::parser parser;
  auto status = daemon.status(parser);
  for (const char* model : {"alpha", "beta"}) {
    EXPECT_EQ(number_at(status["models"][model]["in_flight"]), 0u) << model;
    EXPECT_EQ(number_at(status["models"][model]["leases_cut"]), 0u) << model;
  }
  EXPECT_GE(number_at(status["switches"]), 2u);
}

// vLLM's audio endpoints take a multipart form, as the openai clients send it: `fields` (name,
// value) in order, then the audio file.
constexpr std::string_view form_boundary = "form-data-boundary-c0ffee";

std::string audio_form(const std::vector<std::pair<std::string, std::string>>& fields,
                       std::string_view audio) {
  std::string body;
  for (const auto& [name, value] : fields) {
    body += fmt::format("--{}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n{}\r\n",
                        form_boundary, name, value);
  }
  body += fmt::format("--{}\r\nContent-Disposition: form-data; name=\"file\"; "
                      "filename=\"speech.wav\"\r\nContent-Type: audio/wav\r\n\r\n{}\r\n--{}--\r\n",
                      form_boundary, audio, form_boundary);
  return body;
}

http::http_result post_form(const std::string& url, const std::string& body) {
  return http::http_request(
    "POST", url, body,
    {fmt::format("Content-Type: multipart/form-data; boundary={}", form_boundary)});
}

// Audio bytes with line ends, a JSON "model" and a near-delimiter in them: content, not form.
constexpr std::string_view audio
  = "RIFF\x24\x08WAVEfmt \r\n--form-data-boundary\r\n{\"model\":\"alpha\"}\r\n\xff\xfe";

TEST_F(daemon_test, an_audio_form_goes_to_the_model_its_field_names_renamed_for_the_engine) {
  auto daemon = start_daemon({{"alpha"}, {"beta"}});
  std::string sound(audio);
  auto answer = post_form(daemon.url("/v1/audio/transcriptions"),
                          audio_form({{"model", "beta"}, {"language", "en"}}, sound));
  // The engine answers 404 to a model it does not serve: it got its own name, org/beta.
  ASSERT_EQ(answer.status, 200) << answer.body;
  simdjson::dom::parser parser;
  auto text = std::string(text_at(parse_json(parser, answer.body)["text"]));
  EXPECT_FALSE(text.empty()) << answer.body;
  EXPECT_EQ(text_at(daemon.status(parser)["active"]), "beta");
  // The file reached the engine whole: it answers the same to the same audio sent directly.
  auto direct
    = post_form(fmt::format("http://127.0.0.1:{}/v1/audio/transcriptions", engine_port("beta")),
                audio_form({{"model", "org/beta"}}, sound));
  ASSERT_EQ(direct.status, 200) << direct.body;
  EXPECT_EQ(text_at(parse_json(parser, direct.body)["text"]), text);
  // A repeated field counts as the engine counts it: the last one.
  auto last = post_form(daemon.url("/v1/audio/translations"),
                        audio_form({{"model", "beta"}, {"model", "alpha"}}, sound));
  EXPECT_EQ(last.status, 200) << last.body;
  EXPECT_EQ(text_at(daemon.status(parser)["active"]), "alpha");
}

TEST_F(daemon_test, audio_forms_without_a_usable_model_get_openai_errors) {
  auto daemon = start_daemon({{"alpha"}});
  auto url = daemon.url("/v1/audio/transcriptions");
  auto nameless = post_form(url, audio_form({{"language", "en"}}, audio));
  EXPECT_EQ(nameless.status, 400) << nameless.body;
  EXPECT_NE(nameless.body.find(R"("param":"model")"), std::string::npos) << nameless.body;
  auto unknown = post_form(url, audio_form({{"model", "gamma"}}, audio));
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  auto cut = audio_form({{"model", "alpha"}}, audio);
  cut.resize(cut.size() - 20); // no close delimiter
  auto unreadable = post_form(url, cut);
  EXPECT_EQ(unreadable.status, 400) << unreadable.body;
  EXPECT_NE(unreadable.body.find("not multipart/form-data: the form has no close delimiter"),
            std::string::npos)
    << unreadable.body;
  // The model-override header names the model without the body's help.
  auto by_header = http::http_request(
    "POST", url, audio_form({}, audio),
    {fmt::format("Content-Type: multipart/form-data; boundary={}", form_boundary),
     "model-override: alpha"});
  EXPECT_EQ(by_header.status, 200) << by_header.body;
}

TEST_F(daemon_test, a_streamed_audio_request_waiting_for_its_model_hears_keepalive_comments) {
  auto daemon
    = start_daemon({{"alpha", "offload+keep_running", {"--mock-start-ms", "2500"}}},
                   R"("min_active_secs": 0)", R"("timeouts": {"stream_keepalive_secs": 1})");
  auto body = audio_form({{"model", "alpha"}, {"stream", "true"}}, audio);
  auto received = daemon.raw_exchange(
    fmt::format("POST /v1/audio/transcriptions HTTP/1.1\r\nHost: llmux\r\nContent-Type: "
                "multipart/form-data; boundary={}\r\nContent-Length: {}\r\nConnection: "
                "close\r\n\r\n{}",
                form_boundary, body.size(), body),
    20s);
  EXPECT_TRUE(received.starts_with("HTTP/1.1 200 OK\r\n")) << received;
  EXPECT_NE(received.find(": waiting for alpha"), std::string::npos) << received;
  EXPECT_NE(received.find(R"("object":"transcription.chunk")"), std::string::npos) << received;
  EXPECT_NE(received.find("data: [DONE]"), std::string::npos) << received;
}

} // namespace
} // namespace llmux::testing_support
