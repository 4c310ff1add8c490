#include "tests/e2e/daemon.hpp"

#include <csignal>

#include <filesystem>
#include <fstream>
#include <functional>
#include <netinet/in.h>
#include <poll.h>
#include <sstream>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include <fmt/format.h>

namespace llmux::testing_support {

http::http_result running_daemon::chat(const std::string& model, bool stream,
                                       const std::string& extra) const {
  return http::http_request(
    "POST", url("/v1/chat/completions"),
    chat_request("Hello there", stream, fmt::format(R"(,"model":"{}"{})", model, extra)), {},
    std::chrono::seconds(60));
}

http::http_result running_daemon::chat_until_served(const std::string& model,
                                                    std::chrono::milliseconds bound,
                                                    bool stream) const {
  auto until = std::chrono::steady_clock::now() + bound;
  for (;;) {
    auto answer = chat(model, stream);
    if (answer.status == 200 || std::chrono::steady_clock::now() > until) {
      return answer;
    }
    std::this_thread::sleep_for(200ms);
  }
}

std::string running_daemon::raw_exchange(const std::string& bytes,
                                         std::chrono::milliseconds timeout, bool half_close) const {
  return exchange(bytes, timeout, half_close, {}, nullptr);
}

std::string running_daemon::raw_exchange_noting(const std::string& bytes,
                                                std::chrono::milliseconds timeout,
                                                std::string_view marker,
                                                std::atomic<bool>& arrived) const {
  return exchange(bytes, timeout, false, marker, &arrived);
}

std::string running_daemon::exchange(const std::string& bytes, std::chrono::milliseconds timeout,
                                     bool half_close, std::string_view marker,
                                     std::atomic<bool>* arrived) const {
  int fd = connect_loopback(port);
  if (fd < 0) {
    return {};
  }
  std::string received;
  if (::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size())) {
    if (half_close) {
      ::shutdown(fd, SHUT_WR);
    }
    received = read_until_closed(fd, timeout, marker, arrived).received;
  }
  ::close(fd);
  return received;
}

socket_read read_until(int fd, std::chrono::milliseconds timeout,
                       const std::function<bool(const std::string&)>& enough) {
  auto until = std::chrono::steady_clock::now() + timeout;
  socket_read read;
  char buffer[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      until - std::chrono::steady_clock::now());
    pollfd ready{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&ready, 1, static_cast<int>(left.count())) <= 0) {
      return read;
    }
    auto n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) {
      read.closed = true;
      return read;
    }
    read.received.append(buffer, static_cast<std::size_t>(n));
    if (enough(read.received)) {
      return read;
    }
  }
}

socket_read read_until_closed(int fd, std::chrono::milliseconds timeout, std::string_view marker,
                              std::atomic<bool>* arrived) {
  return read_until(fd, timeout, [&](const std::string& received) {
    if (arrived != nullptr && received.find(marker) != std::string::npos) {
      *arrived = true;
    }
    return false;
  });
}

std::string chat_http_post(const std::string& body, bool close) {
  return fmt::format("POST /v1/chat/completions HTTP/1.1\r\nHost: llmux\r\n"
                     "Content-Type: application/json\r\nContent-Length: {}\r\n{}\r\n{}",
                     body.size(), close ? "Connection: close\r\n" : "", body);
}

std::string chat_http_request(const std::string& model, bool close) {
  return chat_http_post(
    fmt::format(R"({{"model":"{}",{})", model, chat_request("Hello there").substr(1)), close);
}

double metric_sample(const std::string& text, const std::string& series) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.starts_with(series + " ")) {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return -1;
}

std::string fake_tool(const std::string& name) {
  return std::string(LLMUX_FAKES_BIN) + "/" + name;
}

std::string checkpoint_member(const std::string& images_dir, const std::string& more,
                              const std::string& criu, const std::string& cuda_checkpoint) {
  return fmt::format(
    R"("checkpoint": {{"criu_path": "{}", "cuda_checkpoint_path": "{}", "images_dir": "{}"{}}})",
    criu.empty() ? fake_tool("criu") : criu,
    cuda_checkpoint.empty() ? fake_tool("cuda-checkpoint") : cuda_checkpoint, images_dir,
    more.empty() ? "" : ", " + more);
}

std::string scrape_metrics(std::uint16_t port) {
  auto scraped = http::http_request("GET", fmt::format("http://127.0.0.1:{}/metrics", port));
  EXPECT_EQ(scraped.status, 200) << scraped.failure;
  return scraped.body;
}

std::string_view text_at(simdjson::dom::element element) {
  std::string_view text;
  return element.get_string().get(text) ? std::string_view{"<missing>"} : text;
}

std::uint64_t number_at(simdjson::dom::element element) {
  std::uint64_t number = 0;
  return element.get_uint64().get(number) ? 999999 : number;
}

namespace {

// The mock engines running now whose command line (arguments separated by NUL) holds
// `fragment`.
std::vector<pid_t> mock_engines_with(std::string_view fragment) {
  std::vector<pid_t> found;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    auto name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    std::string command_line;
    try {
      std::ifstream file(entry.path() / "cmdline");
      command_line.assign(std::istreambuf_iterator<char>(file), {});
    } catch (const std::ios_base::failure&) {
      continue; // the process ended while being read (libstdc++ throws ESRCH from underflow)
    }
    if (command_line.find("mock-vllm") != std::string::npos
        && command_line.find(fragment) != std::string::npos) {
      found.push_back(static_cast<pid_t>(std::stoi(name)));
    }
  }
  return found;
}

} // namespace

int connect_with_small_window(std::uint16_t port) {
  return connect_loopback(port, 4096);
}

int connect_loopback(std::uint16_t port, int receive_buffer) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (receive_buffer > 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

pid_t engine_pid(std::uint16_t port) {
  auto running = mock_engines_with(std::string("--port") + '\0' + std::to_string(port) + '\0');
  return running.empty() ? -1 : running.front();
}

simdjson::dom::element running_daemon::status(simdjson::dom::parser& parser) const {
  auto result = http::http_request("GET", url("/llmux/status"));
  EXPECT_EQ(result.status, 200) << result.failure;
  return parse_json(parser, result.body);
}

std::filesystem::path daemon_test::write_config(const std::vector<test_model>& models,
                                                const std::string& policy,
                                                const std::string& top_level) {
  std::string entries;
  for (const auto& model : models) {
    auto port = model.port != 0 ? model.port : engine_port(model.name);
    if (model.port != 0 && engine_port(model.name) == 0) {
      engine_ports_.emplace_back(model.name, port);
    } else if (port == 0) {
      port = free_port();
      engine_ports_.emplace_back(model.name, port);
    }
    std::vector<std::string> args{"--mock-profile", "fast"};
    args.insert(args.end(), model.mock_args.begin(), model.mock_args.end());
    std::string quoted;
    for (const auto& arg : args) {
      quoted += fmt::format("{}\"{}\"", quoted.empty() ? "" : ",", arg);
    }
    auto limit = model.max_concurrent_requests
                   ? fmt::format(R"(,"max_concurrent_requests":{})", *model.max_concurrent_requests)
                   : std::string{};
    for (std::size_t i = 0; i < model.api_keys.size(); ++i) {
      limit += fmt::format(R"({}"{}"{})", i == 0 ? R"(,"api_keys":[)" : ",", model.api_keys[i],
                           i + 1 == model.api_keys.size() ? "]" : "");
    }
    entries += fmt::format(R"({}"{}":{{"model_path":"org/{}","port":{},"eviction":"{}",)"
                           R"("extra_args":[{}]{}{}}})",
                           entries.empty() ? "" : ",", model.name, model.name, port, model.eviction,
                           quoted, limit, model.more.empty() ? "" : "," + model.more);
  }
  auto config_path = scratch_ / "llmux.json";
  // Metrics stay off unless the test configures them (the default port would collide).
  auto metrics
    = top_level.find("\"metrics_port\"") == std::string::npos ? R"(,"metrics_port":0)" : "";
  std::ofstream(config_path) << fmt::format(
    R"({{"models":{{{}}},"policy":{{{}}},"vllm_command":"{}"{}{}}})", entries, policy,
    LLMUX_MOCK_VLLM, metrics, top_level.empty() ? "" : "," + top_level);
  return config_path;
}

running_daemon daemon_test::start_daemon(const std::vector<test_model>& models,
                                         const std::string& policy, const std::string& top_level,
                                         const std::vector<std::string>& flags) {
  engine_ports_.clear();
  auto config_path = write_config(models, policy, top_level);
  running_daemon daemon;
  auto env = environment();
  env.push_back("LLMUX_LOG=info");
  env.insert(env.end(), daemon_env_.begin(), daemon_env_.end());
  std::vector<std::string> argv{LLMUX_DAEMON, "-c", config_path, "-p", "0", "--host", "127.0.0.1"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  daemon.process = std::make_unique<child_process>(argv, env);
  constexpr std::string_view marker = "model(s) on http://127.0.0.1:";
  auto serving = daemon.process->wait_for_text(marker, 20s);
  if (!serving) {
    ADD_FAILURE() << "llmux did not start serving; output:\n" << daemon.process->output();
    return daemon;
  }
  daemon.port
    = static_cast<std::uint16_t>(std::stoi(serving->substr(serving->find(marker) + marker.size())));
  // Logged before the proxy's line, so it is there by now.
  constexpr std::string_view admin_marker = "admin API on http://127.0.0.1:";
  if (auto admin = daemon.process->wait_for_text(admin_marker, 0s)) {
    daemon.admin_port = static_cast<std::uint16_t>(
      std::stoi(admin->substr(admin->find(admin_marker) + admin_marker.size())));
  }
  return daemon;
}

void daemon_test::TearDown() {
  // Restored engines carry `--mock-restore-from <images under this test's scratch>`.
  auto restored_here = std::string("--mock-restore-from") + '\0' + (scratch_ / "");
  for (auto pid : mock_engines_with(restored_here)) {
    ::kill(pid, SIGKILL);
  }
}

std::uint16_t daemon_test::engine_port(const std::string& model) const {
  for (const auto& [name, port] : engine_ports_) {
    if (name == model) {
      return port;
    }
  }
  return 0;
}

std::vector<int> daemon_test::engine_pids() {
  auto engines = run_tool("nvidia-smi", {"--query-compute-apps=pid", "--format=csv,noheader"});
  EXPECT_EQ(engines.status, 0) << engines.output;
  std::vector<int> pids;
  for (std::size_t at = 0; at < engines.output.size();) {
    auto end = engines.output.find('\n', at);
    pids.push_back(std::stoi(engines.output.substr(at, end - at)));
    at = end == std::string::npos ? engines.output.size() : end + 1;
  }
  return pids;
}

} // namespace llmux::testing_support
