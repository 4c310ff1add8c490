// mock-vllm as a client sees it: start-up, the OpenAI API, SSE framing, dev-mode gating and the
// sleep-mode rules, checked with a real HTTP client against the real process.

#include <fstream>
#include <future>
#include <string_view>
#include <thread>

#include "tests/e2e/mock_engine.hpp"

namespace llmux::testing_support {
namespace {

using mock_vllm_test = mock_engine_test;

std::string_view string_at(simdjson::dom::element element) {
  std::string_view text;
  return element.get_string().get(text) ? std::string_view{"<missing>"} : text;
}

TEST_F(mock_vllm_test, refuses_connections_while_loading_then_is_healthy) {
  auto engine = start("org/Llama-3.1-8B", {"--mock-start-ms", "500"}, {}, false);
  auto early = engine.get("/health");
  EXPECT_FALSE(early.complete);
  EXPECT_NE(early.failure.find("(7)"), std::string::npos) << early.failure; // couldn't connect
  ASSERT_TRUE(engine.process->wait_for_line("READY", 20s)) << engine.process->output();
  EXPECT_EQ(engine.get("/health").status, 200);
}

// As vLLM's worker at start-up: the other processes on the GPU must leave room for the share
// `--gpu-memory-utilization` asks for.
TEST_F(mock_vllm_test, an_engine_needs_room_for_its_share_of_the_gpu) {
  auto first = start("alpha", {"--gpu-memory-utilization", "0.6"});
  child_process second({LLMUX_MOCK_VLLM, "serve", "beta", "--mock-profile", "fast", "--port", "0",
                        "--gpu-memory-utilization", "0.6"},
                       environment());
  EXPECT_EQ(second.wait_exit(20s), 1);
  EXPECT_NE(second.output().find("ValueError: Free memory on device (32.00/80.00 GiB) on startup "
                                 "is less than desired GPU memory utilization (0.6, 48.00 GiB)"),
            std::string::npos)
    << second.output();
  auto third = start("gamma", {"--gpu-memory-utilization", "0.35"});
  EXPECT_EQ(third.get("/health").status, 200);
}

// kvcached (ENABLE_KVCACHED=true): the KV cache is mapped per running request, so idle engines
// hold their weights and context only and several fit at vLLM's default utilization.
TEST_F(mock_vllm_test, an_elastic_kv_cache_holds_little_while_idle) {
  auto alpha = start("alpha", {"--mock-first-token-ms", "300"}, {"ENABLE_KVCACHED=true"});
  auto beta = start("beta", {}, {"ENABLE_KVCACHED=true"});
  auto used = [this] {
    return run_tool("nvidia-smi", {"--query-compute-apps=used_memory", "--format=csv,noheader,"
                                                                       "nounits"})
      .output;
  };
  EXPECT_EQ(used(), "1536\n1536\n");
  auto answer = std::async(std::launch::async, [this, &alpha] { return chat_answer(alpha); });
  auto until = std::chrono::steady_clock::now() + 2s;
  while (used().find("2048") == std::string::npos && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_NE(used().find("2048"), std::string::npos); // 512 MiB mapped for the running request
  EXPECT_FALSE(answer.get().empty());
  EXPECT_EQ(used(), "1536\n1536\n");
}

TEST_F(mock_vllm_test, accepts_any_vllm_flag) {
  auto engine = start("m", {"--enforce-eager", "--max-num-seqs", "8", "--dtype", "auto",
                            "--disable-custom-all-reduce", "--trust-remote-code"});
  EXPECT_EQ(engine.get("/health").status, 200);
}

TEST_F(mock_vllm_test, answers_are_deterministic_and_differ_between_models) {
  // Two engines on one emulated GPU: each takes less than half of it.
  std::vector<std::string> half{"--gpu-memory-utilization", "0.45"};
  auto alpha = start("alpha", half);
  auto beta = start("beta", half);
  auto first = chat_answer(alpha);
  EXPECT_FALSE(first.empty());
  EXPECT_EQ(chat_answer(alpha), first);
  EXPECT_NE(chat_answer(beta), first);
  EXPECT_NE(chat_answer(alpha, "Another prompt"), first);
}

TEST_F(mock_vllm_test, chat_completion_has_the_openai_shape) {
  auto engine = start("org/Qwen3-4B", {"--served-model-name", "qwen"});
  auto result = engine.post("/v1/chat/completions",
                            chat_request("Hi", false, R"(,"model":"qwen","max_tokens":3)"));
  ASSERT_EQ(result.status, 200) << result.body;
  EXPECT_EQ(result.content_type, "application/json");
  simdjson::dom::parser parser;
  auto body = parse_json(parser, result.body);
  EXPECT_EQ(string_at(body["object"]), "chat.completion");
  EXPECT_EQ(string_at(body["model"]), "qwen");
  EXPECT_EQ(string_at(body["choices"].at(0)["message"]["role"]), "assistant");
  EXPECT_EQ(string_at(body["choices"].at(0)["finish_reason"]), "length");
  EXPECT_EQ(body["usage"]["completion_tokens"].get_uint64().value(), 3u);
}

TEST_F(mock_vllm_test, completions_embeddings_models_and_version) {
  auto engine = start("m");
  simdjson::dom::parser parser;
  auto completion = engine.post("/v1/completions", R"({"prompt":"Once","max_tokens":4})");
  ASSERT_EQ(completion.status, 200) << completion.body;
  EXPECT_EQ(string_at(parse_json(parser, completion.body)["object"]), "text_completion");
  auto embedding = engine.post("/v1/embeddings", R"({"input":"text"})");
  ASSERT_EQ(embedding.status, 200) << embedding.body;
  simdjson::dom::array vector;
  ASSERT_FALSE(parse_json(parser, embedding.body)["data"].at(0)["embedding"].get(vector));
  EXPECT_EQ(vector.size(), 16u);
  auto models = engine.get("/v1/models");
  EXPECT_EQ(string_at(parse_json(parser, models.body)["data"].at(0)["id"]), "m");
  EXPECT_EQ(string_at(parse_json(parser, engine.get("/version").body)["version"]), "0.17.0");
}

TEST_F(mock_vllm_test, streaming_uses_vllm_sse_framing) {
  auto engine = start("m");
  auto plain = chat_answer(engine, "Stream me");
  auto result
    = engine.post("/v1/chat/completions",
                  chat_request("Stream me", true, R"(,"stream_options":{"include_usage":true})"));
  ASSERT_EQ(result.status, 200) << result.failure;
  EXPECT_EQ(result.content_type, "text/event-stream; charset=utf-8");
  std::vector<std::string> events;
  std::string_view body = result.body;
  while (!body.empty()) {
    auto end = body.find("\n\n");
    ASSERT_NE(end, std::string_view::npos) << "unterminated event in " << result.body;
    auto event = body.substr(0, end);
    ASSERT_TRUE(event.starts_with("data: ")) << event;
    ASSERT_EQ(event.find('\n'), std::string_view::npos) << "one line per event: " << event;
    events.emplace_back(event.substr(6));
    body = body.substr(end + 2);
  }
  ASSERT_GE(events.size(), 4u);
  EXPECT_EQ(events.back(), "[DONE]");
  simdjson::dom::parser parser;
  EXPECT_EQ(string_at(parse_json(parser, events.front())["choices"].at(0)["delta"]["role"]),
            "assistant");
  auto usage = parse_json(parser, events[events.size() - 2]);
  EXPECT_EQ(usage["choices"].get_array().value().size(), 0u);
  EXPECT_GT(usage["usage"]["completion_tokens"].get_uint64().value(), 0u);
  std::string streamed;
  for (std::size_t i = 1; i + 2 < events.size(); ++i) {
    auto chunk = parse_json(parser, events[i]);
    EXPECT_EQ(string_at(chunk["object"]), "chat.completion.chunk");
    streamed += string_at(chunk["choices"].at(0)["delta"]["content"]);
  }
  EXPECT_EQ(streamed, plain);
}

TEST_F(mock_vllm_test, errors_have_vllms_nested_shape) {
  auto engine = start("m");
  simdjson::dom::parser parser;
  auto unknown
    = engine.post("/v1/chat/completions", chat_request("x", false, R"(,"model":"other")"));
  EXPECT_EQ(unknown.status, 404);
  auto error = parse_json(parser, unknown.body)["error"];
  EXPECT_EQ(string_at(error["type"]), "NotFoundError");
  EXPECT_EQ(string_at(error["message"]), "The model `other` does not exist.");
  EXPECT_EQ(string_at(error["param"]), "model");
  EXPECT_EQ(error["code"].get_int64().value(), 404);
  auto bad = engine.post("/v1/chat/completions", "{not json");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(string_at(parse_json(parser, bad.body)["error"]["type"]), "BadRequestError");
}

TEST_F(mock_vllm_test, dev_endpoints_exist_only_in_dev_mode) {
  std::vector<std::string> half{"--gpu-memory-utilization", "0.45"};
  auto engine = start("m", half, {"VLLM_SERVER_DEV_MODE=0"});
  for (auto path : {"/sleep?level=1", "/wake_up", "/collective_rpc", "/reset_prefix_cache"}) {
    auto result = engine.post(path, "{}");
    EXPECT_EQ(result.status, 404) << path;
    EXPECT_EQ(result.body, R"({"detail":"Not Found"})") << path;
  }
  EXPECT_EQ(engine.get("/is_sleeping").status, 404);
  auto dev = start("m", half);
  EXPECT_EQ(dev.get("/is_sleeping").body, R"({"is_sleeping":false})");
}

TEST_F(mock_vllm_test, level_one_sleep_frees_gpu_memory_and_wake_gives_the_same_answer) {
  auto engine = start("org/Llama-3.1-8B", {"--enable-sleep-mode"});
  auto before = chat_answer(engine);
  auto awake_memory = gpu_memory_used();
  EXPECT_EQ(awake_memory, 73728); // 0.9 x 80 GiB
  ASSERT_EQ(engine.post("/sleep?level=1").status, 200);
  EXPECT_EQ(engine.get("/is_sleeping").body, R"({"is_sleeping":true})");
  EXPECT_EQ(gpu_memory_used(), 512); // only the CUDA context stays
  auto metrics = engine.get("/metrics").body;
  EXPECT_NE(metrics.find(R"(sleep_state="weights_offloaded"} 1)"), std::string::npos) << metrics;
  ASSERT_EQ(engine.post("/wake_up").status, 200);
  EXPECT_EQ(gpu_memory_used(), awake_memory);
  EXPECT_EQ(chat_answer(engine), before);
}

TEST_F(mock_vllm_test, metrics_are_valid_prometheus_text) {
  auto engine = start("m", {"--enable-sleep-mode"});
  ASSERT_EQ(engine.post("/v1/completions", R"({"prompt":"count me","max_tokens":3})").status, 200);
  ASSERT_EQ(engine.post("/sleep?level=2").status, 200);
  auto metrics = engine.get("/metrics");
  EXPECT_EQ(metrics.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(metrics.body.find(R"(sleep_state="discard_all"} 1)"), std::string::npos);
  EXPECT_NE(metrics.body.find(R"(vllm:generation_tokens_total{engine="0",model_name="m"} 3)"),
            std::string::npos)
    << metrics.body;
  // promtool (Debian's prometheus package, installed by tools/install-deps) is the judge. It
  // parses the text (status 1 on any format error) and lints it (status 3); the one lint it
  // must raise is vLLM's own naming, `vllm:` with a colon, which the mock keeps on purpose.
  auto file = scratch_ / "metrics.txt";
  std::ofstream(file) << metrics.body;
  child_process promtool({"sh", "-c", "promtool check metrics < " + file}, {});
  auto status = promtool.wait_exit(30s);
  ASSERT_TRUE(status == 0 || status == 3) << promtool.output();
  std::string_view report = promtool.output();
  for (auto end = report.find('\n'); !report.empty(); end = report.find('\n')) {
    auto line = report.substr(0, end);
    EXPECT_TRUE(line.empty() || line.ends_with("metric names should not contain ':'")) << line;
    report = end == std::string_view::npos ? std::string_view{} : report.substr(end + 1);
  }
}

TEST_F(mock_vllm_test, level_two_wake_gives_garbage_until_weights_are_reloaded) {
  auto engine = start("m", {"--enable-sleep-mode"});
  auto before = chat_answer(engine);
  ASSERT_EQ(engine.post("/sleep?level=2").status, 200);
  ASSERT_EQ(engine.post("/wake_up").status, 200);
  auto garbage = chat_answer(engine);
  EXPECT_NE(garbage, before);
  EXPECT_EQ(garbage.find_first_not_of('!'), std::string::npos) << garbage;
  auto reload = engine.post("/collective_rpc", R"({"method":"reload_weights"})");
  EXPECT_EQ(reload.status, 200);
  EXPECT_EQ(reload.body, R"({"results":[null]})");
  EXPECT_EQ(chat_answer(engine), before);
}

TEST_F(mock_vllm_test, partial_wake_follows_vllms_tag_rules) {
  auto engine = start("m", {"--enable-sleep-mode"});
  ASSERT_EQ(engine.post("/sleep?level=1").status, 200);
  EXPECT_EQ(engine.post("/wake_up?tags=weights").status, 200);
  EXPECT_EQ(engine.get("/is_sleeping").body, R"({"is_sleeping":true})"); // kv_cache still asleep
  EXPECT_EQ(engine.post("/wake_up?tags=weights").status, 200);           // not asleep: no-op
  EXPECT_EQ(engine.get("/is_sleeping").body, R"({"is_sleeping":true})");
  EXPECT_EQ(engine.post("/wake_up?tags=kv_cache").status, 200);
  EXPECT_EQ(engine.get("/is_sleeping").body, R"({"is_sleeping":false})");
}

TEST_F(mock_vllm_test, without_sleep_mode_sleep_answers_200_and_frees_nothing) {
  auto engine = start("m");
  auto awake_memory = gpu_memory_used();
  ASSERT_EQ(engine.post("/sleep?level=1").status, 200);
  EXPECT_EQ(engine.get("/is_sleeping").body, R"({"is_sleeping":true})");
  EXPECT_EQ(gpu_memory_used(), awake_memory);
}

TEST_F(mock_vllm_test, control_calls_reject_what_vllm_rejects) {
  auto engine = start("m", {"--enable-sleep-mode"});
  EXPECT_EQ(engine.post("/sleep?level=abc").status, 500);
  auto missing = engine.post("/collective_rpc", R"({"args":[]})");
  EXPECT_EQ(missing.status, 400);
  EXPECT_NE(missing.body.find("Missing 'method' in request body"), std::string::npos);
  EXPECT_EQ(engine.post("/collective_rpc", R"({"method":"no_such_method"})").status, 500);
}

TEST_F(mock_vllm_test, queued_requests_are_answered_after_wake) {
  auto engine = start("m", {"--enable-sleep-mode"});
  auto before = chat_answer(engine);
  ASSERT_EQ(engine.post("/sleep?level=1").status, 200);
  auto pending = std::async(std::launch::async, [&] {
    return engine.post("/v1/chat/completions", chat_request("Hello there"));
  });
  // The request is held, not answered, while the engine sleeps.
  EXPECT_EQ(pending.wait_for(300ms), std::future_status::timeout);
  simdjson::dom::parser parser;
  EXPECT_EQ(parse_json(parser, engine.get("/mock/state").body)["waiting"].get_uint64().value(), 1u);
  ASSERT_EQ(engine.post("/wake_up").status, 200);
  auto answer = pending.get();
  ASSERT_EQ(answer.status, 200);
  EXPECT_NE(answer.body.find(before), std::string::npos);
}

TEST_F(mock_vllm_test, reject_mode_answers_503_while_asleep) {
  auto engine = start("m", {"--enable-sleep-mode", "--mock-sleeping-requests", "reject"});
  ASSERT_EQ(engine.post("/sleep?level=1").status, 200);
  auto result = engine.post("/v1/chat/completions", chat_request("x"));
  EXPECT_EQ(result.status, 503);
  EXPECT_EQ(result.body, "Model is sleeping");
}

TEST_F(mock_vllm_test, crash_mode_kills_the_engine_on_a_request_while_asleep) {
  auto engine = start("m", {"--enable-sleep-mode"}, {"MOCK_VLLM_SLEEPING_REQUESTS=crash"});
  ASSERT_EQ(engine.post("/sleep?level=1").status, 200);
  auto result = engine.post("/v1/chat/completions", chat_request("x"));
  EXPECT_EQ(result.status, 500);
  EXPECT_TRUE(result.body.empty());
  EXPECT_EQ(engine.process->wait_exit(10s), 1);
}

} // namespace
} // namespace llmux::testing_support
