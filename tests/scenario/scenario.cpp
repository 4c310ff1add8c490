#include "tests/scenario/scenario.hpp"

#include <csignal>
#include <fstream>
#include <future>
#include <thread>

#include <fmt/format.h>

namespace llmux::testing_support {

namespace {

std::uint64_t outstanding_requests(const running_daemon& daemon) {
  auto answer = http::http_request("GET", daemon.url("/llmux/status"));
  simdjson::dom::parser parser;
  simdjson::dom::object models;
  if (!answer.complete || parser.parse(answer.body).get_object()["models"].get(models)) {
    return 999999;
  }
  std::uint64_t total = 0;
  for (auto [name, model] : models) {
    std::uint64_t in_flight = 0;
    std::uint64_t waiting = 0;
    if (model["in_flight"].get(in_flight) || model["waiting"].get(waiting)) {
      return 999999;
    }
    total += in_flight + waiting;
  }
  return total;
}

} // namespace

void tally::add(ending how, long status) {
  std::lock_guard lock(mutex_);
  ++endings_[how];
  if (how == ending::clear_error) {
    ++errors_[status == 200 ? "in-stream" : std::to_string(status)];
  }
}

std::uint64_t tally::count(ending how) const {
  std::lock_guard lock(mutex_);
  auto it = endings_.find(how);
  return it == endings_.end() ? 0 : it->second;
}

std::uint64_t tally::sent() const {
  return count(ending::ok) + count(ending::clear_error) + count(ending::abandoned)
         + count(ending::lost);
}

std::string tally::line() const {
  std::string errors;
  {
    std::lock_guard lock(mutex_);
    for (auto [status, n] : errors_) {
      errors += fmt::format("{}{}:{}", errors.empty() ? "" : " ", status, n);
    }
  }
  return fmt::format("sent {}, ok {}, errors {}{}{}, abandoned {}, lost {}", sent(),
                     count(ending::ok), count(ending::clear_error), errors.empty() ? "" : " ",
                     errors.empty() ? "" : "(" + errors + ")", count(ending::abandoned),
                     count(ending::lost));
}

ending classify(const scenario_request& request, const http::http_result& result,
                std::chrono::steady_clock::duration took) {
  if (!result.complete) {
    bool gave_up = request.give_up < std::chrono::milliseconds(60000) && result.timed_out
                   && took >= request.give_up - std::chrono::milliseconds(50);
    return gave_up ? ending::abandoned : ending::lost;
  }
  bool has_error = result.body.find("\"error\"") != std::string::npos;
  if (result.status != 200) {
    return result.status >= 400 && has_error ? ending::clear_error : ending::lost;
  }
  if (request.stream) {
    bool done = result.body.find("data: [DONE]") != std::string::npos;
    if (!done) {
      return ending::lost;
    }
    return has_error ? ending::clear_error : ending::ok;
  }
  return result.body.find("\"choices\"") != std::string::npos ? ending::ok : ending::lost;
}

void scenario_test::run_wave(const running_daemon& daemon,
                             const std::vector<scenario_request>& requests, tally& counts,
                             const std::function<void()>& during) {
  std::vector<std::future<void>> clients;
  auto start = std::chrono::steady_clock::now();
  for (const auto& request : requests) {
    clients.push_back(std::async(std::launch::async, [&daemon, &counts, request, start] {
      std::this_thread::sleep_until(start + request.after);
      auto sent_at = std::chrono::steady_clock::now();
      auto result = http::http_request(
        "POST", daemon.url("/v1/chat/completions"),
        chat_request("Hello there", request.stream,
                     fmt::format(R"(,"model":"{}"{})", request.model, request.extra)),
        {}, request.give_up);
      auto how = classify(request, result, std::chrono::steady_clock::now() - sent_at);
      if (how == ending::lost) {
        ADD_FAILURE() << "lost: " << request.model << (request.stream ? " (stream)" : "") << ": "
                      << result.status << " " << result.failure << " "
                      << result.body.substr(0, 300);
      }
      counts.add(how, result.status);
    }));
  }
  if (during) {
    during();
  }
  for (auto& client : clients) {
    client.get();
  }
}

std::uint64_t scenario_test::rss_kb(const running_daemon& daemon) {
  std::ifstream status(fmt::format("/proc/{}/status", daemon.process->pid()));
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmRSS:")) {
      return std::stoull(line.substr(6));
    }
  }
  return 0;
}

void scenario_test::finish(const std::string& name, running_daemon& daemon, const tally& counts,
                           std::uint64_t rss_before_kb, std::uint64_t rss_slack_kb) {
  // Releases travel through the actors: give them a moment, bounded.
  auto leaked = outstanding_requests(daemon);
  eventually([&] { return (leaked = outstanding_requests(daemon)) == 0; }, 3s);
  auto rss_after_kb = rss_kb(daemon);
  std::vector<pid_t> engines;
  for (const auto& [model, port] : engine_ports_) {
    if (auto pid = engine_pid(port); pid > 0) {
      engines.push_back(pid);
    }
  }
  ::kill(daemon.process->pid(), SIGTERM);
  auto exit_status = daemon.process->wait_exit(60s);
  auto orphans = survivors(engines, 2s);
  auto grown = rss_after_kb > rss_before_kb ? rss_after_kb - rss_before_kb : 0;
  fmt::print("scenario {}: {}, leaked {}, orphans {}, rss {} -> {} KiB\n", name, counts.line(),
             leaked, orphans, rss_before_kb, rss_after_kb);
  EXPECT_EQ(counts.count(ending::lost), 0u) << name;
  EXPECT_EQ(leaked, 0u) << name;
  EXPECT_EQ(orphans, 0u) << name;
  EXPECT_EQ(exit_status, 0) << name;
  EXPECT_LE(grown, rss_slack_kb) << name;
}

std::size_t survivors(const std::vector<pid_t>& pids, std::chrono::milliseconds bound) {
  auto until = std::chrono::steady_clock::now() + bound;
  std::size_t alive = 0;
  for (auto pid : pids) {
    while (::kill(pid, 0) == 0 && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(10ms);
    }
    alive += ::kill(pid, 0) == 0 ? 1 : 0;
  }
  return alive;
}

std::vector<scenario_request> burst(const std::string& model, std::size_t count,
                                    std::chrono::milliseconds start, std::chrono::milliseconds gap,
                                    bool stream, const std::string& extra) {
  std::vector<scenario_request> requests;
  for (std::size_t i = 0; i < count; ++i) {
    requests.push_back({model, stream, extra, start + gap * static_cast<long>(i)});
  }
  return requests;
}

void append(std::vector<scenario_request>& requests, const std::vector<scenario_request>& more) {
  requests.insert(requests.end(), more.begin(), more.end());
}

} // namespace llmux::testing_support
