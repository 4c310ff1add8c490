#include "tools/llmux/flows.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <thread>
#include <unistd.h>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <fmt/format.h>
#include <simdjson.h>

#include "actors/engine.hpp"
#include "actors/messages.hpp"
#include "actors/model.hpp"
#include "checkpoint/criu.hpp"
#include "checkpoint/gpu.hpp"
#include "checkpoint/object_store.hpp"
#include "http/client.hpp"

namespace llmux::flows {

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

constexpr int succeeded = 0;
constexpr int failed = 1;
constexpr auto nvidia_smi_timeout = 5s;
constexpr auto answer_timeout = 30s;
/// After a sleep, before the GPU is read: the driver frees memory shortly after the call.
constexpr auto settle_time = 1s;

/// One step that takes a while: on a terminal one line, redrawn with the time so far (and the
/// bytes of a transfer); otherwise a line when it begins, one every 10 s, and one at its end.
class progress_line {
public:
  explicit progress_line(std::string what)
    : what_(std::move(what)), began_(clock_type::now()), terminal_(::isatty(STDERR_FILENO) != 0) {
    std::fflush(stdout); // what was printed before comes before
    if (!terminal_) {
      fmt::print(stderr, "{}...\n", what_);
    }
    ticker_ = std::thread([this] { tick(); });
  }

  progress_line(const progress_line&) = delete;
  progress_line& operator=(const progress_line&) = delete;

  ~progress_line() {
    finish("stopped");
  }

  /// What a transfer has moved so far.
  void bytes(std::uint64_t done, std::uint64_t total) {
    std::lock_guard lock(mutex_);
    detail_ = fmt::format(", {} of {} MiB", done >> 20, total >> 20);
  }

  /// Ends the line with `result`; the seconds the step took.
  double finish(std::string_view result) {
    {
      std::lock_guard lock(mutex_);
      if (done_) {
        return seconds();
      }
      done_ = true;
    }
    woken_.notify_all();
    ticker_.join();
    fmt::print(stderr, "{}{}: {} after {:.1f} s\n", terminal_ ? "\r\033[K" : "", what_, result,
               seconds());
    return seconds();
  }

private:
  double seconds() const {
    return std::chrono::duration<double>(clock_type::now() - began_).count();
  }

  void tick() {
    std::unique_lock lock(mutex_);
    auto interval = terminal_ ? 200ms : 10s;
    while (!woken_.wait_for(lock, interval, [this] { return done_; })) {
      if (terminal_) {
        fmt::print(stderr, "\r\033[K{}... {:.1f} s{}", what_, seconds(), detail_);
      } else {
        fmt::print(stderr, "{}: {:.0f} s so far{}\n", what_, seconds(), detail_);
      }
      std::fflush(stderr);
    }
  }

  std::string what_;
  clock_type::time_point began_;
  bool terminal_;
  std::mutex mutex_;
  std::condition_variable woken_;
  bool done_ = false;
  std::string detail_;
  std::thread ticker_;
};

/// One model's actor (and through it its engine) on an actor system of its own; each call
/// waits for the answer within the model actor's own bound.
class one_model {
public:
  one_model(const config::config& cfg, const config::model_config& model)
    : system_(configured(system_config_)), self_(system_),
      deadlines_(actors::engine_deadlines::from(cfg)) {
    // No object store here: the flows move the images themselves, with progress shown.
    actor_ = actors::spawn_model(
      system_, model, deadlines_,
      actors::vllm_engines(cfg.vllm_command, deadlines_, cfg.timeouts, cfg.checkpoint),
      caf::actor_cast<caf::actor>(self_), false);
  }

  one_model(const one_model&) = delete;
  one_model& operator=(const one_model&) = delete;

  // The engine ends with the model actor (unless it was detached).
  ~one_model() {
    caf::anon_send_exit(actor_, caf::exit_reason::user_shutdown);
  }

  actors::outcome activate() {
    return ask(deadlines_.activate() + actors::engine_deadlines::margin, actors::activate_atom_v);
  }

  actors::outcome evict(const config::eviction_policy& eviction) {
    return ask(deadlines_.evict() + actors::engine_deadlines::margin, actors::evict_atom_v,
               eviction);
  }

  actors::outcome stop() {
    return ask(deadlines_.stop_reply() + actors::engine_deadlines::margin, actors::stop_atom_v);
  }

  actors::outcome detach() {
    return ask(2 * actors::engine_deadlines::margin, actors::detach_atom_v);
  }

private:
  static caf::actor_system_config& configured(caf::actor_system_config& config) {
    config.add_message_types<caf::id_block::llmux>();
    return config;
  }

  template <class... Message>
  actors::outcome ask(std::chrono::milliseconds bound, Message... message) {
    auto answer = actors::outcome::failure("no answer");
    self_->request(actor_, bound, message...)
      .receive(
        [&answer](actors::outcome& result) { answer = std::move(result); },
        [&answer](caf::error& error) { answer = actors::outcome::failure(caf::to_string(error)); });
    return answer;
  }

  caf::actor_system_config system_config_;
  caf::actor_system system_;
  caf::scoped_actor self_;
  actors::engine_deadlines deadlines_;
  actors::model_actor actor_;
};

/// The reference's deterministic request to the engine: its answer text, or why there is none.
struct answer {
  bool ok = false;
  std::string text;
  std::string error;
};

answer ask_two_plus_two(const config::model_config& model) {
  auto result
    = http::http_request("POST", fmt::format("http://127.0.0.1:{}/v1/chat/completions", model.port),
                         actors::warmup_request_body(model), {}, answer_timeout);
  if (!result.complete) {
    return {false, {}, result.failure};
  }
  if (result.status < 200 || result.status >= 300) {
    return {false, {}, fmt::format("HTTP {}: {}", result.status, result.body.substr(0, 300))};
  }
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(result.body).get(root)) {
    return {false, {}, "the answer is not JSON"};
  }
  std::string_view text;
  if (root.at_pointer("/choices/0/message/content").get_string().get(text)) {
    text = {}; // no content: the empty answer, as the reference takes it
  }
  return {true, std::string(text), {}};
}

std::optional<std::uint64_t> gpu_used() {
  return checkpoint::gpu_memory_used_mib("nvidia-smi", nvidia_smi_timeout);
}

std::string mib(std::optional<std::uint64_t> value) {
  return value ? fmt::format("{} MiB", *value) : std::string("n/a");
}

const config::model_config* find_model(const config::config& cfg, const std::string& name) {
  if (const auto* model = cfg.find_model(name)) {
    return model;
  }
  std::string names;
  for (const auto& model : cfg.models) {
    names += (names.empty() ? "" : ", ") + model.name;
  }
  fmt::print(stderr, "Model '{}' not found in config. Available: [{}]\n", name, names);
  return nullptr;
}

bool has_checkpoint_section(const config::config& cfg, std::string_view flag) {
  if (!cfg.checkpoint) {
    fmt::print(stderr,
               "{} needs the top-level \"checkpoint\" section of the configuration (criu_path, "
               "images_dir, ...)\n",
               flag);
  }
  return cfg.checkpoint.has_value();
}

// Starts the engine cold; false (and why, printed) when that failed.
bool start(one_model& engine, const std::string& name) {
  progress_line starting(fmt::format("starting {}", name));
  auto started = engine.activate();
  starting.finish(started.ok ? "running" : "failed");
  if (!started.ok) {
    fmt::print(stderr, "{}\n", started.error);
  }
  return started.ok;
}

/// A transfer's progress callback that feeds `line`.
checkpoint::progress_callback bytes_to(progress_line& line) {
  return [&line](const checkpoint::transfer_progress& progress) {
    line.bytes(progress.bytes_done, progress.bytes_total);
  };
}

// Fails a validation row: the policy's error is printed, its numbers stay 0.
validation_row failed_row(const config::eviction_policy& policy, const std::string& why) {
  fmt::print(stderr, "{}: {}\n", config::to_spec(policy), why);
  return {policy};
}

} // namespace

std::string validation_table(const std::vector<validation_row>& rows) {
  auto text
    = fmt::format("{:<20} {:>9} {:>9} {:>12} {:>12} {:>12} {:<9} {}\n", "Policy", "Sleep (s)",
                  "Wake (s)", "GPU Before", "GPU After", "GPU Wake", "Response", "Pass");
  bool all_passed = !rows.empty();
  for (const auto& row : rows) {
    text += fmt::format("{:<20} {:>9.2f} {:>9.2f} {:>12} {:>12} {:>12} {:<9} {}\n",
                        config::display_name(row.policy), row.sleep_secs, row.wake_secs,
                        mib(row.gpu_before), mib(row.gpu_after), mib(row.gpu_woken),
                        row.answer_matches ? "match" : "MISMATCH", row.passed ? "OK" : "FAIL");
    all_passed = all_passed && row.passed;
  }
  return text + (all_passed ? "Result: ALL PASSED\n" : "Result: SOME FAILED\n");
}

config::load_options load_options_for(const config::cli_options& options) {
  config::load_options load;
  load.port_override = options.port;
  if (!options.check_config) {
    load.gpu_total_mib
      = [] { return checkpoint::gpu_memory_total_mib("nvidia-smi", nvidia_smi_timeout); };
  }
  return load;
}

int validate(const config::config& cfg, const config::cli_options& options) {
  const auto* found = find_model(cfg, *options.validate_model);
  if (found == nullptr) {
    return failed;
  }
  auto model = *found;
  model.checkpoint_path.reset(); // validation starts cold
  // An engine that some policy checkpoints starts ready for CRIU.
  for (const auto& policy : options.validate_policies) {
    if (policy.needs_criu()) {
      model.eviction = policy;
    }
  }
  one_model engine(cfg, model);
  fmt::print("Starting model '{}'...\n", model.name);
  if (!start(engine, model.name)) {
    return failed;
  }
  auto baseline = ask_two_plus_two(model);
  if (!baseline.ok) {
    fmt::print(stderr, "the baseline request failed: {}\n", baseline.error);
    return failed;
  }
  fmt::print("Model is running. Baseline answer: \"{}\"\n", baseline.text);

  std::vector<validation_row> rows;
  for (const auto& policy : options.validate_policies) {
    auto spec = config::to_spec(policy);
    validation_row row{policy};
    row.gpu_before = gpu_used();
    progress_line sleeping(fmt::format("sleeping with {}", spec));
    auto slept = engine.evict(policy);
    row.sleep_secs = sleeping.finish(slept.ok && slept.fallback.empty() ? "done" : "failed");
    if (!slept.ok || !slept.fallback.empty()) {
      rows.push_back(failed_row(policy, slept.ok ? slept.fallback : slept.error));
      if (!start(engine, model.name)) { // the next policy needs the engine up again
        break;
      }
      continue;
    }
    std::this_thread::sleep_for(settle_time);
    row.gpu_after = gpu_used();
    progress_line waking(fmt::format("waking from {}", spec));
    auto woken = engine.activate();
    row.wake_secs = waking.finish(woken.ok && woken.fallback.empty() ? "done" : "failed");
    if (!woken.ok) {
      rows.push_back(failed_row(policy, woken.error));
      if (!start(engine, model.name)) {
        break;
      }
      continue;
    }
    row.gpu_woken = gpu_used();
    auto again = ask_two_plus_two(model);
    row.answer_matches = again.ok && again.text == baseline.text;
    if (!woken.fallback.empty()) {
      rows.push_back(failed_row(policy, woken.fallback)); // it answers, but not woken as asked
      continue;
    }
    if (!again.ok) {
      fmt::print(stderr, "{}: the request after the wake failed: {}\n", spec, again.error);
    }
    row.passed = row.answer_matches;
    rows.push_back(row);
  }
  engine.stop();
  fmt::print("\n{}", validation_table(rows));
  bool all_passed = rows.size() == options.validate_policies.size()
                    && std::all_of(rows.begin(), rows.end(),
                                   [](const validation_row& row) { return row.passed; });
  return all_passed ? succeeded : failed;
}

int checkpoint(const config::config& cfg, const config::cli_options& options) {
  const auto& eviction = options.checkpoint_eviction;
  if (!eviction.needs_criu()) {
    fmt::print(stderr,
               "the process strategy must be 'checkpoint' for --checkpoint, got '{}'. Did you "
               "mean '{}+checkpoint'?\n",
               config::to_string(eviction.process), config::to_string(eviction.weights));
    return failed;
  }
  const auto* found = find_model(cfg, *options.checkpoint_model);
  if (found == nullptr || !has_checkpoint_section(cfg, "--checkpoint")) {
    return failed;
  }
  auto model = *found;
  model.eviction = eviction; // the engine starts ready for CRIU
  model.checkpoint_path.reset();
  one_model engine(cfg, model);
  if (!start(engine, model.name)) {
    return failed;
  }
  if (!options.no_warmup) {
    auto warm = ask_two_plus_two(model);
    if (!warm.ok) {
      fmt::print(stderr, "the warmup request failed: {}\n", warm.error);
      return failed;
    }
    fmt::print("Warmup answer: \"{}\"\n", warm.text);
  }
  auto before = gpu_used();
  progress_line dumping(
    fmt::format("checkpointing {} ({})", model.name, config::to_spec(eviction)));
  auto dumped = engine.evict(eviction);
  auto took = dumping.finish(dumped.ok && dumped.fallback.empty() ? "done" : "failed");
  if (!dumped.ok || !dumped.fallback.empty()) {
    fmt::print(stderr, "the checkpoint failed: {}\n", dumped.ok ? dumped.fallback : dumped.error);
    return failed;
  }
  auto after = gpu_used();
  auto files = checkpoint::files_of(*cfg.checkpoint, model.name);
  fmt::print("Checkpointed {} in {:.1f} s\n"
             "  images:  {}\n"
             "  size:    {:.2f} GB\n"
             "  GPU:     {} -> {}\n"
             "To restore it on the first request instead of a cold start, add to the model:\n"
             "  \"checkpoint_path\": \"{}\"\n",
             model.name, took, files.images.string(),
             static_cast<double>(checkpoint::directory_bytes(files.images)) / (1 << 30),
             mib(before), mib(after), files.images.string());
  if (!cfg.checkpoint->object_store) {
    return succeeded;
  }
  checkpoint::object_store store(*cfg.checkpoint->object_store);
  const auto& prefix = files.store_prefix;
  progress_line uploading(fmt::format("uploading to {}", store.location(prefix)));
  auto uploaded = store.upload_directory(
    files.images, prefix,
    clock_type::now() + std::chrono::seconds(cfg.timeouts.transfer_timeout_secs),
    bytes_to(uploading));
  uploading.finish(uploaded.ok ? "done" : "failed");
  if (!uploaded.ok) {
    fmt::print(stderr, "the upload failed (the local checkpoint is complete): {}\n",
               uploaded.error);
    return failed;
  }
  fmt::print("  object store: {} ({} files, {} MiB)\n", store.location(prefix), uploaded.files,
             uploaded.bytes >> 20);
  return succeeded;
}

int restore_detached(const config::config& cfg, const config::cli_options& options) {
  const auto* found = find_model(cfg, *options.restore_model);
  if (found == nullptr || !has_checkpoint_section(cfg, "--restore-detached")) {
    return failed;
  }
  auto model = *found;
  auto files = checkpoint::files_of(*cfg.checkpoint, model.name);
  if (!checkpoint::has_images(files.images)) {
    if (!cfg.checkpoint->object_store) {
      fmt::print(stderr, "No checkpoint found at {}. Run --checkpoint {} first.\n",
                 files.images.string(), model.name);
      return failed;
    }
    checkpoint::object_store store(*cfg.checkpoint->object_store);
    const auto& prefix = files.store_prefix;
    progress_line downloading(
      fmt::format("downloading {} to {}", store.location(prefix), files.images.string()));
    auto downloaded = store.download_directory(
      prefix, files.images,
      clock_type::now() + std::chrono::seconds(cfg.timeouts.transfer_timeout_secs),
      bytes_to(downloading));
    downloading.finish(downloaded.ok ? "done" : "failed");
    if (!downloaded.ok) {
      fmt::print(stderr, "{}\n", downloaded.error);
      return failed;
    }
  }
  // Restored on the first activation, woken as its images recorded.
  model.checkpoint_path = files.images.string();
  one_model engine(cfg, model);
  progress_line restoring(fmt::format("restoring {} from {}", model.name, files.images.string()));
  auto restored = engine.activate();
  auto took = restoring.finish(restored.ok && restored.fallback.empty() ? "running" : "failed");
  if (!restored.ok || !restored.fallback.empty()) {
    fmt::print(stderr, "the restore failed: {}\n",
               restored.ok ? restored.fallback : restored.error);
    engine.stop();
    return failed;
  }
  auto answer = ask_two_plus_two(model);
  if (!answer.ok) {
    fmt::print(stderr, "the restored engine does not answer: {}\n", answer.error);
    engine.stop();
    return failed;
  }
  pid_t pid = 0;
  std::ifstream(files.restore_pidfile) >> pid;
  engine.detach();
  fmt::print("Restored {} in {:.1f} s\n"
             "  port:    {}\n"
             "  GPU:     {}\n"
             "  answer:  \"{}\"\n"
             "Model is running on port {} (pid {}). Stop it with: kill {}\n",
             model.name, took, model.port, mib(gpu_used()), answer.text, model.port, pid, pid);
  return succeeded;
}

} // namespace llmux::flows
