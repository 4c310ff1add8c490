#pragma once

// The CRIU driver (checkpoint eviction): where a model's images and logs live, the dump and
// restore command lines (spec §5.8), and the clean-ups around them.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <variant>
#include <vector>

#include "config/config.hpp"

namespace llmux::checkpoint {

/// Where one model's checkpoint files live under `checkpoint.images_dir`.
struct model_files {
  /// `<images_dir>/<model>/`: the engine's logs and the restore's pid file.
  std::filesystem::path model_dir;
  /// `<images_dir>/<model>/images/`: CRIU's images.
  std::filesystem::path images;
  /// The engine's output, opened with O_APPEND so that CRIU accepts a file that grew after the
  /// dump (a pipe would be a socket CRIU cannot dump).
  std::filesystem::path stdout_log;
  std::filesystem::path stderr_log;
  /// CRIU writes the restored tree's root pid here.
  std::filesystem::path restore_pidfile;
  /// The images' key prefix in the object store, `<model>/images` (the model's public name,
  /// whatever its `checkpoint_path`).
  std::string store_prefix;
};

model_files files_of(const config::checkpoint_config& checkpoint, std::string_view model);

/// `criu dump` of the tree rooted at `pid` into `images`; CRIU ends the tree.
std::vector<std::string> dump_command(const config::checkpoint_config& checkpoint,
                                      const std::filesystem::path& images, pid_t pid);

/// `criu restore` of `images`, detached (the tree is nobody's child), its root's pid written to
/// `pidfile`.
std::vector<std::string> restore_command(const config::checkpoint_config& checkpoint,
                                         const std::filesystem::path& images,
                                         const std::filesystem::path& pidfile);

/// Removes what earlier dumps and engines left in `shm` that breaks the next dump or restore:
/// CRIU's `link_remap.*` hard links ("File exists") and Python's `sem.mp-*` semaphores.
/// Returns how many entries went.
std::size_t clean_shm(const std::filesystem::path& shm = "/dev/shm");

/// Whether `images` is a directory with at least one entry.
bool has_images(const std::filesystem::path& images);

/// The bytes of every regular file below `dir` (0 when it does not exist).
std::uint64_t directory_bytes(const std::filesystem::path& dir);

/// Copies each of `dirs` that exists (absolute paths) to `images/rootfs/<path>`, so that the
/// files an engine keeps open outside its process go with the image. What failed, if anything
/// (the checkpoint stands without it).
std::vector<std::string> save_rootfs(const std::filesystem::path& images,
                                     const std::vector<std::string>& dirs);

/// Copies what `save_rootfs` kept in `images` back to its absolute places, overwriting. What
/// failed, if anything.
std::vector<std::string> restore_rootfs(const std::filesystem::path& images);

/// Notes in `images` what the dumped engine did with its weights before the dump (its sleep
/// level), so that a restore wakes it right even when the eviction configured now differs.
void record_weights(const std::filesystem::path& images, config::weight_strategy weights);

/// What `record_weights` noted in `images`, if anything.
std::optional<config::weight_strategy> recorded_weights(const std::filesystem::path& images);

/// The eviction that a model restored from its `checkpoint_path` rests in: checkpoint, with the
/// weights its images recorded (else those of its configured eviction).
config::eviction_policy checkpointed_eviction(const config::model_config& model);

/// The engine a restore into `files` started, if it still runs as the engine on `port`: a
/// restored engine is detached, so it outlives an llmux that crashed.
std::optional<pid_t> leftover_restore(const model_files& files, std::uint16_t port);

/// Dumps the tree rooted at `pid` into `images` (emptied first): nothing on success, else what
/// failed.
std::optional<std::string> dump(const config::checkpoint_config& checkpoint,
                                const std::filesystem::path& images, pid_t pid,
                                std::chrono::milliseconds timeout);

/// Restores `images` detached: the restored root's pid, or what failed.
std::variant<pid_t, std::string> restore(const config::checkpoint_config& checkpoint,
                                         const std::filesystem::path& images,
                                         const std::filesystem::path& pidfile,
                                         std::chrono::milliseconds timeout);

} // namespace llmux::checkpoint
