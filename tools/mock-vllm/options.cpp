#include "tools/mock-vllm/options.hpp"

#include <cstdlib>
#include <regex>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

namespace llmux::tools::mock_vllm {

namespace {

std::optional<sleeping_requests> parse_sleeping_requests(std::string_view text) {
  if (text == "queue") {
    return sleeping_requests::queue;
  }
  if (text == "crash") {
    return sleeping_requests::crash;
  }
  if (text == "reject") {
    return sleeping_requests::reject;
  }
  return std::nullopt;
}

// Applies one `name=value` fault item; returns an error message or nothing.
std::optional<std::string> apply_fault(fault_plan& plan, std::string_view name,
                                       std::uint64_t value) {
  auto count = static_cast<int>(value);
  if (name == "fail_sleep") {
    plan.fail_sleep = count;
  } else if (name == "fail_wake") {
    plan.fail_wake = count;
  } else if (name == "fail_reload") {
    plan.fail_reload = count;
  } else if (name == "hang_sleep") {
    plan.hang_sleep_ms = value;
  } else if (name == "hang_wake") {
    plan.hang_wake_ms = value;
  } else if (name == "crash_at_start") {
    plan.crash_at_start = value != 0;
  } else if (name == "crash_on_request") {
    plan.crash_on_request = value != 0;
  } else if (name == "crash_mid_stream") {
    plan.crash_mid_stream = count;
  } else if (name == "slow_start") {
    plan.slow_start_ms = value;
  } else if (name == "body_on_head") {
    plan.body_on_head_ms = value;
  } else if (name == "interim_answers") {
    plan.interim_answers = count;
  } else if (name == "switch_protocols") {
    plan.switch_protocols = count;
  } else if (name == "both_framings") {
    plan.both_framings = count;
  } else {
    return fmt::format("unknown fault '{}'; faults: fail_sleep, fail_wake, fail_reload, "
                       "hang_sleep, hang_wake, crash_at_start, crash_on_request, "
                       "crash_mid_stream, slow_start, body_on_head, interim_answers, "
                       "switch_protocols, both_framings",
                       name);
  }
  return std::nullopt;
}

const char* environment(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : nullptr;
}

} // namespace

config::parsed<fault_plan> parse_faults(std::string_view text, fault_plan plan) {
  while (!text.empty()) {
    auto end = text.find_first_of(",&");
    auto item = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    if (item.empty()) {
      continue;
    }
    auto equals = item.find('=');
    auto name = item.substr(0, equals);
    std::uint64_t value = 1;
    if (equals != std::string_view::npos) {
      auto number = config::parse_unsigned(item.substr(equals + 1));
      if (!number) {
        return config::parsed<fault_plan>::failure(
          fmt::format("fault '{}' needs a whole number, got '{}'", name, item.substr(equals + 1)));
      }
      value = *number;
    }
    if (auto error = apply_fault(plan, name, value)) {
      return config::parsed<fault_plan>::failure(*error);
    }
  }
  return plan;
}

double weights_gib_from_name(std::string_view model) {
  static const std::regex parameters(R"((^|[^A-Za-z0-9.])(\d+(\.\d+)?)[Bb]($|[^A-Za-z0-9]))");
  std::match_results<std::string_view::const_iterator> match;
  if (std::regex_search(model.begin(), model.end(), match, parameters)) {
    return 2.0 * std::stod(match[2].str());
  }
  return 1.0;
}

std::variant<options, int> parse_options(int argc, const char* const* argv) {
  options opts;
  std::vector<std::string> positionals;
  std::string sleeping_mode = "queue";
  std::string faults_text;
  CLI::App app{"mock-vllm: a GPU-free stand-in for a vLLM OpenAI server, with vLLM's command line,"
               " HTTP API, sleep mode, timing and memory behaviour, and fault injection."};
  app.name("mock-vllm");
  app.allow_extras();
  app.footer(
    "Any other vLLM flag is accepted and ignored. Endpoints: the OpenAI API (/v1/chat/completions, "
    "/v1/completions, /v1/embeddings, /v1/audio/transcriptions, /v1/audio/translations, "
    "/v1/models), /health, /ping, /version, /metrics; with "
    "VLLM_SERVER_DEV_MODE=1 also /sleep, /wake_up, /is_sleeping, /collective_rpc, "
    "/reset_prefix_cache, /reset_mm_cache, /server_info. Mock-only control: GET /mock/state, "
    "POST /mock/faults?fail_sleep=1&..., POST /mock/cuda?action=lock|checkpoint|restore|unlock, "
    "POST /mock/dump?dir=D.\n"
    "Faults (--mock-faults, comma separated): fail_sleep=N, fail_wake=N, fail_reload=N, "
    "hang_sleep=MS, hang_wake=MS, crash_at_start, crash_on_request, crash_mid_stream=TOKENS, "
    "slow_start=MS, body_on_head=MS (HEAD answers carry their body, MS after the head), "
    "interim_answers=N (100 and 103 before the next N answers), switch_protocols=N (101 and "
    "close instead of the next N answers), both_framings=N (the next N answers carry "
    "Content-Length and chunked at once, then close).");
  app.add_option("command", positionals, "serve MODEL (vLLM's form)");
  app.add_option("--port", opts.port, "Port to listen on (0: any free port)")
    ->capture_default_str();
  app.add_option("--host", opts.host, "Address to listen on")->capture_default_str();
  app.add_option("--served-model-name", opts.served_model_names,
                 "Names clients may use (default: MODEL)");
  app
    .add_option("--gpu-memory-utilization", opts.gpu_memory_utilization,
                "Share of GPU memory the engine takes")
    ->capture_default_str();
  app.add_option("--tensor-parallel-size", opts.tensor_parallel_size, "Workers")
    ->capture_default_str();
  app.add_option("--max-model-len", opts.max_model_len, "Context length")->capture_default_str();
  app.add_flag("--enable-sleep-mode", opts.enable_sleep_mode,
               "Sleep frees memory (without it /sleep frees nothing, as in vLLM)");
  app.add_option("--api-key", opts.api_key, "Require 'Authorization: Bearer KEY' on /v1/*");
  app
    .add_option("--mock-profile", opts.profile,
                "realistic (vLLM-like durations, 50 tokens/s) or fast (durations x0.01, 1000 "
                "tokens/s)")
    ->envname("MOCK_VLLM_PROFILE")
    ->check(CLI::IsMember({"realistic", "fast"}))
    ->capture_default_str();
  auto* scale = app
                  .add_option("--mock-time-scale", opts.time_scale,
                              "Multiply every start/sleep/wake/reload/CRIU duration")
                  ->envname("MOCK_VLLM_TIME_SCALE");
  auto* rate = app.add_option("--mock-tokens-per-sec", opts.tokens_per_second, "Streaming speed")
                 ->envname("MOCK_VLLM_TOKENS_PER_SEC");
  auto* first_token
    = app.add_option("--mock-first-token-ms", opts.first_token_ms, "Time to the first token")
        ->envname("MOCK_VLLM_FIRST_TOKEN_MS");
  app
    .add_option("--mock-start-ms", opts.start_ms,
                "Cold-start time (default: 20 s + weights at 2 GiB/s, times the scale)")
    ->envname("MOCK_VLLM_START_MS");
  app
    .add_option("--mock-weights-gib", opts.weights_gib,
                "Model size (default: from the name, e.g. 8B -> 16 GiB; else 1 GiB)")
    ->envname("MOCK_VLLM_WEIGHTS_GIB");
  app
    .add_option("--mock-offload-gib-per-s", opts.offload_gib_per_s,
                "Level-1 sleep speed (weights to host)")
    ->envname("MOCK_VLLM_OFFLOAD_GIB_PER_S")
    ->capture_default_str();
  app
    .add_option("--mock-onload-gib-per-s", opts.onload_gib_per_s,
                "Level-1 wake speed (weights back to the GPU)")
    ->envname("MOCK_VLLM_ONLOAD_GIB_PER_S")
    ->capture_default_str();
  app.add_option("--mock-reload-gib-per-s", opts.reload_gib_per_s, "reload_weights speed")
    ->envname("MOCK_VLLM_RELOAD_GIB_PER_S")
    ->capture_default_str();
  app
    .add_option("--mock-criu-gib-per-s", opts.criu_gib_per_s,
                "CRIU dump and restore speed (of the emulated memory)")
    ->envname("MOCK_VLLM_CRIU_GIB_PER_S")
    ->capture_default_str();
  app.add_option("--mock-gpu-total-mib", opts.gpu_total_mib, "Emulated GPU memory")
    ->envname("MOCK_VLLM_GPU_TOTAL_MIB")
    ->capture_default_str();
  app
    .add_option("--mock-kv-per-request-mib", opts.kv_per_request_mib,
                "With kvcached (ENABLE_KVCACHED=true): KV cache each running request maps")
    ->capture_default_str();
  app
    .add_option("--mock-sleeping-requests", sleeping_mode,
                "Generation requests while asleep: queue (vLLM >= 0.17), crash (<= 0.16) or "
                "reject (503)")
    ->envname("MOCK_VLLM_SLEEPING_REQUESTS")
    ->check(CLI::IsMember({"queue", "crash", "reject"}))
    ->capture_default_str();
  app.add_flag("--mock-sse-timestamps", opts.sse_timestamps,
               "Start each streamed event with a comment line ': sent_ns=N' (monotonic clock)");
  app.add_option("--mock-faults", faults_text, "Faults to inject (see below)")
    ->envname("MOCK_VLLM_FAULTS");
  app
    .add_option("--mock-state-dir", opts.state_dir,
                "Where the emulated GPU state is published for the fake nvidia-smi, "
                "cuda-checkpoint and criu")
    ->envname("LLMUX_MOCK_GPU_DIR")
    ->capture_default_str();
  app.add_option("--mock-restore-from", opts.restore_from,
                 "Come back from the CRIU images in this directory (used by the fake criu)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (!positionals.empty()) {
    if (positionals.front() != "serve" || positionals.size() < 2) {
      fmt::print(stderr, "mock-vllm: expected 'serve MODEL', got '{}'\n", positionals.front());
      return 2;
    }
    opts.model = positionals[1];
  }
  if (opts.profile == "fast") {
    opts.time_scale
      = scale->count() > 0 || environment("MOCK_VLLM_TIME_SCALE") ? opts.time_scale : 0.01;
    opts.tokens_per_second = rate->count() > 0 || environment("MOCK_VLLM_TOKENS_PER_SEC")
                               ? opts.tokens_per_second
                               : 1000;
    opts.first_token_ms = first_token->count() > 0 || environment("MOCK_VLLM_FIRST_TOKEN_MS")
                            ? opts.first_token_ms
                            : 1;
  }
  opts.while_sleeping = *parse_sleeping_requests(sleeping_mode);
  auto faults = parse_faults(faults_text);
  if (!faults) {
    fmt::print(stderr, "mock-vllm: --mock-faults: {}\n", faults.error());
    return 2;
  }
  opts.faults = *faults;
  if (opts.weights_gib <= 0) {
    opts.weights_gib = weights_gib_from_name(opts.model);
  }
  const char* kvcached = environment("ENABLE_KVCACHED");
  opts.elastic_kv = kvcached != nullptr
                    && (std::string_view(kvcached) == "true" || std::string_view(kvcached) == "1");
  const char* dev_mode = environment("VLLM_SERVER_DEV_MODE");
  opts.dev_mode = dev_mode != nullptr && config::parse_unsigned(dev_mode).value_or(0) != 0;
  if (opts.tokens_per_second <= 0 || opts.time_scale < 0 || opts.offload_gib_per_s <= 0
      || opts.onload_gib_per_s <= 0 || opts.reload_gib_per_s <= 0 || opts.criu_gib_per_s <= 0) {
    fmt::print(stderr, "mock-vllm: speeds must be > 0 and --mock-time-scale >= 0\n");
    return 2;
  }
  return opts;
}

timing::timing(const options& opts) : opts_(opts), weights_gib_(opts.weights_gib) {
}

double timing::start_ms() const {
  double base
    = opts_.start_ms ? *opts_.start_ms : opts_.time_scale * (20000 + weights_gib_ / 2.0 * 1000);
  return base + static_cast<double>(opts_.faults.slow_start_ms);
}

double timing::sleep_ms(int level) const {
  // Level 1 copies the weights into pinned host memory (~0.9 GiB/s); level 2 just unmaps.
  return opts_.time_scale * (level == 1 ? weights_gib_ / opts_.offload_gib_per_s * 1000 : 300);
}

double timing::wake_ms(bool weights_offloaded) const {
  return opts_.time_scale
         * (60 + (weights_offloaded ? weights_gib_ / opts_.onload_gib_per_s * 1000 : 0));
}

double timing::reload_ms() const {
  return opts_.time_scale * weights_gib_ / opts_.reload_gib_per_s * 1000;
}

double timing::criu_ms(double image_mib) const {
  return opts_.time_scale * (2000 + image_mib / 1024.0 / opts_.criu_gib_per_s * 1000);
}

double timing::token_interval_ms() const {
  return 1000.0 / opts_.tokens_per_second;
}

double timing::first_token_ms() const {
  return opts_.first_token_ms;
}

} // namespace llmux::tools::mock_vllm
