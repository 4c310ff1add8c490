#include "actors/engine.hpp"

#include <algorithm>
#include <atomic>
#include <csignal>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <thread>
#include <variant>

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/spawn_options.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "actors/process.hpp"
#include "checkpoint/criu.hpp"
#include "checkpoint/cuda_checkpoint.hpp"
#include "checkpoint/gpu.hpp"
#include "checkpoint/object_store.hpp"
#include "config/json_writer.hpp"
#include "http/client.hpp"

namespace llmux::actors {

namespace {

using namespace std::chrono_literals;

using engine_clock = std::chrono::steady_clock;

// A started engine is found ready within this (its readiness is the switch's critical path;
// a refused connection to a port not yet listening costs next to nothing).
constexpr auto start_poll_interval = 5ms;
constexpr auto exit_watch_interval = 250ms;
constexpr auto start_probe_timeout = 2s;
// Per-attempt limits of the control calls (the reference's); the operation's deadline
// (engine.hpp) bounds them all together.
constexpr auto sleep_attempt_timeout = 120s;
constexpr auto wake_attempt_timeout = 30s;
constexpr auto reload_attempt_timeout = 60s;
constexpr auto reset_attempt_timeout = 30s;
constexpr auto nccl_attempt_timeout = 30s;
constexpr auto nvidia_smi_timeout = 5s;
/// How long a wake waits for the GPU memory of strays it killed to be freed.
constexpr auto stray_release_wait = 2s;
constexpr auto stop_grace = 10s;
static_assert(stop_grace + 5s <= engine_deadlines::stop);
constexpr std::size_t error_body_excerpt = 300;
/// Control calls are tried this often, waiting 0.5 s then 1 s in between (as the reference).
constexpr int control_attempts = 3;

std::string describe(const http::http_result& result) {
  if (!result.complete) {
    return result.failure;
  }
  auto body = result.body.substr(0, error_body_excerpt);
  return body.empty() ? fmt::format("HTTP {}", result.status)
                      : fmt::format("HTTP {}: {}", result.status, body);
}

class vllm_engine_state {
public:
  static constexpr const char* name = "vllm_engine";

  explicit vllm_engine_state(engine_actor::stateful_pointer<vllm_engine_state> self) : self_(self) {
  }

  vllm_engine_state(const vllm_engine_state&) = delete;
  vllm_engine_state& operator=(const vllm_engine_state&) = delete;

  // A pending start gets an answer (CAF 0.17 sends nothing for a dropped promise); the
  // process is ended by its own destructor.
  ~vllm_engine_state() {
    if (starting_) {
      starting_->deliver(outcome::failure("engine actor stopped"));
    }
    stopping_ = true; // a transfer in progress ends at once
    end_upload();
  }

  engine_actor::behavior_type make_behavior(const config::model_config& model,
                                            const std::string& vllm_command,
                                            const engine_deadlines& deadlines,
                                            const config::timeouts_config& timeouts,
                                            std::optional<config::checkpoint_config> checkpoint,
                                            bool measure_gpu_memory, caf::actor owner);

private:
  caf::result<outcome> start();
  void tick();
  /// One liveness probe of a running engine; kills it after too many failures in a row.
  void check_liveness();
  /// One `/health` probe within the probe timeout (or `within`, if shorter): nothing when the
  /// engine answered 200, else what went wrong.
  std::optional<std::string> health_failure(std::chrono::milliseconds within);
  /// Whether the process has ended by itself; if so, tells whoever waits for it (a pending
  /// start, else the owner) and forgets it.
  bool noticed_exit();
  outcome control(const std::string& what, const std::string& path, const std::string& body,
                  std::chrono::seconds attempt_timeout, engine_clock::time_point deadline,
                  int attempts = control_attempts);
  plan_outcome run(const engine_plan& plan);
  outcome run_step(engine_step step, engine_clock::time_point deadline, const engine_plan& plan);
  outcome toggle_cuda(checkpoint::cuda_direction direction, engine_clock::time_point deadline);
  outcome dump(const engine_plan& plan, engine_clock::time_point deadline);
  outcome restore(engine_clock::time_point deadline);
  /// Uploads the images in the background (a switch does not wait for the object store); the
  /// local copy stays what counts, so a failure is only logged.
  outcome start_upload();
  /// Cancels the upload in progress, if any, and waits until it has stopped: its images are
  /// about to change (a new dump, a deletion) or the actor ends.
  void end_upload();
  /// Fetches the images from the object store when there is no local copy.
  outcome download(engine_clock::time_point deadline);
  /// An engine that an earlier llmux restored and left running (it crashed) would hold the
  /// port and the GPU: it is ended before this one starts anything.
  void end_leftover_restore();
  /// Before the engine takes GPU memory: reports the processes that hold some and that llmux
  /// did not start, and with `checkpoint.kill_strays` kills them (spec §5.11, without the
  /// reference's host-wide kill of every process that maps an NVIDIA device).
  void sweep_strays();
  /// Starts the health polling (start-up) and liveness probes (running), unless they run.
  void keep_ticking();
  /// Spawned and adopted engines log the same way; checkpointing ones write to files CRIU can
  /// dump.
  process_spec output_spec() const;
  outcome stop();
  outcome probe();
  /// GPU memory the engine's processes hold, per GPU in MiB; 0 when not measured (no memory
  /// budget, no running process, nvidia-smi cannot tell).
  std::uint64_t gpu_memory_mib() const;

  std::string url(const std::string& path) const {
    return fmt::format("http://127.0.0.1:{}{}", model_.port, path);
  }

  engine_actor::stateful_pointer<vllm_engine_state> self_;
  config::model_config model_;
  std::string vllm_command_;
  engine_deadlines deadlines_;
  config::timeouts_config timeouts_;
  caf::actor owner_;
  std::shared_ptr<spdlog::logger> log_;
  std::optional<config::checkpoint_config> checkpoint_;
  /// Where this model's images and engine logs live (with `checkpoint_`).
  checkpoint::model_files files_;
  /// The images the next restore reads: `checkpoint_path` until the first dump, then `files_`.
  std::filesystem::path restore_from_;
  /// The running process was restored from `files_.images` as a dump of this actor with
  /// `images_plan_` wrote them: with `keep_images`, evicting it the same way again only ends
  /// it; without, they are deleted (never images this actor did not write).
  bool restored_from_images_ = false;
  std::vector<engine_step> images_plan_;
  /// Its CUDA state is in host memory: it cannot answer /health until resumed, and is not
  /// probed.
  bool suspended_ = false;
  std::optional<checkpoint::object_store> store_;
  std::thread upload_;
  /// Set when the actor ends: a download in progress stops.
  std::atomic<bool> stopping_{false};
  /// Stops the upload in progress (`end_upload`).
  std::atomic<bool> cancel_upload_{false};
  /// The images in `files_.images` are being uploaded, or have been: an eviction that reused
  /// them (no new dump) does not send them again.
  std::atomic<bool> upload_running_{false};
  std::atomic<bool> uploaded_current_{false};
  std::unique_ptr<engine_process> process_;
  std::optional<caf::typed_response_promise<outcome>> starting_;
  engine_clock::time_point start_began_;
  engine_clock::time_point last_probe_;
  std::uint64_t probe_misses_ = 0;
  /// The engine stopped answering: stopping it skips the SIGTERM grace.
  bool hung_ = false;
  bool ticking_ = false;
  /// A memory budget plans with what the engine holds: read after each start, wake and sleep.
  bool measure_gpu_memory_ = false;
};

engine_actor::behavior_type vllm_engine_state::make_behavior(
  const config::model_config& model, const std::string& vllm_command,
  const engine_deadlines& deadlines, const config::timeouts_config& timeouts,
  std::optional<config::checkpoint_config> checkpoint, bool measure_gpu_memory, caf::actor owner) {
  model_ = model;
  measure_gpu_memory_ = measure_gpu_memory;
  vllm_command_ = vllm_command;
  deadlines_ = deadlines;
  timeouts_ = timeouts;
  checkpoint_ = std::move(checkpoint);
  owner_ = std::move(owner);
  log_ = spdlog::get("model");
  if (checkpoint_) {
    files_ = checkpoint::files_of(*checkpoint_, model_.name);
    restore_from_ = model_.checkpoint_path.value_or(files_.images.string());
    if (checkpoint_->object_store) {
      store_.emplace(*checkpoint_->object_store);
    }
    end_leftover_restore();
  }
  return {
    [this](start_atom) -> caf::result<outcome> { return start(); },
    [this](run_atom, const engine_plan& plan) { return run(plan); },
    [this](stop_atom) { return stop(); },
    [this](detach_atom) {
      if (process_) {
        log_->info("{}: leaving engine pid {} running", model_.name, process_->pid());
        process_->release();
        process_.reset();
      }
      return outcome{};
    },
    [this](probe_atom) { return probe(); },
    [this](tick_atom) { tick(); },
  };
}

caf::result<outcome> vllm_engine_state::start() {
  if (process_ && !process_->exit_status()) {
    return outcome{};
  }
  if (starting_) {
    return outcome::failure("a start is already running");
  }
  sweep_strays();
  auto spec = output_spec();
  spec.executable = vllm_command_;
  spec.arguments = config::engine_arguments(model_);
  spec.environment = {"NO_COLOR=1", "VLLM_SERVER_DEV_MODE=1"};
  if (!spec.stdout_file.empty()) {
    // io_uring and libuv descriptors cannot be checkpointed.
    spec.environment.insert(spec.environment.end(), {"UV_USE_IO_URING=0", "USE_LIBUV=0"});
    std::error_code error;
    std::filesystem::create_directories(files_.model_dir, error);
    if (error) {
      return outcome::failure(fmt::format("cannot create {} for the engine's logs: {}",
                                          files_.model_dir.string(), error.message()));
    }
  }
  std::string error;
  process_ = engine_process::spawn(spec, error);
  if (!process_) {
    return outcome::failure(error);
  }
  log_->info("{}: started engine pid {} on port {}", model_.name, process_->pid(), model_.port);
  start_began_ = engine_clock::now();
  probe_misses_ = 0;
  hung_ = false;
  suspended_ = false;
  restored_from_images_ = false;
  starting_ = self_->make_response_promise<outcome>();
  keep_ticking();
  return *starting_;
}

process_spec vllm_engine_state::output_spec() const {
  process_spec spec;
  spec.log_name = model_.name;
  // Pipes would be unix sockets, which CRIU cannot dump.
  bool checkpointing = model_.eviction.process == config::process_strategy::checkpoint
                       || model_.checkpoint_path.has_value();
  if (checkpoint_ && checkpointing) {
    spec.stdout_file = files_.stdout_log.string();
    spec.stderr_file = files_.stderr_log.string();
  }
  return spec;
}

void vllm_engine_state::end_leftover_restore() {
  auto leftover = checkpoint::leftover_restore(files_, model_.port);
  if (!leftover) {
    return;
  }
  log_->warn("{}: ending engine pid {}, restored by an earlier llmux and still running",
             model_.name, *leftover);
  engine_process::adopt(*leftover, {})->terminate(stop_grace);
  std::error_code error;
  std::filesystem::remove(files_.restore_pidfile, error);
}

outcome vllm_engine_state::start_upload() {
  if (!store_ || !checkpoint::has_images(files_.images) || upload_running_ || uploaded_current_) {
    return outcome{};
  }
  end_upload(); // a finished one: its thread is joined
  upload_running_ = true;
  upload_ = std::thread([this, images = files_.images] {
    auto began = engine_clock::now();
    auto where = store_->location(files_.store_prefix);
    auto uploaded = store_->upload_directory(images, files_.store_prefix,
                                             began + deadlines_.transfer, {}, &cancel_upload_);
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(engine_clock::now() - began);
    uploaded_current_ = uploaded.ok;
    upload_running_ = false;
    if (uploaded.ok) {
      log_->info("{}: uploaded {} files ({} MiB) to {} in {} ms", model_.name, uploaded.files,
                 uploaded.bytes >> 20, where, took.count());
    } else {
      log_->warn("{}: uploading the checkpoint to {} failed after {} ms: {}; the images in {} "
                 "stay the checkpoint",
                 model_.name, where, took.count(), uploaded.error, images.string());
    }
  });
  return outcome{};
}

void vllm_engine_state::end_upload() {
  if (upload_.joinable()) {
    cancel_upload_ = true;
    upload_.join();
    cancel_upload_ = false;
  }
}

outcome vllm_engine_state::download(engine_clock::time_point deadline) {
  if (!store_ || checkpoint::has_images(restore_from_)) {
    return outcome{}; // the local copy is what counts
  }
  auto where = store_->location(files_.store_prefix);
  log_->info("{}: no images in {}; downloading them from {}", model_.name, restore_from_.string(),
             where);
  auto began = engine_clock::now();
  auto downloaded
    = store_->download_directory(files_.store_prefix, restore_from_, deadline, {}, &stopping_);
  if (!downloaded.ok) {
    return outcome::failure(downloaded.error);
  }
  log_->info(
    "{}: downloaded {} files ({} MiB) from {} in {} ms", model_.name, downloaded.files,
    downloaded.bytes >> 20, where,
    std::chrono::duration_cast<std::chrono::milliseconds>(engine_clock::now() - began).count());
  return outcome{};
}

void vllm_engine_state::sweep_strays() {
  // With the checkpoint tiers only: they are where GPU memory is accounted exactly, and a
  // query of nvidia-smi costs a switch tens of milliseconds.
  if (!checkpoint_) {
    return;
  }
  auto on_gpu = checkpoint::gpu_processes("nvidia-smi", nvidia_smi_timeout);
  if (!on_gpu) {
    return; // no nvidia-smi, no driver: nothing to tell
  }
  std::set<pid_t> known;
  for (auto root : managed_engines()) {
    for (auto pid : checkpoint::process_tree(root)) {
      known.insert(pid);
    }
  }
  auto found = checkpoint::strays(*on_gpu, known);
  // In a container nvidia-smi may name processes of the host's pid namespace: only those that
  // exist here are llmux's to judge.
  std::erase_if(found, [](const checkpoint::gpu_process& process) {
    std::error_code error;
    return !std::filesystem::exists(fmt::format("/proc/{}", process.pid), error);
  });
  for (const auto& stray : found) {
    log_->warn("{}: GPU process pid {} ({}) holds {} MiB and was not started by llmux{}",
               model_.name, stray.pid, checkpoint::command_line_of(stray.pid), stray.used_mib,
               checkpoint_->kill_strays ? "; killing it (checkpoint.kill_strays)"
                                        : "; left alone (checkpoint.kill_strays is off)");
    if (checkpoint_->kill_strays) {
      ::kill(stray.pid, SIGKILL);
    }
  }
  if (found.empty() || !checkpoint_->kill_strays) {
    return;
  }
  // The driver frees a killed process's memory shortly after it is gone.
  auto until = engine_clock::now() + stray_release_wait;
  while (engine_clock::now() < until) {
    auto now_on_gpu = checkpoint::gpu_processes("nvidia-smi", nvidia_smi_timeout);
    bool freed = !now_on_gpu || std::none_of(found.begin(), found.end(), [&](const auto& killed) {
      return std::any_of(now_on_gpu->begin(), now_on_gpu->end(),
                         [&](const auto& process) { return process.pid == killed.pid; });
    });
    if (freed) {
      return;
    }
    std::this_thread::sleep_for(50ms);
  }
}

void vllm_engine_state::keep_ticking() {
  if (!ticking_) {
    ticking_ = true;
    self_->delayed_send(self_, start_poll_interval, tick_atom_v);
  }
}

// While starting: poll /health. While running: notice when the process ends by itself.
void vllm_engine_state::tick() {
  ticking_ = false;
  if (!process_ || noticed_exit()) {
    return;
  }
  if (starting_) {
    if (http::http_request("GET", url("/health"), "", {}, start_probe_timeout).status == 200) {
      auto took = engine_clock::now() - start_began_;
      log_->info("{}: engine healthy after {} ms", model_.name,
                 std::chrono::duration_cast<std::chrono::milliseconds>(took).count());
      auto started = outcome{};
      started.gpu_memory_mib = gpu_memory_mib();
      starting_->deliver(std::move(started));
      starting_.reset();
      last_probe_ = engine_clock::now();
    } else if (engine_clock::now() - start_began_ > deadlines_.start) {
      process_->terminate(stop_grace);
      process_.reset();
      starting_->deliver(outcome::failure(
        fmt::format("engine did not become healthy within {} s", deadlines_.start.count())));
      starting_.reset();
      return;
    }
  } else if (!suspended_
             && engine_clock::now() - last_probe_
                  >= std::chrono::milliseconds(timeouts_.health_interval_ms)) {
    check_liveness();
    if (!process_) {
      return;
    }
  }
  ticking_ = true;
  self_->delayed_send(self_, starting_ ? start_poll_interval : exit_watch_interval, tick_atom_v);
}

std::optional<std::string> vllm_engine_state::health_failure(std::chrono::milliseconds within) {
  auto limit = std::min(std::chrono::milliseconds(timeouts_.health_timeout_ms), within);
  if (limit <= std::chrono::milliseconds(0)) {
    return "no time left for a probe";
  }
  auto probe = http::http_request("GET", url("/health"), "", {}, limit);
  if (probe.complete && probe.status == 200) {
    return std::nullopt;
  }
  return describe(probe);
}

bool vllm_engine_state::noticed_exit() {
  auto status = process_->exit_status();
  if (!status) {
    return false;
  }
  auto reason = *status < 0 ? std::string("engine exited")
                            : fmt::format("engine exited with status {}", *status);
  process_.reset();
  if (starting_) {
    starting_->deliver(outcome::failure(reason + " during start-up"));
    starting_.reset();
  } else {
    caf::anon_send(owner_, down_atom_v, reason);
  }
  return true;
}

// A process that runs but does not answer (SIGSTOP, a deadlock, a wedged GPU) would hold its
// requests and the GPU forever: after `health_misses` failed probes in a row it is killed, and
// the owner hears that it is down.
void vllm_engine_state::check_liveness() {
  last_probe_ = engine_clock::now();
  auto failure = health_failure(std::chrono::milliseconds(timeouts_.health_timeout_ms));
  if (!failure) {
    probe_misses_ = 0;
    return;
  }
  ++probe_misses_;
  log_->warn("{}: health probe {} of {} failed: {}", model_.name, probe_misses_,
             timeouts_.health_misses, *failure);
  if (probe_misses_ < timeouts_.health_misses) {
    return;
  }
  log_->error("{}: engine pid {} stopped answering /health; killing it", model_.name,
              process_->pid());
  process_->terminate(0ms);
  process_.reset();
  caf::anon_send(owner_, down_atom_v,
                 fmt::format("the engine stopped answering /health ({} probes in a row failed, "
                             "the last: {}) and was killed",
                             probe_misses_, *failure));
}

outcome vllm_engine_state::control(const std::string& what, const std::string& path,
                                   const std::string& body, std::chrono::seconds attempt_timeout,
                                   engine_clock::time_point deadline, int attempts) {
  std::string failure;
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    // A process that died since the last exit check is reported as a death, not as a failed
    // call, so the scheduler counts it against the model.
    if (!process_ || noticed_exit()) {
      return outcome::failure(fmt::format("{}: the engine is not running", what));
    }
    // Everything below, the checks and the pauses included, stays within the deadline.
    auto left_until = [deadline] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - engine_clock::now());
    };
    if (left_until() <= 0ms) {
      failure += " (the operation's deadline passed)";
      break;
    }
    // A hung engine would hold the call for its whole timeout (minutes for a sleep): one that
    // does not even answer /health fails the operation at once, and the caller escalates.
    if (health_failure(left_until())) {
      hung_ = true;
      return outcome::failure(fmt::format("{}: the engine does not answer /health within {} ms",
                                          what, timeouts_.health_timeout_ms));
    }
    auto left = left_until();
    if (left <= 0ms) {
      failure += " (the operation's deadline passed)";
      break;
    }
    auto result = http::http_request("POST", url(path), body, {},
                                     std::min<std::chrono::milliseconds>(attempt_timeout, left));
    if (result.complete && result.status >= 200 && result.status < 300) {
      return outcome{};
    }
    failure = describe(result);
    if (result.timed_out) {
      hung_ = true;
      break; // a hung engine would not answer a second time either
    }
    if (attempt < attempts) {
      log_->warn("{}: {} failed ({}); trying again", model_.name, what, failure);
      // This actor has a thread of its own: waiting here blocks no one else.
      std::this_thread::sleep_for(
        std::min<std::chrono::milliseconds>(attempt == 1 ? 500ms : 1s, left_until()));
    }
  }
  return outcome::failure(fmt::format("{} failed: {}", what, failure));
}

plan_outcome vllm_engine_state::run(const engine_plan& plan) {
  plan_outcome out;
  if (!evicts(plan.steps)) {
    sweep_strays();
  }
  // Each phase's deadline starts with its first step and bounds all its steps together.
  std::vector<std::pair<step_phase, engine_clock::time_point>> deadlines;
  for (auto step : plan.steps) {
    auto phase = phase_of(step);
    auto known = std::find_if(deadlines.begin(), deadlines.end(),
                              [phase](const auto& entry) { return entry.first == phase; });
    if (known == deadlines.end()) {
      deadlines.emplace_back(phase, engine_clock::now() + deadlines_.phase(phase));
      known = deadlines.end() - 1;
    }
    auto began = engine_clock::now();
    auto done = run_step(step, known->second, plan);
    if (!done.ok) {
      out.ok = false;
      out.error = done.error;
      return out;
    }
    log_->debug(
      "{}: {} took {} ms", model_.name, to_string(step),
      std::chrono::duration_cast<std::chrono::milliseconds>(engine_clock::now() - began).count());
    ++out.completed;
  }
  out.gpu_memory_mib = gpu_memory_mib();
  return out;
}

std::uint64_t vllm_engine_state::gpu_memory_mib() const {
  if (!measure_gpu_memory_ || !process_ || suspended_) {
    return 0;
  }
  auto on_gpu = checkpoint::gpu_processes("nvidia-smi", nvidia_smi_timeout);
  if (!on_gpu) {
    return 0;
  }
  auto tree = checkpoint::process_tree(process_->pid());
  std::uint64_t held = 0;
  for (const auto& process : *on_gpu) {
    if (std::find(tree.begin(), tree.end(), process.pid) != tree.end()) {
      held += process.used_mib;
    }
  }
  // With tensor parallelism the engine spreads over as many GPUs; budgets are per GPU.
  return held / std::max<std::uint64_t>(1, config::tensor_parallel_size(model_));
}

outcome vllm_engine_state::run_step(engine_step step, engine_clock::time_point deadline,
                                    const engine_plan& plan) {
  switch (step) {
    case engine_step::vllm_sleep_1:
      return control("sleep level 1", "/sleep?level=1", "", sleep_attempt_timeout, deadline);
    case engine_step::vllm_sleep_2:
      return control("sleep level 2", "/sleep?level=2", "", sleep_attempt_timeout, deadline);
    case engine_step::suspend_nccl:
      return control("suspend_nccl", "/collective_rpc", R"({"method":"suspend_nccl"})",
                     nccl_attempt_timeout, deadline);
    case engine_step::cuda_suspend:
      return toggle_cuda(checkpoint::cuda_direction::suspend, deadline);
    case engine_step::criu_dump:
      return dump(plan, deadline);
    case engine_step::criu_restore:
      return restore(deadline);
    case engine_step::cuda_resume:
      return toggle_cuda(checkpoint::cuda_direction::resume, deadline);
    case engine_step::resume_nccl:
      return control("resume_nccl", "/collective_rpc", R"({"method":"resume_nccl"})",
                     nccl_attempt_timeout, deadline);
    case engine_step::vllm_wake_up:
      return control("wake_up", "/wake_up", "", wake_attempt_timeout, deadline);
    case engine_step::reload_weights:
      // Level 2 discarded the weights: they hold garbage until reloaded.
      return control("reload_weights", "/collective_rpc", R"({"method":"reload_weights"})",
                     reload_attempt_timeout, deadline);
    case engine_step::reset_prefix_cache:
      if (auto reset = control("reset_prefix_cache", "/reset_prefix_cache", "",
                               reset_attempt_timeout, deadline);
          !reset.ok) {
        log_->warn("{}: {}", model_.name, reset.error); // a stale cache costs hits, not answers
      }
      return outcome{};
    case engine_step::upload_images:
      return start_upload();
    case engine_step::download_images:
      return download(deadline);
    case engine_step::stop:
    case engine_step::cold_start:
      break;
  }
  return outcome::failure(fmt::format("{} is not a step this engine runs", to_string(step)));
}

outcome vllm_engine_state::toggle_cuda(checkpoint::cuda_direction direction,
                                       engine_clock::time_point deadline) {
  if (!checkpoint_) {
    return outcome::failure(
      "cuda-checkpoint needs the top-level \"checkpoint\" section (cuda_checkpoint_path)");
  }
  if (!process_ || noticed_exit()) {
    return outcome::failure("the engine is not running");
  }
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - engine_clock::now());
  if (auto error = checkpoint::toggle_tree(checkpoint_->cuda_checkpoint_path, process_->pid(),
                                           direction, left)) {
    return outcome::failure(*error);
  }
  suspended_ = direction == checkpoint::cuda_direction::suspend;
  last_probe_ = engine_clock::now();
  return outcome{};
}

outcome vllm_engine_state::dump(const engine_plan& plan, engine_clock::time_point deadline) {
  if (!checkpoint_) {
    return outcome::failure("a CRIU checkpoint needs the top-level \"checkpoint\" section");
  }
  if (!process_ || noticed_exit()) {
    return outcome::failure("the engine is not running");
  }
  // Restored from these very images and evicted the same way: dumping again would write what
  // they already hold (the sleep dropped the KV cache), so the process only ends.
  if (checkpoint_->keep_images && restored_from_images_ && plan.steps == images_plan_
      && checkpoint::has_images(files_.images)) {
    log_->info("{}: its images in {} still hold this engine; ending it without a new dump",
               model_.name, files_.images.string());
    process_->terminate(0ms);
    process_.reset();
    restore_from_ = files_.images;
    return outcome{};
  }
  end_upload(); // the dump replaces the images it may still be sending
  uploaded_current_ = false;
  auto began = engine_clock::now();
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - began);
  if (auto error = checkpoint::dump(*checkpoint_, files_.images, process_->pid(), left)) {
    return outcome::failure(*error); // the process may live on: the model actor stops it
  }
  // CRIU ends the dumped tree; whatever is left of it goes too.
  process_->terminate(0ms);
  process_.reset();
  checkpoint::record_weights(files_.images, weights_of(plan.steps));
  for (const auto& failure : checkpoint::save_rootfs(files_.images, checkpoint_->rootfs_dirs)) {
    log_->warn("{}: not kept with the images: {}", model_.name, failure);
  }
  restore_from_ = files_.images;
  images_plan_ = plan.steps;
  restored_from_images_ = false;
  log_->info(
    "{}: checkpointed to {} ({} MiB) in {} ms", model_.name, files_.images.string(),
    checkpoint::directory_bytes(files_.images) >> 20,
    std::chrono::duration_cast<std::chrono::milliseconds>(engine_clock::now() - began).count());
  return outcome{};
}

outcome vllm_engine_state::restore(engine_clock::time_point deadline) {
  if (!checkpoint_) {
    return outcome::failure("a CRIU restore needs the top-level \"checkpoint\" section");
  }
  if (process_ && !noticed_exit()) {
    return outcome::failure("the engine is already running");
  }
  auto began = engine_clock::now();
  auto left = [deadline] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - engine_clock::now());
  };
  for (const auto& failure : checkpoint::restore_rootfs(restore_from_)) {
    log_->warn("{}: not put back before the restore: {}", model_.name, failure);
  }
  auto restored = checkpoint::restore(*checkpoint_, restore_from_, files_.restore_pidfile, left());
  if (auto* error = std::get_if<std::string>(&restored)) {
    return outcome::failure(*error);
  }
  auto pid = std::get<pid_t>(restored);
  process_ = engine_process::adopt(pid, output_spec());
  std::optional<std::string> unhealthy = "not probed yet";
  while (unhealthy && left() > 0ms && !process_->exit_status()) {
    unhealthy = health_failure(left());
    if (unhealthy) {
      std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(start_poll_interval, left()));
    }
  }
  if (unhealthy) {
    auto why = process_->exit_status() ? std::string("it exited") : *unhealthy;
    process_->terminate(0ms);
    process_.reset();
    return outcome::failure(fmt::format("the engine restored from {} did not become healthy: {}",
                                        restore_from_.string(), why));
  }
  restored_from_images_ = restore_from_ == files_.images && !images_plan_.empty();
  if (restored_from_images_ && !checkpoint_->keep_images) {
    end_upload();
    uploaded_current_ = false;
    std::error_code error;
    std::filesystem::remove_all(files_.images, error);
    restored_from_images_ = false;
  }
  log_->info(
    "{}: restored from {} as pid {} in {} ms", model_.name, restore_from_.string(), pid,
    std::chrono::duration_cast<std::chrono::milliseconds>(engine_clock::now() - began).count());
  probe_misses_ = 0;
  hung_ = false;
  suspended_ = false;
  last_probe_ = engine_clock::now();
  keep_ticking();
  return outcome{};
}

outcome vllm_engine_state::probe() {
  return control("warmup inference", "/v1/chat/completions", warmup_request_body(model_),
                 engine_deadlines::probe, engine_clock::now() + engine_deadlines::probe, 1);
}

outcome vllm_engine_state::stop() {
  if (starting_) {
    starting_->deliver(outcome::failure("engine stopped during start-up"));
    starting_.reset();
  }
  if (process_) {
    // A hung engine would not act on SIGTERM: it gets SIGKILL at once.
    process_->terminate(hung_ ? 0ms : stop_grace);
    log_->info("{}: engine stopped{}", model_.name, hung_ ? " (killed: it had hung)" : "");
    process_.reset();
  }
  return outcome{};
}

engine_actor::behavior_type vllm_engine_impl(engine_actor::stateful_pointer<vllm_engine_state> self,
                                             config::model_config model, std::string vllm_command,
                                             engine_deadlines deadlines,
                                             config::timeouts_config timeouts,
                                             std::optional<config::checkpoint_config> checkpoint,
                                             bool measure_gpu_memory, caf::actor owner) {
  return self->state.make_behavior(model, vllm_command, deadlines, timeouts, std::move(checkpoint),
                                   measure_gpu_memory, std::move(owner));
}

} // namespace

std::string warmup_request_body(const config::model_config& model) {
  config::json_writer body(config::json_writer::layout::compact);
  body.begin_object();
  body.key("model");
  body.string(model.model_path);
  body.key("messages");
  body.begin_array();
  body.begin_object();
  body.key("role");
  body.string("user");
  body.key("content");
  body.string("What is 2+2? Reply with just the number.");
  body.end_object();
  body.end_array();
  body.key("temperature");
  body.real(0.0);
  body.key("seed");
  body.integer(42);
  body.key("max_tokens");
  body.integer(10);
  body.end_object();
  return body.str();
}

engine_actor spawn_vllm_engine(caf::actor_system& system, const config::model_config& model,
                               const std::string& vllm_command, const engine_deadlines& deadlines,
                               const config::timeouts_config& timeouts,
                               const std::optional<config::checkpoint_config>& checkpoint,
                               bool measure_gpu_memory, caf::actor owner) {
  return system.spawn<caf::detached>(vllm_engine_impl, model, vllm_command, deadlines, timeouts,
                                     checkpoint, measure_gpu_memory, std::move(owner));
}

} // namespace llmux::actors
