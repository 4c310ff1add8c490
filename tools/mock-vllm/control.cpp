// The mock's control surface: vLLM's development-mode endpoints, the mock-only endpoints the
// fake cuda-checkpoint and criu drive, and the state and metrics views.

#include <unistd.h>

#include <boost/beast/http/status.hpp>
#include <fmt/format.h>

#include "config/json_writer.hpp"
#include "config/parsed.hpp"
#include "tools/mock-vllm/checkpoint_image.hpp"
#include "tools/mock-vllm/mock_server.hpp"

namespace llmux::tools::mock_vllm {

namespace http = beast::http;

namespace {

constexpr std::string_view json_type = "application/json";
constexpr std::string_view text_type = "text/plain; charset=utf-8";

// A cuda-checkpoint step moves the process's GPU memory over PCIe (~10 GiB/s) plus fixed costs.
double cuda_step_ms(double time_scale, double gpu_mib) {
  return time_scale * (500 + gpu_mib / 1024.0 / 10.0 * 1000);
}

} // namespace

net::awaitable<bool> mock_server::sleep(beast::tcp_stream& stream, const http_request& request,
                                        const query_list& query) {
  auto* level_text = find_query(query, "level");
  auto level = level_text ? config::parse_unsigned(*level_text) : std::optional<std::uint64_t>{1};
  // vLLM parses the level with int() (a failure is an unhandled 500); levels other than 1 and 2
  // are undefined there, so the mock refuses them the same way.
  if (!level || (*level != 1 && *level != 2)) {
    co_return co_await reply(stream, request, http::status::internal_server_error, text_type,
                             "Internal Server Error");
  }
  if (take_one(faults_.fail_sleep)) {
    co_return co_await reply(stream, request, http::status::internal_server_error, "", "");
  }
  if (!state_.is_sleeping()) {
    state_.sleep(static_cast<int>(*level));
    publish_state();
    auto hang = static_cast<double>(std::exchange(faults_.hang_sleep_ms, 0));
    co_await pause_for(timing_.sleep_ms(static_cast<int>(*level)) + hang);
    fmt::print("INFO: It took {:.2f} seconds to fall asleep.\n",
               timing_.sleep_ms(static_cast<int>(*level)) / 1000);
  }
  co_return co_await reply(stream, request, http::status::ok, "", "");
}

net::awaitable<bool> mock_server::wake_up(beast::tcp_stream& stream, const http_request& request,
                                          const query_list& query) {
  if (take_one(faults_.fail_wake)) {
    co_return co_await reply(stream, request, http::status::internal_server_error, "", "");
  }
  std::vector<std::string> tags;
  for (const auto& [key, value] : query) {
    if (key == "tags") {
      tags.push_back(value);
    }
  }
  if (state_.is_sleeping()) {
    auto hang = static_cast<double>(std::exchange(faults_.hang_wake_ms, 0));
    co_await pause_for(timing_.wake_ms(state_.save().weights_offloaded) + hang);
    if (!state_.wake(tags)) {
      fmt::print("WARNING: wake_up tags {} are not all asleep; nothing woken\n",
                 fmt::join(tags, ","));
    }
    publish_state();
    if (state_.can_serve()) {
      wake_waiters();
    }
  }
  co_return co_await reply(stream, request, http::status::ok, "", "");
}

net::awaitable<bool> mock_server::collective_rpc(beast::tcp_stream& stream,
                                                 const http_request& request) {
  auto method = parse_collective_rpc(request.body());
  if (!method) {
    request_error error{400, "Bad Request", method.error(), ""};
    co_return co_await reply_error(stream, request, error);
  }
  bool known = *method == "reload_weights" || *method == "suspend_nccl" || *method == "resume_nccl";
  bool injected_failure = *method == "reload_weights" && take_one(faults_.fail_reload);
  if (!known || injected_failure) {
    co_return co_await reply(stream, request, http::status::internal_server_error, text_type,
                             "Internal Server Error");
  }
  if (*method == "suspend_nccl" || *method == "resume_nccl") {
    state_.set_nccl_suspended(*method == "suspend_nccl");
    if (state_.can_serve()) {
      wake_waiters();
    }
  }
  if (*method == "reload_weights") {
    co_await pause_for(timing_.reload_ms());
    state_.reload_weights();
    fmt::print("INFO: Reloading weights inplace...\n");
  }
  std::string results = "null";
  for (std::uint64_t worker = 1; worker < opts_.tensor_parallel_size; ++worker) {
    results += ",null";
  }
  co_return co_await reply(stream, request, http::status::ok, json_type,
                           fmt::format(R"({{"results":[{}]}})", results));
}

net::awaitable<bool> mock_server::cuda(beast::tcp_stream& stream, const http_request& request,
                                       const query_list& query) {
  if (auto* action_text = find_query(query, "action")) {
    auto action = parse_cuda_action(*action_text);
    if (!action) {
      co_return co_await reply(stream, request, http::status::bad_request, json_type,
                               R"({"error":"action must be lock, checkpoint, restore or unlock"})");
    }
    double moved_mib = state_.gpu_used_mib() + state_.host_used_mib();
    if (*action == cuda_action::lock && communicators_active()) {
      co_return co_await reply(stream, request, http::status::conflict, json_type,
                               R"({"error":"NCCL communicators are active; suspend_nccl first"})");
    }
    if (auto error = state_.apply(*action)) {
      co_return co_await reply(stream, request, http::status::conflict, json_type,
                               fmt::format(R"({{"error":"{}"}})", *error));
    }
    if (*action == cuda_action::checkpoint || *action == cuda_action::restore) {
      co_await pause_for(cuda_step_ms(opts_.time_scale, moved_mib));
    }
    publish_state();
    if (state_.can_serve()) {
      wake_waiters();
    }
  }
  co_return co_await reply(stream, request, http::status::ok, json_type,
                           fmt::format(R"({{"state":"{}"}})", to_string(state_.cuda())));
}

net::awaitable<bool> mock_server::dump(beast::tcp_stream& stream, const http_request& request,
                                       const query_list& query) {
  auto* dir = find_query(query, "dir");
  if (dir == nullptr || dir->empty()) {
    co_return co_await reply(stream, request, http::status::bad_request, json_type,
                             R"({"error":"dir is required"})");
  }
  if (communicators_active()) {
    co_return co_await reply(stream, request, http::status::conflict, json_type,
                             R"({"error":"NCCL communicators are active; suspend_nccl first"})");
  }
  // A CRIU image holds the process's memory: what is on the GPU plus what sits in host memory.
  // The mock writes 1 MiB of image per GiB of emulated memory.
  double image_mib = state_.gpu_used_mib() + state_.host_used_mib();
  checkpoint_image image;
  image.executable = executable_;
  image.arguments = arguments_;
  for (char** variable = environ; *variable != nullptr; ++variable) {
    std::string_view entry = *variable;
    if (entry.starts_with("VLLM_") || entry.starts_with("MOCK_VLLM_")
        || entry.starts_with("LLMUX_MOCK_")) {
      image.environment.emplace_back(entry);
    }
  }
  image.port = port_;
  image.snapshot = state_.save();
  image.image_bytes = static_cast<std::uint64_t>(image_mib * 1024);
  image.restore_ms = timing_.criu_ms(image_mib);
  co_await pause_for(timing_.criu_ms(image_mib));
  if (auto error = write_checkpoint(*dir, image); !error.empty()) {
    co_return co_await reply(stream, request, http::status::internal_server_error, json_type,
                             fmt::format(R"({{"error":"{}"}})", error));
  }
  co_await reply(stream, request, http::status::ok, json_type,
                 fmt::format(R"({{"image_bytes":{}}})", image.image_bytes));
  // CRIU's dump ends the process tree.
  exit_now(0);
}

std::string mock_server::state_json() const {
  config::json_writer out(config::json_writer::layout::compact);
  out.begin_object();
  out.key("model");
  out.string(opts_.served_name());
  out.key("pid");
  out.integer(static_cast<std::uint64_t>(::getpid()));
  out.key("port");
  out.integer(port_);
  out.key("sleeping");
  out.boolean(state_.is_sleeping());
  out.key("sleep_level");
  out.integer(static_cast<std::uint64_t>(state_.sleep_level()));
  out.key("weights_valid");
  out.boolean(state_.weights_valid());
  out.key("cuda_state");
  out.string(to_string(state_.cuda()));
  out.key("nccl_suspended");
  out.boolean(state_.nccl_suspended());
  out.key("gpu_used_mib");
  out.real(state_.gpu_used_mib());
  out.key("host_used_mib");
  out.real(state_.host_used_mib());
  out.key("request_count");
  out.integer(request_count_);
  out.key("running");
  out.integer(running_);
  out.key("waiting");
  out.integer(waiting_);
  out.end_object();
  return out.str();
}

std::string mock_server::metrics_text() const {
  auto labels = fmt::format(R"(engine="0",model_name="{}")", opts_.served_name());
  std::string text;
  text += "# HELP vllm:engine_sleep_state Engine sleep state; awake = 0 means engine is "
          "sleeping; awake = 1 means engine is awake; weights_offloaded = 1 means sleep level "
          "1; discard_all = 1 means sleep level 2.\n# TYPE vllm:engine_sleep_state gauge\n";
  for (std::string_view label : {"awake", "weights_offloaded", "discard_all"}) {
    text += fmt::format("vllm:engine_sleep_state{{{},sleep_state=\"{}\"}} {}\n", labels, label,
                        state_.sleep_state_label() == label ? 1.0 : 0.0);
  }
  double usage = running_ > 0 ? 0.05 * static_cast<double>(running_) : 0.0;
  text += fmt::format(
    "# HELP vllm:num_requests_running Number of requests in model execution batches.\n"
    "# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{{{0}}} {1}\n"
    "# HELP vllm:num_requests_waiting Number of requests waiting to be processed.\n"
    "# TYPE vllm:num_requests_waiting gauge\nvllm:num_requests_waiting{{{0}}} {2}\n"
    "# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.\n"
    "# TYPE vllm:kv_cache_usage_perc gauge\nvllm:kv_cache_usage_perc{{{0}}} {3}\n"
    "# HELP vllm:prompt_tokens_total Number of prefill tokens processed.\n"
    "# TYPE vllm:prompt_tokens_total counter\nvllm:prompt_tokens_total{{{0}}} {4}\n"
    "# HELP vllm:generation_tokens_total Number of generation tokens processed.\n"
    "# TYPE vllm:generation_tokens_total counter\nvllm:generation_tokens_total{{{0}}} {5}\n",
    labels, static_cast<double>(running_), static_cast<double>(waiting_), std::min(usage, 1.0),
    static_cast<double>(prompt_tokens_total_), static_cast<double>(generation_tokens_total_));
  return text;
}

} // namespace llmux::tools::mock_vllm
