// The eviction matrix end to end: llmux over mock-vllm engines with the fake nvidia-smi,
// cuda-checkpoint and criu. Each cell frees the GPU as README's matrix says, the answers after
// the wake (or restore) equal those before, and failing tools fall back without losing the
// request.

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/e2e/daemon.hpp"

namespace llmux::testing_support {
namespace {

namespace fs = std::filesystem;

class checkpoint_test : public daemon_test {
protected:
  /// The `checkpoint` section over the fakes (or the given tools) and this test's images.
  std::string checkpoint_section(const std::string& criu = {},
                                 const std::string& cuda_checkpoint = {},
                                 const std::string& more = {}) const {
    return checkpoint_member(images_dir(), more, criu, cuda_checkpoint);
  }

  /// Runs `llmux -c <the configuration of write_config> ARGS...` to its end, with the fake
  /// GPU tools on its PATH.
  tool_run run_llmux(const std::vector<std::string>& args) {
    std::vector<std::string> argv{LLMUX_DAEMON, "-c", scratch_ / "llmux.json"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto env = environment();
    env.push_back(std::string("PATH=") + LLMUX_FAKES_BIN + ":" + std::getenv("PATH"));
    env.push_back("LLMUX_LOG=warn");
    child_process llmux(argv, env);
    tool_run run;
    run.status = llmux.wait_exit(120s).value_or(-1);
    run.output = llmux.output();
    return run;
  }

  std::string images_dir() const {
    return scratch_ / "checkpoints";
  }

  /// A tool that fails (exit 1, an error on stderr) when its arguments contain `when`, and
  /// otherwise runs the fake.
  std::string failing_tool(const std::string& tool, const std::string& when) {
    auto path = fs::path(scratch_ / ("failing-" + tool));
    std::ofstream(path) << fmt::format("#!/bin/sh\ncase \" $* \" in *\" {} \"*) echo \"Error: "
                                       "injected {} failure\" >&2; exit 1;; esac\nexec {} \"$@\"\n",
                                       when, tool, fake_tool(tool));
    fs::permissions(path, fs::perms::owner_all);
    return path.string();
  }

  /// GPU memory held by `model`'s engine process, as nvidia-smi lists it; -1 when no process
  /// of it runs.
  long engine_gpu_mib(const std::string& model) {
    auto pid = engine_pid(engine_port(model));
    if (pid <= 0) {
      return -1;
    }
    auto apps = run_tool("nvidia-smi",
                         {"--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"});
    EXPECT_EQ(apps.status, 0) << apps.output;
    auto prefix = std::to_string(pid) + ", ";
    for (std::size_t at = 0; at < apps.output.size();) {
      auto end = apps.output.find('\n', at);
      auto line = apps.output.substr(at, end - at);
      if (line.starts_with(prefix)) {
        return std::stol(line.substr(prefix.size()));
      }
      at = end == std::string::npos ? apps.output.size() : end + 1;
    }
    return 0; // running, nothing on the GPU
  }

  static std::size_t files_in(const fs::path& dir) {
    std::error_code error;
    if (!fs::is_directory(dir, error)) {
      return 0;
    }
    return static_cast<std::size_t>(
      std::distance(fs::directory_iterator(dir, error), fs::directory_iterator()));
  }

  /// The model's entry in `/llmux/status`.
  static simdjson::dom::element model_status(const running_daemon& daemon,
                                             simdjson::dom::parser& parser,
                                             const std::string& model) {
    return daemon.status(parser)["models"][model];
  }
};

class eviction_matrix : public checkpoint_test,
                        public ::testing::WithParamInterface<std::string> {};

TEST_P(eviction_matrix, frees_the_gpu_as_documented_and_answers_the_same_after_the_wake) {
  auto cell = GetParam();
  auto weights = cell.substr(0, cell.find('+'));
  auto process = cell.substr(cell.find('+') + 1);
  // Half the GPU each: beta must start even where alpha's eviction frees nothing
  // (retain+keep_running), since the engines refuse to start without room, as vLLM's do.
  std::vector<std::string> half{"--gpu-memory-utilization", "0.45"};
  auto daemon = start_daemon({{"alpha", cell, half}, {"beta", "retain+stop", half}},
                             R"("min_active_secs": 0)", checkpoint_section());
  auto before = daemon.chat("alpha");
  ASSERT_EQ(before.status, 200) << before.body;
  auto awake_mib = engine_gpu_mib("alpha");
  ASSERT_GT(awake_mib, 0);

  ASSERT_EQ(daemon.chat("beta").status, 200); // alpha leaves the GPU
  auto evicted_mib = engine_gpu_mib("alpha");
  if (process == "keep_running") {
    if (weights == "retain") {
      EXPECT_EQ(evicted_mib, awake_mib); // nothing moves
    } else {
      // Weights and KV cache leave; the CUDA context (about 500 MiB) stays.
      EXPECT_GT(evicted_mib, 0);
      EXPECT_LT(evicted_mib, 1024);
    }
  } else if (process == "cuda_suspend") {
    EXPECT_EQ(evicted_mib, 0); // the process lives on, all its GPU state in host memory
  } else {
    EXPECT_EQ(evicted_mib, -1); // the process is gone
  }
  auto images = fs::path(images_dir()) / "alpha" / "images";
  EXPECT_EQ(files_in(images) > 0, process == "checkpoint") << images;
  simdjson::dom::parser parser;
  auto status = model_status(daemon, parser, "alpha");
  EXPECT_EQ(text_at(status["evicted_with"]), cell);
  EXPECT_EQ(text_at(status["state"]), process == "stop" ? "stopped" : "sleeping");
  EXPECT_EQ(number_at(status["fallbacks_total"]), 0u);

  auto after = daemon.chat("alpha");
  ASSERT_EQ(after.status, 200) << after.body;
  EXPECT_EQ(answer_content(after), answer_content(before));
  EXPECT_EQ(engine_gpu_mib("alpha"), awake_mib);
  simdjson::dom::parser again;
  auto woken = model_status(daemon, again, "alpha");
  EXPECT_EQ(number_at(woken["fallbacks_total"]), 0u);
  // Only stop cold-starts the engine again.
  EXPECT_EQ(number_at(woken["engine_starts"]), process == "stop" ? 2u : 1u);
}

INSTANTIATE_TEST_SUITE_P(every_cell, eviction_matrix,
                         ::testing::Values("retain+keep_running", "offload+keep_running",
                                           "discard+keep_running", "retain+cuda_suspend",
                                           "offload+cuda_suspend", "discard+cuda_suspend",
                                           "retain+checkpoint", "offload+checkpoint",
                                           "discard+checkpoint", "retain+stop", "offload+stop",
                                           "discard+stop"),
                         [](const auto& info) {
                           auto name = info.param;
                           name[name.find('+')] = '_';
                           return name;
                         });

TEST_F(checkpoint_test, a_failing_cuda_checkpoint_stops_the_engine_instead_and_says_so) {
  auto metrics = free_port();
  auto daemon = start_daemon(
    {{"alpha", "offload+cuda_suspend"}, {"beta", "retain+stop"}}, R"("min_active_secs": 0)",
    fmt::format(R"({}, "metrics_port": {})",
                checkpoint_section({}, failing_tool("cuda-checkpoint", "--toggle")), metrics));
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  ASSERT_EQ(daemon.chat("beta").status, 200);
  EXPECT_EQ(engine_gpu_mib("alpha"), -1); // stopped: the GPU is free all the same
  simdjson::dom::parser parser;
  auto status = model_status(daemon, parser, "alpha");
  EXPECT_EQ(text_at(status["state"]), "stopped");
  EXPECT_EQ(number_at(status["fallbacks_total"]), 1u);
  auto fallback = std::string(text_at(status["last_fallback"]));
  EXPECT_NE(fallback.find("cuda-checkpoint suspend failed"), std::string::npos) << fallback;
  EXPECT_NE(fallback.find("injected cuda-checkpoint failure"), std::string::npos) << fallback;
  EXPECT_EQ(
    metric_sample(scrape_metrics(metrics), R"(llmux_eviction_fallbacks_total{model="alpha"})"), 1);
  EXPECT_EQ(daemon.chat("alpha").status, 200); // a cold start
}

TEST_F(checkpoint_test, a_failing_criu_dump_stops_the_engine_instead) {
  auto daemon
    = start_daemon({{"alpha", "discard+checkpoint"}, {"beta", "retain+stop"}},
                   R"("min_active_secs": 0)", checkpoint_section(failing_tool("criu", "dump")));
  auto before = daemon.chat("alpha");
  ASSERT_EQ(before.status, 200);
  ASSERT_EQ(daemon.chat("beta").status, 200);
  EXPECT_EQ(engine_gpu_mib("alpha"), -1);
  simdjson::dom::parser parser;
  auto status = model_status(daemon, parser, "alpha");
  EXPECT_EQ(text_at(status["state"]), "stopped");
  auto fallback = std::string(text_at(status["last_fallback"]));
  EXPECT_NE(fallback.find("CRIU dump failed"), std::string::npos) << fallback;
  auto after = daemon.chat("alpha");
  ASSERT_EQ(after.status, 200);
  EXPECT_EQ(answer_content(after), answer_content(before));
}

TEST_F(checkpoint_test, a_failing_criu_restore_starts_the_engine_cold_and_serves_the_request) {
  auto daemon
    = start_daemon({{"alpha", "offload+checkpoint"}, {"beta", "retain+stop"}},
                   R"("min_active_secs": 0)", checkpoint_section(failing_tool("criu", "restore")));
  auto before = daemon.chat("alpha");
  ASSERT_EQ(before.status, 200);
  ASSERT_EQ(daemon.chat("beta").status, 200);
  auto after = daemon.chat("alpha"); // the restore fails; the same request is served all the same
  ASSERT_EQ(after.status, 200) << after.body;
  EXPECT_EQ(answer_content(after), answer_content(before));
  simdjson::dom::parser parser;
  auto status = model_status(daemon, parser, "alpha");
  EXPECT_EQ(text_at(status["state"]), "active");
  EXPECT_EQ(number_at(status["fallbacks_total"]), 1u);
  EXPECT_EQ(number_at(status["engine_starts"]), 2u);
  auto fallback = std::string(text_at(status["last_fallback"]));
  EXPECT_NE(fallback.find("CRIU restore failed"), std::string::npos) << fallback;
  EXPECT_NE(fallback.find("injected criu failure"), std::string::npos) << fallback;
  EXPECT_NE(fallback.find("started the engine cold instead"), std::string::npos) << fallback;
}

// A checkpoint made beforehand (as `--checkpoint` makes one) is restored on the first request
// instead of a cold start.
TEST_F(checkpoint_test, checkpoint_path_is_restored_on_the_first_request) {
  auto port = free_port();
  auto engine = start("org/alpha", {"--port", std::to_string(port), "--enable-sleep-mode"});
  auto expected = chat_answer(engine);
  auto prepared = scratch_ / "prepared/images";
  auto dump = run_tool(
    "criu", {"dump", "--images-dir", prepared, "--tree", std::to_string(engine.process->pid())});
  ASSERT_EQ(dump.status, 0) << dump.output;
  ASSERT_TRUE(engine.process->wait_exit(10s));

  auto daemon = start_daemon({{"alpha",
                               "retain+checkpoint",
                               {},
                               {},
                               {},
                               port,
                               fmt::format(R"("checkpoint_path": "{}")", prepared)},
                              {"beta", "retain+stop"}},
                             R"("min_active_secs": 0)", checkpoint_section());
  simdjson::dom::parser parser;
  auto resting = model_status(daemon, parser, "alpha");
  EXPECT_EQ(text_at(resting["state"]), "sleeping");
  EXPECT_EQ(text_at(resting["evicted_with"]), "retain+checkpoint");
  auto answer = daemon.chat("alpha");
  ASSERT_EQ(answer.status, 200) << answer.body;
  EXPECT_EQ(answer_content(answer), expected);
  simdjson::dom::parser again;
  auto served = model_status(daemon, again, "alpha");
  EXPECT_EQ(number_at(served["engine_starts"]), 0u); // restored, never started cold
  EXPECT_EQ(number_at(served["fallbacks_total"]), 0u);
  EXPECT_TRUE(daemon.process->wait_for_text("restored from " + prepared, 2s));
  // Evicted again, it goes to its own images directory; the prepared checkpoint stays as it was.
  ASSERT_EQ(daemon.chat("beta").status, 200);
  EXPECT_GT(files_in(fs::path(images_dir()) / "alpha" / "images"), 0u);
  EXPECT_GT(files_in(prepared), 0u);
  EXPECT_EQ(answer_content(daemon.chat("alpha")), expected);
}

// With keep_images, a model restored from its images and evicted the same way again is only
// ended: the images already hold it.
TEST_F(checkpoint_test, kept_images_are_reused_by_the_next_eviction) {
  auto daemon = start_daemon({{"alpha", "discard+checkpoint"}, {"beta", "retain+stop"}},
                             R"("min_active_secs": 0)", checkpoint_section());
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  ASSERT_EQ(daemon.chat("beta").status, 200);  // dumped
  ASSERT_EQ(daemon.chat("alpha").status, 200); // restored
  ASSERT_EQ(daemon.chat("beta").status, 200);  // ended, not dumped again
  EXPECT_TRUE(daemon.process->wait_for_text("still hold this engine", 2s));
  auto answer = daemon.chat("alpha"); // restored from the same images
  ASSERT_EQ(answer.status, 200) << answer.body;
  simdjson::dom::parser parser;
  EXPECT_EQ(number_at(model_status(daemon, parser, "alpha")["engine_starts"]), 1u);
}

TEST_F(checkpoint_test, without_keep_images_the_images_go_after_the_restore) {
  auto section = checkpoint_section({}, {}, R"("keep_images": false)");
  auto daemon = start_daemon({{"alpha", "discard+checkpoint"}, {"beta", "retain+stop"}},
                             R"("min_active_secs": 0)", section);
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  ASSERT_EQ(daemon.chat("beta").status, 200);
  auto images = fs::path(images_dir()) / "alpha" / "images";
  EXPECT_GT(files_in(images), 0u);
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  EXPECT_EQ(files_in(images), 0u);
}

// A restored engine is not llmux's child, yet it ends with llmux; one left running by an llmux
// that was killed is ended by the next llmux before it starts anything.
TEST_F(checkpoint_test, restored_engines_end_with_llmux_or_with_the_next_one_after_a_crash) {
  std::vector<test_model> models{{"alpha", "retain+checkpoint", {}, {}, {}, free_port()},
                                 {"beta", "retain+stop", {}, {}, {}, free_port()}};
  auto restore_alpha = [&](const running_daemon& daemon) {
    EXPECT_EQ(daemon.chat("alpha").status, 200);
    EXPECT_EQ(daemon.chat("beta").status, 200);
    EXPECT_EQ(daemon.chat("alpha").status, 200);
    return engine_pid(engine_port("alpha"));
  };
  {
    auto daemon = start_daemon(models, R"("min_active_secs": 0)", checkpoint_section());
    ASSERT_GT(restore_alpha(daemon), 0);
    ::kill(daemon.process->pid(), SIGTERM);
    ASSERT_TRUE(daemon.process->wait_exit(30s));
    EXPECT_LT(engine_pid(engine_port("alpha")), 0);
  }
  {
    auto daemon = start_daemon(models, R"("min_active_secs": 0)", checkpoint_section());
    ASSERT_GT(restore_alpha(daemon), 0);
    ::kill(daemon.process->pid(), SIGKILL);
    ASSERT_TRUE(daemon.process->wait_exit(10s));
    EXPECT_GT(engine_pid(engine_port("alpha")), 0); // detached: it outlives a killed llmux
  }
  auto daemon = start_daemon(models, R"("min_active_secs": 0)", checkpoint_section());
  EXPECT_TRUE(eventually([&] { return engine_pid(engine_port("alpha")) < 0; }, 15s));
  EXPECT_TRUE(daemon.process->wait_for_text("restored by an earlier llmux", 2s));
  EXPECT_EQ(daemon.chat("alpha").status, 200);
}

// An object store that cannot be reached costs nothing while the local images are there, and
// without them the restore falls back to a cold start.
TEST_F(checkpoint_test, an_unreachable_object_store_falls_back_cleanly) {
  auto closed = free_port(); // nothing listens there
  auto store = fmt::format(R"("object_store": {{"endpoint": "http://127.0.0.1:{}", "bucket": )"
                           R"("checkpoints", "access_key": "AK", "secret_key": "not-to-be-seen"}})",
                           closed);
  auto daemon = start_daemon({{"alpha", "discard+checkpoint"}, {"beta", "retain+stop"}},
                             R"("min_active_secs": 0)", checkpoint_section({}, {}, store));
  auto before = daemon.chat("alpha");
  ASSERT_EQ(before.status, 200);
  ASSERT_EQ(daemon.chat("beta").status, 200);
  ASSERT_TRUE(daemon.process->wait_for_text("uploading the checkpoint to", 20s));
  ASSERT_EQ(daemon.chat("alpha").status, 200); // restored from the local images
  ASSERT_EQ(daemon.chat("beta").status, 200);
  fs::remove_all(fs::path(images_dir()) / "alpha" / "images");
  auto after = daemon.chat("alpha"); // no local images, no store: a cold start
  ASSERT_EQ(after.status, 200) << after.body;
  EXPECT_EQ(answer_content(after), answer_content(before));
  simdjson::dom::parser parser;
  auto fallback = std::string(text_at(model_status(daemon, parser, "alpha")["last_fallback"]));
  EXPECT_NE(fallback.find("download images failed"), std::string::npos) << fallback;
  EXPECT_NE(fallback.find("unreachable"), std::string::npos) << fallback;
  EXPECT_EQ(daemon.process->output().find("not-to-be-seen"), std::string::npos);
}

// A process on the GPU that llmux did not start is reported before a wake, and killed only when
// checkpoint.kill_strays says so; llmux's own engines never count as strays.
TEST_F(checkpoint_test, stray_gpu_processes_are_reported_and_killed_only_when_configured) {
  daemon_env_.push_back(std::string("PATH=") + LLMUX_FAKES_BIN + ":" + std::getenv("PATH"));
  for (bool kill : {false, true}) {
    SCOPED_TRACE(kill ? "kill_strays" : "report only");
    // Small enough to leave room for llmux's engines while it is left running.
    auto stray = start("org/someone-elses-model", {"--gpu-memory-utilization", "0.05"});
    auto daemon = start_daemon(
      {{"alpha", "offload+cuda_suspend"}, {"beta", "retain+stop"}}, R"("min_active_secs": 0)",
      checkpoint_section({}, {}, kill ? R"("kill_strays": true)" : R"("kill_strays": false)"));
    ASSERT_EQ(daemon.chat("alpha").status, 200);
    auto reported
      = daemon.process->wait_for_text(fmt::format("GPU process pid {} ", stray.process->pid()), 2s);
    ASSERT_TRUE(reported) << daemon.process->output();
    EXPECT_NE(reported->find("was not started by llmux"), std::string::npos) << *reported;
    EXPECT_NE(reported->find("someone-elses-model"), std::string::npos) << *reported;
    EXPECT_EQ(stray.process->wait_exit(kill ? 5s : 500ms).has_value(), kill);
    // alpha's suspended engine, woken next, is llmux's own: never reported.
    ASSERT_EQ(daemon.chat("beta").status, 200);
    ASSERT_EQ(daemon.chat("alpha").status, 200);
    auto alpha = engine_pid(engine_port("alpha"));
    EXPECT_FALSE(daemon.process->wait_for_text(fmt::format("GPU process pid {} ", alpha), 300ms));
  }
}

TEST_F(checkpoint_test, validate_sleeps_and_wakes_with_each_policy_and_prints_the_table) {
  write_config({{"alpha", "offload+keep_running"}}, R"("min_active_secs": 0)",
               checkpoint_section());
  auto run = run_llmux({"--validate", "alpha", "--policies",
                        "offload+keep_running,discard+keep_running,retain+cuda_suspend,"
                        "discard+checkpoint,retain+stop"});
  EXPECT_EQ(run.status, 0) << run.output;
  EXPECT_NE(run.output.find("Result: ALL PASSED"), std::string::npos) << run.output;
  // The GPU as nvidia-smi reads it after each sleep: the CUDA context stays for sleep levels,
  // nothing for the others.
  for (auto [policy, after] : {std::pair{"Offload+KeepRunning", " 512 MiB"},
                               {"Discard+KeepRunning", " 512 MiB"},
                               {"Retain+CudaSuspend", "   0 MiB"},
                               {"Discard+Checkpoint", "   0 MiB"},
                               {"Retain+Stop", "   0 MiB"}}) {
    auto row = run.output.find(std::string("\n") + policy + " ");
    ASSERT_NE(row, std::string::npos) << policy << "\n" << run.output;
    auto line = run.output.substr(row + 1, run.output.find('\n', row + 1) - row - 1);
    EXPECT_NE(line.find(after), std::string::npos) << line;
    EXPECT_TRUE(line.ends_with("match     OK")) << line;
  }
}

TEST_F(checkpoint_test, validate_fails_a_policy_whose_step_fails_and_exits_1) {
  write_config({{"alpha", "offload+keep_running"}}, R"("min_active_secs": 0)",
               checkpoint_section({}, failing_tool("cuda-checkpoint", "--toggle")));
  auto run = run_llmux({"--validate", "alpha", "--policies", "offload+cuda_suspend,retain+stop"});
  EXPECT_EQ(run.status, 1) << run.output;
  EXPECT_NE(run.output.find("injected cuda-checkpoint failure"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("MISMATCH  FAIL"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("match     OK"), std::string::npos) << run.output; // retain+stop
  EXPECT_NE(run.output.find("Result: SOME FAILED"), std::string::npos) << run.output;
}

TEST_F(checkpoint_test, a_checkpoint_made_on_the_command_line_is_restored_detached) {
  write_config({{"alpha", "offload+keep_running"}}, R"("min_active_secs": 0)",
               checkpoint_section());
  auto images = fs::path(images_dir()) / "alpha" / "images";
  auto made = run_llmux({"--checkpoint", "alpha", "--eviction", "offload+checkpoint"});
  ASSERT_EQ(made.status, 0) << made.output;
  EXPECT_NE(made.output.find(fmt::format(R"("checkpoint_path": "{}")", images.string())),
            std::string::npos)
    << made.output;
  EXPECT_GT(files_in(images), 0u);
  EXPECT_LT(engine_pid(engine_port("alpha")), 0); // dumped: the engine is gone

  auto restored = run_llmux({"--restore-detached", "alpha"});
  ASSERT_EQ(restored.status, 0) << restored.output;
  EXPECT_NE(restored.output.find("Model is running on port"), std::string::npos) << restored.output;
  // llmux has exited; the restored engine runs on, awake (its offloaded weights back).
  auto pid = engine_pid(engine_port("alpha"));
  ASSERT_GT(pid, 0);
  EXPECT_NE(restored.output.find(fmt::format("Stop it with: kill {}", pid)), std::string::npos)
    << restored.output;
  mock_engine engine;
  engine.port = engine_port("alpha");
  EXPECT_EQ(engine.get("/is_sleeping").body, R"({"is_sleeping":false})");
  EXPECT_GT(engine_gpu_mib("alpha"), 1024);
}

TEST_F(checkpoint_test, the_one_shot_flows_refuse_what_they_cannot_do) {
  write_config({{"alpha"}, {"beta"}}, R"("min_active_secs": 0)");
  auto unknown = run_llmux({"--validate", "gamma"});
  EXPECT_EQ(unknown.status, 1);
  EXPECT_NE(unknown.output.find("Model 'gamma' not found in config. Available: [alpha, beta]"),
            std::string::npos)
    << unknown.output;
  auto no_section = run_llmux({"--checkpoint", "alpha"});
  EXPECT_EQ(no_section.status, 1);
  EXPECT_NE(no_section.output.find("--checkpoint needs the top-level \"checkpoint\" section"),
            std::string::npos)
    << no_section.output;
  auto not_checkpoint = run_llmux({"--checkpoint", "alpha", "--eviction", "offload+stop"});
  EXPECT_EQ(not_checkpoint.status, 1);
  EXPECT_NE(not_checkpoint.output.find("Did you mean 'offload+checkpoint'?"), std::string::npos)
    << not_checkpoint.output;
  write_config({{"alpha"}}, R"("min_active_secs": 0)", checkpoint_section());
  auto nothing = run_llmux({"--restore-detached", "alpha"});
  EXPECT_EQ(nothing.status, 1);
  EXPECT_NE(nothing.output.find("No checkpoint found at"), std::string::npos) << nothing.output;
  // Usage errors: exit 2 with the parser's message.
  for (const auto& args : std::vector<std::vector<std::string>>{
         {"--validate", "alpha", "--checkpoint", "alpha"},
         {"--checkpoint", "alpha", "--restore-detached", "alpha"},
         {"--policies", "offload+stop"},
         {"--validate", "alpha", "--policies", "offload+nap"},
         {"--no-warmup"}}) {
    auto usage = run_llmux(args);
    EXPECT_EQ(usage.status, 2) << args.front() << "\n" << usage.output;
  }
}

// At tensor-parallel size 2 the engine refuses to have its CUDA state moved while its NCCL
// communicators are up: the plans suspend NCCL first and resume it before the engine serves.
TEST_F(checkpoint_test, tensor_parallel_engines_suspend_nccl_around_the_checkpoint_tiers) {
  std::vector<std::string> tensor_parallel{"--tensor-parallel-size", "2", "--enforce-eager",
                                           "--disable-custom-all-reduce"};
  for (std::string cell : {"retain+cuda_suspend", "offload+checkpoint"}) {
    SCOPED_TRACE(cell);
    auto daemon = start_daemon({{"alpha", cell, tensor_parallel}, {"beta", "retain+stop"}},
                               R"("min_active_secs": 0)", checkpoint_section());
    auto before = daemon.chat("alpha");
    ASSERT_EQ(before.status, 200) << before.body;
    ASSERT_EQ(daemon.chat("beta").status, 200);
    mock_engine engine;
    engine.port = engine_port("alpha");
    if (cell.ends_with("cuda_suspend")) {
      EXPECT_NE(engine.get("/mock/state").body.find(R"("nccl_suspended":true)"), std::string::npos);
    }
    auto after = daemon.chat("alpha");
    ASSERT_EQ(after.status, 200) << after.body;
    EXPECT_EQ(answer_content(after), answer_content(before));
    EXPECT_NE(engine.get("/mock/state").body.find(R"("nccl_suspended":false)"), std::string::npos);
    simdjson::dom::parser parser;
    EXPECT_EQ(number_at(model_status(daemon, parser, "alpha")["fallbacks_total"]), 0u);
  }
}

// Files an engine keeps open outside its process (JIT caches) go with its images and are put
// back before a restore, as when the image is restored in another container.
TEST_F(checkpoint_test, caches_named_in_rootfs_dirs_travel_with_the_images) {
  auto cache = fs::path(scratch_ / "triton-cache");
  fs::create_directories(cache);
  std::ofstream(cache / "kernel.so") << "compiled";
  auto daemon = start_daemon(
    {{"alpha", "discard+checkpoint"}, {"beta", "retain+stop"}}, R"("min_active_secs": 0)",
    checkpoint_section({}, {}, fmt::format(R"("rootfs_dirs": ["{}"])", cache.string())));
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  ASSERT_EQ(daemon.chat("beta").status, 200);
  auto kept = fs::path(images_dir()) / "alpha" / "images" / "rootfs" / cache.relative_path();
  EXPECT_TRUE(fs::exists(kept / "kernel.so")) << kept;
  fs::remove_all(cache);
  ASSERT_EQ(daemon.chat("alpha").status, 200);
  EXPECT_TRUE(fs::exists(cache / "kernel.so"));
}

} // namespace
} // namespace llmux::testing_support
