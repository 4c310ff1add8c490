// The cuda-checkpoint and CRIU drivers: their pure parts, and the process handling on real
// (harmless) processes.

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "checkpoint/criu.hpp"
#include "checkpoint/cuda_checkpoint.hpp"
#include "checkpoint/gpu.hpp"
#include "checkpoint/tool.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/scratch_dir.hpp"

namespace llmux::checkpoint {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing_support::child_process;
using testing_support::scratch_dir;

TEST(plan_toggle, suspends_the_running_and_leaves_the_checkpointed) {
  auto plan = plan_toggle({{10, "running"}, {11, "checkpointed"}, {12, "running"}},
                          cuda_direction::suspend);
  EXPECT_EQ(plan.toggle, (std::vector<pid_t>{10, 12}));
  EXPECT_EQ(plan.already_done, (std::vector<pid_t>{11}));
  EXPECT_FALSE(plan.error);
}

TEST(plan_toggle, resumes_the_checkpointed_and_leaves_the_running) {
  auto plan = plan_toggle({{10, "checkpointed"}, {11, "running"}}, cuda_direction::resume);
  EXPECT_EQ(plan.toggle, (std::vector<pid_t>{10}));
  EXPECT_EQ(plan.already_done, (std::vector<pid_t>{11}));
  EXPECT_FALSE(plan.error);
}

TEST(plan_toggle, a_locked_process_or_none_at_all_is_an_error) {
  // Toggling a process locked halfway would move it the wrong way.
  auto locked = plan_toggle({{10, "running"}, {11, "locked"}}, cuda_direction::suspend);
  EXPECT_EQ(locked.error, "cannot suspend CUDA state: process 11 is locked");
  EXPECT_EQ(plan_toggle({}, cuda_direction::resume).error,
            "the engine has no process with CUDA state");
}

config::checkpoint_config tools() {
  config::checkpoint_config checkpoint;
  checkpoint.criu_path = "/opt/criu/sbin/criu";
  checkpoint.cuda_plugin_dir = "/opt/criu/lib/";
  checkpoint.images_dir = "/var/lib/llmux";
  return checkpoint;
}

TEST(criu, dump_and_restore_use_the_reference_flags) {
  EXPECT_EQ(dump_command(tools(), "/var/lib/llmux/m/images", 4242),
            (std::vector<std::string>{
              "/opt/criu/sbin/criu", "dump", "--shell-job", "--ext-unix-sk", "--tcp-established",
              "--enable-external-masters", "-L", "/opt/criu/lib/", "--link-remap", "--ghost-limit",
              "1048576", "--images-dir", "/var/lib/llmux/m/images", "--tree", "4242"}));
  EXPECT_EQ(
    restore_command(tools(), "/var/lib/llmux/m/images", "/var/lib/llmux/m/restore.pid"),
    (std::vector<std::string>{
      "/opt/criu/sbin/criu", "restore", "--shell-job", "--ext-unix-sk", "--tcp-established",
      "--enable-external-masters", "-L", "/opt/criu/lib/", "--restore-detached", "--images-dir",
      "/var/lib/llmux/m/images", "--pidfile", "/var/lib/llmux/m/restore.pid"}));
}

TEST(criu, a_model_keeps_its_files_under_its_own_directory) {
  auto files = files_of(tools(), "qwen-8b");
  EXPECT_EQ(files.model_dir, "/var/lib/llmux/qwen-8b");
  EXPECT_EQ(files.images, "/var/lib/llmux/qwen-8b/images");
  EXPECT_EQ(files.stdout_log, "/var/lib/llmux/qwen-8b/stdout.log");
  EXPECT_EQ(files.stderr_log, "/var/lib/llmux/qwen-8b/stderr.log");
  EXPECT_EQ(files.restore_pidfile, "/var/lib/llmux/qwen-8b/restore.pid");
  EXPECT_EQ(files.store_prefix, "qwen-8b/images");
}

TEST(criu, shm_cleanup_removes_only_stale_links_and_semaphores) {
  scratch_dir shm;
  for (auto name : {"link_remap.7", "sem.mp-abc", "sem.other", "nccl-1", "link_remap"}) {
    std::ofstream(shm / name) << "x";
  }
  EXPECT_EQ(clean_shm(shm.path()), 2u);
  EXPECT_FALSE(fs::exists(shm / "link_remap.7"));
  EXPECT_FALSE(fs::exists(shm / "sem.mp-abc"));
  EXPECT_TRUE(fs::exists(shm / "sem.other"));
  EXPECT_TRUE(fs::exists(shm / "nccl-1"));
  EXPECT_TRUE(fs::exists(shm / "link_remap"));
  EXPECT_EQ(clean_shm(shm.path() / "missing"), 0u);
}

TEST(criu, images_are_there_only_when_the_directory_holds_something) {
  scratch_dir scratch;
  auto images = scratch.path() / "images";
  EXPECT_FALSE(has_images(images));
  fs::create_directories(images / "rootfs");
  EXPECT_TRUE(has_images(images));
  std::ofstream(images / "pages-1.img") << std::string(1000, 'p');
  std::ofstream(images / "rootfs" / "cache") << std::string(24, 'c');
  EXPECT_EQ(directory_bytes(images), 1024u);
  EXPECT_EQ(directory_bytes(scratch.path() / "missing"), 0u);
}

TEST(criu, caches_outside_the_process_go_with_the_images_and_come_back) {
  scratch_dir scratch;
  auto cache = scratch.path() / "cache" / "triton";
  fs::create_directories(cache / "kernels");
  std::ofstream(cache / "kernels" / "a.so") << "compiled";
  auto images = scratch.path() / "images";
  fs::create_directories(images);
  EXPECT_TRUE(save_rootfs(images, {cache.string(), (scratch.path() / "missing").string()}).empty());
  auto kept = images / "rootfs" / cache.relative_path() / "kernels" / "a.so";
  ASSERT_TRUE(fs::exists(kept)) << kept;

  fs::remove_all(scratch.path() / "cache"); // another container: the cache is not there
  EXPECT_TRUE(restore_rootfs(images).empty());
  std::ifstream restored(cache / "kernels" / "a.so");
  std::string content;
  restored >> content;
  EXPECT_EQ(content, "compiled");
  EXPECT_TRUE(restore_rootfs(scratch.path() / "no-images").empty());
}

TEST(criu, a_leftover_restore_is_found_only_while_it_serves_the_port) {
  scratch_dir scratch;
  auto checkpoint = tools();
  checkpoint.images_dir = scratch.path();
  auto files = files_of(checkpoint, "m");
  EXPECT_FALSE(leftover_restore(files, 4321)); // no pid file
  // A process whose command line serves port 4321, as a restored engine's does.
  child_process engine({"/bin/sh", "-c", "sleep 30; :", "--port", "4321"}, {});
  fs::create_directories(files.model_dir);
  std::ofstream(files.restore_pidfile) << engine.pid() << '\n';
  auto found = leftover_restore(files, 4321);
  for (int tries = 0; tries < 100 && !found; ++tries) { // until the child has run exec
    std::this_thread::sleep_for(20ms);
    found = leftover_restore(files, 4321);
  }
  EXPECT_EQ(found, engine.pid());
  EXPECT_FALSE(leftover_restore(files, 4322)); // the pid now serves something else
  std::ofstream(files.restore_pidfile) << "garbage\n";
  EXPECT_FALSE(leftover_restore(files, 4321));
}

TEST(gpu, compute_apps_are_read_and_strays_are_the_unknown_ones) {
  auto apps = parse_compute_apps("4242, 73728\n  77, 512 \n[N/A], 3\n\n88, [N/A]\n");
  EXPECT_EQ(apps, (std::vector<gpu_process>{{4242, 73728}, {77, 512}}));
  EXPECT_EQ(strays(apps, {4242}), (std::vector<gpu_process>{{77, 512}}));
  EXPECT_TRUE(strays(apps, {4242, 77}).empty());
  EXPECT_TRUE(parse_compute_apps("").empty());
}

TEST(gpu, without_nvidia_smi_nothing_is_known) {
  EXPECT_FALSE(gpu_processes("/nonexistent/nvidia-smi", 5s));
  EXPECT_FALSE(gpu_memory_used_mib("/nonexistent/nvidia-smi", 5s));
}

TEST(tool, runs_with_its_output_captured) {
  auto result = run_tool({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}, 10s);
  EXPECT_EQ(result.status, 3);
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.out, "out\n");
  EXPECT_EQ(result.err, "err\n");
  EXPECT_EQ(result.failure(), "err");
  EXPECT_TRUE(run_tool({"/bin/true"}, 10s).ok());
}

TEST(tool, one_that_takes_too_long_is_killed_with_its_group) {
  auto began = std::chrono::steady_clock::now();
  auto result = run_tool({"/bin/sh", "-c", "sleep 30 & sleep 30"}, 300ms);
  EXPECT_TRUE(result.timed_out);
  EXPECT_EQ(result.failure(), "timed out");
  EXPECT_LT(std::chrono::steady_clock::now() - began, 5s);
}

TEST(tool, a_missing_tool_says_so) {
  auto result = run_tool({"/nonexistent/criu", "check"}, 10s);
  EXPECT_EQ(result.status, 127);
  EXPECT_NE(result.failure().find("cannot run '/nonexistent/criu'"), std::string::npos)
    << result.failure();
}

TEST(tool, a_child_environment_is_this_one_with_the_overrides_set) {
  ::setenv("LLMUX_DRIVERS_TEST", "inherited", 1);
  ::setenv("LLMUX_DRIVERS_TEST_KEPT", "kept", 1);
  auto environment
    = child_environment({"LLMUX_DRIVERS_TEST=first", "NEW_ONE=x", "LLMUX_DRIVERS_TEST=last"});
  auto count = [&](const std::string& entry) {
    return std::count(environment.begin(), environment.end(), entry);
  };
  EXPECT_EQ(count("LLMUX_DRIVERS_TEST=last"), 1);
  EXPECT_EQ(count("LLMUX_DRIVERS_TEST=first"), 0);
  EXPECT_EQ(count("LLMUX_DRIVERS_TEST=inherited"), 0);
  EXPECT_EQ(count("LLMUX_DRIVERS_TEST_KEPT=kept"), 1); // a longer name is another variable
  EXPECT_EQ(count("NEW_ONE=x"), 1);
  auto pointers = exec_pointers(environment);
  EXPECT_EQ(pointers.size(), environment.size() + 1);
  EXPECT_EQ(pointers.back(), nullptr);
}

TEST(tool, privileged_tools_run_behind_sudo_without_a_prompt_unless_root) {
  EXPECT_EQ(privileged({"criu", "dump"}, true), (std::vector<std::string>{"criu", "dump"}));
  EXPECT_EQ(privileged({"criu", "dump"}, false),
            (std::vector<std::string>{"sudo", "-n", "criu", "dump"}));
}

TEST(process_tree, holds_the_root_and_its_descendants) {
  child_process shell({"/bin/sh", "-c", "sleep 30 & sleep 30 & wait"}, {});
  std::vector<pid_t> tree;
  for (int tries = 0; tries < 100 && tree.size() < 3; ++tries) {
    std::this_thread::sleep_for(20ms);
    tree = process_tree(shell.pid());
  }
  ASSERT_EQ(tree.size(), 3u);
  EXPECT_EQ(tree.front(), shell.pid());
  EXPECT_TRUE(process_tree(999999999).empty());
}

} // namespace
} // namespace llmux::checkpoint
