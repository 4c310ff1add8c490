// The fake nvidia-smi, cuda-checkpoint and criu acting on real mock-vllm processes, and every
// fault the mock can inject.

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <memory>

#include "tests/e2e/mock_engine.hpp"

namespace llmux::testing_support {
namespace {

using engine_fakes_test = mock_engine_test;
using steady = std::chrono::steady_clock;

TEST_F(engine_fakes_test, nvidia_smi_reports_engines_in_the_real_formats) {
  auto a = start("a", {"--gpu-memory-utilization", "0.4"});
  auto b = start("b", {"--gpu-memory-utilization", "0.3"});
  auto gpu = run_tool("nvidia-smi",
                      {"--query-gpu=memory.used,memory.total", "--format=csv,noheader,nounits"});
  EXPECT_EQ(gpu.status, 0);
  EXPECT_EQ(gpu.output, "57344, 81920\n"); // (0.4 + 0.3) x 81920
  auto apps = run_tool("nvidia-smi",
                       {"--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"});
  EXPECT_NE(apps.output.find(std::to_string(a.process->pid()) + ", 32768\n"), std::string::npos)
    << apps.output;
  EXPECT_NE(apps.output.find(std::to_string(b.process->pid()) + ", 24576\n"), std::string::npos)
    << apps.output;
  auto with_units = run_tool("nvidia-smi", {"--query-gpu=memory.used", "--format=csv"});
  EXPECT_EQ(with_units.output, "memory.used [MiB]\n57344 MiB\n");
  EXPECT_EQ(run_tool("nvidia-smi", {"--query-gpu=bogus", "--format=csv"}).status, 2);
}

TEST_F(engine_fakes_test, nvidia_smi_forgets_engines_that_died) {
  auto engine = start("m");
  EXPECT_GT(gpu_memory_used(), 0);
  engine.process.reset(); // SIGKILL: no chance to withdraw its entry
  EXPECT_EQ(gpu_memory_used(), 0);
}

TEST_F(engine_fakes_test, cuda_checkpoint_round_trip) {
  auto engine = start("m", {"--enable-sleep-mode"});
  auto pid = std::to_string(engine.process->pid());
  auto before = chat_answer(engine);
  EXPECT_EQ(run_tool("cuda-checkpoint", {"--get-state", "--pid", pid}).output, "running\n");
  ASSERT_EQ(run_tool("cuda-checkpoint", {"--toggle", "--pid", pid}).status, 0);
  EXPECT_EQ(run_tool("cuda-checkpoint", {"--get-state", "--pid", pid}).output, "checkpointed\n");
  EXPECT_EQ(gpu_memory_used(), 0);
  auto apps = run_tool("nvidia-smi",
                       {"--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"});
  EXPECT_EQ(apps.output, ""); // a checkpointed process holds no GPU memory
  EXPECT_EQ(engine.post("/v1/chat/completions", chat_request("x")).status, 500);
  ASSERT_EQ(run_tool("cuda-checkpoint", {"--toggle", "--pid", pid}).status, 0);
  EXPECT_EQ(run_tool("cuda-checkpoint", {"--get-state", "--pid", pid}).output, "running\n");
  EXPECT_EQ(chat_answer(engine), before);
}

TEST_F(engine_fakes_test, cuda_checkpoint_actions_follow_the_state_machine) {
  auto engine = start("m");
  auto pid = std::to_string(engine.process->pid());
  EXPECT_EQ(run_tool("cuda-checkpoint", {"--action", "checkpoint", "--pid", pid}).status, 1);
  for (auto action : {"lock", "checkpoint", "restore", "unlock"}) {
    EXPECT_EQ(
      run_tool("cuda-checkpoint", {"--action", action, "--pid", pid, "--timeout", "5000"}).status,
      0)
      << action;
  }
  EXPECT_EQ(run_tool("cuda-checkpoint", {"--get-state", "--pid", pid}).output, "running\n");
  EXPECT_EQ(run_tool("cuda-checkpoint", {"--get-state", "--pid", "1"}).status, 1);
}

TEST_F(engine_fakes_test, criu_dump_and_restore_round_trip) {
  auto engine = start("org/Llama-3.1-8B", {"--enable-sleep-mode"});
  auto before = chat_answer(engine);
  ASSERT_EQ(engine.post("/sleep?level=2").status, 200);
  auto images = scratch_ / "model/images";
  auto dump = run_tool("criu", {"dump", "--shell-job", "--ext-unix-sk", "--tcp-established",
                                "--link-remap", "--ghost-limit", "1048576",
                                "--enable-external-masters", "-L", "/usr/lib/criu/", "--images-dir",
                                images, "--tree", std::to_string(engine.process->pid())});
  ASSERT_EQ(dump.status, 0) << dump.output;
  EXPECT_EQ(engine.process->wait_exit(10s), 0); // the dump ends the engine
  EXPECT_FALSE(engine.get("/health").complete);
  // Discarded weights leave the CUDA context only: 512 MiB of memory, 512 KiB of image.
  EXPECT_EQ(std::filesystem::file_size(std::filesystem::path(images) / "pages-1.img"),
            512u * 1024u);
  auto pidfile = scratch_ / "restored.pid";
  auto restore = run_tool(
    "criu", {"restore", "--shell-job", "--restore-detached", "-D", images, "--pidfile", pidfile});
  ASSERT_EQ(restore.status, 0) << restore.output;
  int restored_pid = 0;
  std::ifstream(pidfile) >> restored_pid;
  ASSERT_GT(restored_pid, 0);
  // The restored engine is nobody's child: end it whatever happens below.
  std::unique_ptr<int, void (*)(int*)> stop_restored(&restored_pid,
                                                     [](int* pid) { ::kill(*pid, SIGKILL); });
  EXPECT_EQ(engine.get("/is_sleeping").body, R"({"is_sleeping":true})"); // same port, same state
  ASSERT_EQ(engine.post("/wake_up").status, 200);
  ASSERT_EQ(engine.post("/collective_rpc", R"({"method":"reload_weights"})").status, 200);
  EXPECT_EQ(chat_answer(engine), before);
  // A second restore while the first one runs collides with it, as with real PIDs.
  EXPECT_EQ(run_tool("criu", {"restore", "-D", images}).status, 1);
}

TEST_F(engine_fakes_test, criu_fails_clearly) {
  EXPECT_EQ(run_tool("criu", {"check"}).output, "Looks good.\n");
  auto no_process = run_tool("criu", {"dump", "--tree", "999999", "-D", scratch_ / "x"});
  EXPECT_EQ(no_process.status, 1);
  auto no_images = run_tool("criu", {"restore", "-D", scratch_ / "empty"});
  EXPECT_EQ(no_images.status, 1);
  EXPECT_NE(no_images.output.find("no checkpoint"), std::string::npos) << no_images.output;
}

TEST_F(engine_fakes_test, fail_sleep_wake_and_reload_faults_answer_500_once) {
  auto engine = start("m", {"--enable-sleep-mode", "--mock-faults", "fail_sleep=1,fail_wake=1"});
  EXPECT_EQ(engine.post("/sleep?level=2").status, 500);
  EXPECT_EQ(engine.get("/is_sleeping").body, R"({"is_sleeping":false})");
  EXPECT_EQ(engine.post("/sleep?level=2").status, 200);
  EXPECT_EQ(engine.post("/wake_up").status, 500);
  EXPECT_EQ(engine.post("/wake_up").status, 200);
  ASSERT_EQ(engine.post("/mock/faults?fail_reload=1").status, 200);
  EXPECT_EQ(engine.post("/collective_rpc", R"({"method":"reload_weights"})").status, 500);
  EXPECT_EQ(engine.post("/collective_rpc", R"({"method":"reload_weights"})").status, 200);
  EXPECT_EQ(engine.post("/mock/faults?no_such_fault=1").status, 400);
}

TEST_F(engine_fakes_test, hang_faults_delay_sleep_and_wake) {
  auto engine = start("m", {"--enable-sleep-mode", "--mock-faults", "hang_sleep=5000"});
  auto hung_sleep = http::http_request("POST", engine.url("/sleep?level=1"), "", {}, 500ms);
  EXPECT_FALSE(hung_sleep.complete);
  EXPECT_NE(hung_sleep.failure.find("(28)"), std::string::npos) << hung_sleep.failure; // timeout
  ASSERT_EQ(engine.post("/mock/faults?hang_wake=5000").status, 200);
  auto hung_wake = http::http_request("POST", engine.url("/wake_up"), "", {}, 500ms);
  EXPECT_FALSE(hung_wake.complete);
  EXPECT_NE(hung_wake.failure.find("(28)"), std::string::npos) << hung_wake.failure;
}

TEST_F(engine_fakes_test, crash_at_start_exits_before_listening) {
  auto engine = start("m", {"--mock-faults", "crash_at_start"}, {}, false);
  EXPECT_EQ(engine.process->wait_exit(20s), 1);
  EXPECT_EQ(engine.process->output().find("READY"), std::string::npos);
}

TEST_F(engine_fakes_test, crash_on_request_drops_the_connection_and_exits) {
  auto engine = start("m", {}, {"MOCK_VLLM_FAULTS=crash_on_request"});
  auto result = engine.post("/v1/chat/completions", chat_request("x"));
  EXPECT_FALSE(result.complete);
  EXPECT_EQ(engine.process->wait_exit(10s), 1);
}

TEST_F(engine_fakes_test, crash_mid_stream_cuts_the_stream_short) {
  auto engine = start("m", {"--mock-faults", "crash_mid_stream=3"});
  auto result = engine.post("/v1/chat/completions", chat_request("x", true));
  EXPECT_FALSE(result.complete);
  EXPECT_EQ(result.body.find("[DONE]"), std::string::npos);
  std::size_t events = 0;
  for (auto at = result.body.find("data: "); at != std::string::npos;
       at = result.body.find("data: ", at + 1)) {
    ++events;
  }
  EXPECT_EQ(events, 4u) << result.body; // the role chunk and three tokens
  EXPECT_EQ(engine.process->wait_exit(10s), 1);
}

TEST_F(engine_fakes_test, slow_start_fault_lengthens_the_start) {
  auto began = steady::now();
  auto engine = start("m", {"--mock-start-ms", "0", "--mock-faults", "slow_start=700"});
  EXPECT_GE(steady::now() - began, 700ms);
  EXPECT_EQ(engine.get("/health").status, 200);
}

} // namespace
} // namespace llmux::testing_support
