#include "checkpoint/criu.hpp"

#include <fstream>
#include <system_error>

#include <fmt/format.h>

#include "checkpoint/tool.hpp"

namespace llmux::checkpoint {

namespace fs = std::filesystem;

namespace {

// The flags both directions share (spec §5.8): a shell job, unix sockets and established TCP
// connections with peers outside the tree (`--tcp-close` would break NCCL's resume), NVIDIA's
// shared /proc mounts in containers, and the CUDA plugin's directory.
void add_common_flags(const config::checkpoint_config& checkpoint, std::vector<std::string>& argv) {
  argv.insert(argv.end(), {"--shell-job", "--ext-unix-sk", "--tcp-established",
                           "--enable-external-masters", "-L", checkpoint.cuda_plugin_dir});
}

} // namespace

model_files files_of(const config::checkpoint_config& checkpoint, std::string_view model) {
  auto dir = fs::path(checkpoint.images_dir) / std::string(model);
  return {dir,
          dir / "images",
          dir / "stdout.log",
          dir / "stderr.log",
          dir / "restore.pid",
          std::string(model) + "/images"};
}

std::vector<std::string> dump_command(const config::checkpoint_config& checkpoint,
                                      const fs::path& images, pid_t pid) {
  std::vector<std::string> argv{checkpoint.criu_path, "dump"};
  add_common_flags(checkpoint, argv);
  // Deleted-but-open files (unlinked multiprocessing semaphores) are dumped as links, and their
  // contents up to 1 MiB go into the image, so each image stands on its own.
  argv.insert(argv.end(), {"--link-remap", "--ghost-limit", "1048576", "--images-dir",
                           images.string(), "--tree", std::to_string(pid)});
  return argv;
}

std::vector<std::string> restore_command(const config::checkpoint_config& checkpoint,
                                         const fs::path& images, const fs::path& pidfile) {
  std::vector<std::string> argv{checkpoint.criu_path, "restore"};
  add_common_flags(checkpoint, argv);
  argv.insert(argv.end(), {"--restore-detached", "--images-dir", images.string(), "--pidfile",
                           pidfile.string()});
  return argv;
}

std::size_t clean_shm(const fs::path& shm) {
  std::size_t removed = 0;
  std::error_code error;
  for (fs::directory_iterator entry(shm, error), end; !error && entry != end;
       entry.increment(error)) {
    auto name = entry->path().filename().string();
    if (name.starts_with("link_remap.") || name.starts_with("sem.mp-")) {
      std::error_code ignored;
      removed += fs::remove_all(entry->path(), ignored) > 0 ? 1 : 0;
    }
  }
  return removed;
}

bool has_images(const fs::path& images) {
  std::error_code error;
  return fs::is_directory(images, error) && !fs::is_empty(images, error) && !error;
}

std::uint64_t directory_bytes(const fs::path& dir) {
  std::uint64_t bytes = 0;
  std::error_code error;
  for (fs::recursive_directory_iterator entry(dir, error), end; !error && entry != end;
       entry.increment(error)) {
    std::error_code ignored;
    if (entry->is_regular_file(ignored)) {
      bytes += entry->file_size(ignored);
    }
  }
  return bytes;
}

namespace {

// Beside CRIU's own files in the images directory; CRIU reads only what it wrote.
constexpr const char* weights_file = "llmux-weights";

} // namespace

std::vector<std::string> save_rootfs(const fs::path& images, const std::vector<std::string>& dirs) {
  std::vector<std::string> failures;
  for (const auto& dir : dirs) {
    std::error_code error;
    if (!fs::is_directory(dir, error)) {
      continue;
    }
    auto copy = images / "rootfs" / fs::path(dir).relative_path();
    fs::create_directories(copy, error);
    if (!error) {
      fs::copy(dir, copy, fs::copy_options::recursive | fs::copy_options::overwrite_existing,
               error);
    }
    if (error) {
      failures.push_back(fmt::format("{}: {}", dir, error.message()));
    }
  }
  return failures;
}

std::vector<std::string> restore_rootfs(const fs::path& images) {
  std::vector<std::string> failures;
  auto saved = images / "rootfs";
  std::error_code error;
  if (!fs::is_directory(saved, error)) {
    return failures;
  }
  for (fs::recursive_directory_iterator entry(saved, error), end; !error && entry != end;
       entry.increment(error)) {
    std::error_code copy_error;
    if (!entry->is_regular_file(copy_error)) {
      continue;
    }
    auto target = fs::path("/") / entry->path().lexically_relative(saved);
    fs::create_directories(target.parent_path(), copy_error);
    if (!copy_error) {
      fs::copy_file(entry->path(), target, fs::copy_options::overwrite_existing, copy_error);
    }
    if (copy_error) {
      failures.push_back(fmt::format("{}: {}", target.string(), copy_error.message()));
    }
  }
  if (error) {
    failures.push_back(fmt::format("{}: {}", saved.string(), error.message()));
  }
  return failures;
}

void record_weights(const fs::path& images, config::weight_strategy weights) {
  std::ofstream(images / weights_file) << config::to_string(weights) << '\n';
}

std::optional<config::weight_strategy> recorded_weights(const fs::path& images) {
  std::ifstream file(images / weights_file);
  std::string text;
  if (!(file >> text)) {
    return std::nullopt;
  }
  return config::parse_weight_strategy(text);
}

config::eviction_policy checkpointed_eviction(const config::model_config& model) {
  auto weights = model.checkpoint_path ? recorded_weights(*model.checkpoint_path) : std::nullopt;
  return {weights.value_or(model.eviction.weights), config::process_strategy::checkpoint};
}

std::optional<pid_t> leftover_restore(const model_files& files, std::uint16_t port) {
  pid_t pid = 0;
  if (std::ifstream file(files.restore_pidfile); !(file >> pid) || pid <= 0) {
    return std::nullopt;
  }
  // The pid may have been reused since: only a process whose command line serves `port` counts.
  std::ifstream cmdline(fmt::format("/proc/{}/cmdline", pid));
  std::vector<std::string> arguments;
  for (std::string argument; std::getline(cmdline, argument, '\0');) {
    arguments.push_back(argument);
  }
  auto wanted = std::to_string(port);
  for (std::size_t i = 0; i < arguments.size(); ++i) {
    if ((arguments[i] == "--port" && i + 1 < arguments.size() && arguments[i + 1] == wanted)
        || arguments[i] == "--port=" + wanted) {
      return pid;
    }
  }
  return std::nullopt;
}

std::optional<std::string> dump(const config::checkpoint_config& checkpoint, const fs::path& images,
                                pid_t pid, std::chrono::milliseconds timeout) {
  std::error_code error;
  fs::remove_all(images, error);
  if (error) {
    return fmt::format("cannot clear the old images in {}: {}", images.string(), error.message());
  }
  fs::create_directories(images, error);
  if (error) {
    return fmt::format("cannot create {}: {}", images.string(), error.message());
  }
  clean_shm();
  auto result = run_tool(privileged(dump_command(checkpoint, images, pid)), timeout);
  if (!result.ok()) {
    return fmt::format("criu dump failed: {}", result.failure());
  }
  return std::nullopt;
}

std::variant<pid_t, std::string> restore(const config::checkpoint_config& checkpoint,
                                         const fs::path& images, const fs::path& pidfile,
                                         std::chrono::milliseconds timeout) {
  if (!has_images(images)) {
    return fmt::format("no checkpoint images in {}", images.string());
  }
  std::error_code error;
  fs::create_directories(pidfile.parent_path(), error);
  fs::remove(pidfile, error);
  clean_shm();
  auto result = run_tool(privileged(restore_command(checkpoint, images, pidfile)), timeout);
  if (!result.ok()) {
    return fmt::format("criu restore failed: {}", result.failure());
  }
  pid_t pid = 0;
  if (std::ifstream file(pidfile); !(file >> pid) || pid <= 0) {
    return fmt::format("criu restore wrote no pid to {}", pidfile.string());
  }
  return pid;
}

} // namespace llmux::checkpoint
