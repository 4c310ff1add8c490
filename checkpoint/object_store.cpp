#include "checkpoint/object_store.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <unistd.h>
#include <vector>

#include <fmt/format.h>

#include "checkpoint/manifest.hpp"
#include "checkpoint/sigv4.hpp"

namespace llmux::checkpoint {

namespace {

using clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr auto progress_interval = std::chrono::milliseconds(100);
constexpr auto stop_poll_interval = std::chrono::milliseconds(50);
constexpr std::string_view stopped_error = "stopped: llmux is shutting down";

// Counts files and bytes for the progress callback. Workers report the bytes of the transfer
// they are on (`moving`) and each finished file (`finished`); reports are serialised and, between
// finished files, throttled.
class progress_meter {
public:
  progress_meter(const progress_callback& callback, unsigned slots)
    : callback_(callback), in_flight_(slots) {
  }

  void start(transfer_phase phase, std::size_t files_total, std::uint64_t bytes_total) {
    std::lock_guard lock(mutex_);
    state_ = {phase, 0, files_total, 0, bytes_total};
    for (auto& slot : in_flight_) {
      slot = 0;
    }
    report(true);
  }

  void moving(unsigned slot, std::uint64_t bytes) {
    in_flight_[slot] = bytes;
    std::lock_guard lock(mutex_);
    report(false);
  }

  void finished(unsigned slot, std::uint64_t bytes) {
    in_flight_[slot] = 0;
    std::lock_guard lock(mutex_);
    ++state_.files_done;
    state_.bytes_done += bytes;
    report(true);
  }

private:
  // Called with `mutex_` held.
  void report(bool force) {
    if (!callback_) {
      return;
    }
    auto now = clock::now();
    if (!force && now - last_report_ < progress_interval) {
      return;
    }
    last_report_ = now;
    auto snapshot = state_;
    for (const auto& slot : in_flight_) {
      snapshot.bytes_done += slot;
    }
    snapshot.bytes_done = std::min(snapshot.bytes_done, snapshot.bytes_total);
    callback_(snapshot);
  }

  const progress_callback& callback_;
  std::vector<std::atomic<std::uint64_t>> in_flight_;
  std::mutex mutex_;
  transfer_progress state_;
  clock::time_point last_report_{};
};

// One unit of pool work: returns an error text, empty on success.
using pool_work = std::function<std::string(std::size_t index, s3_client& client, unsigned slot,
                                            const std::atomic<bool>& cancel)>;

// Runs `work` for every index below `count` on at most `workers` threads, each with its own
// connection. After the first failure no new work starts and transfers in flight are
// cancelled; that first failure is the answer (empty when everything succeeded).
std::string run_pool(std::size_t count, unsigned workers, const config::object_store_config& config,
                     const retry_policy& retry, const std::atomic<bool>* stop,
                     const pool_work& work) {
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mutex;
  std::string first_error;
  if (stop != nullptr && stop->load()) {
    return std::string(stopped_error);
  }
  // A stop from outside cancels the transfers in flight like a failure does.
  std::atomic<bool> done{false};
  std::thread watch;
  if (stop != nullptr) {
    watch = std::thread([&] {
      while (!done && !failed) {
        if (stop->load()) {
          std::lock_guard lock(mutex);
          if (first_error.empty()) {
            first_error = std::string(stopped_error);
          }
          failed = true;
          return;
        }
        std::this_thread::sleep_for(stop_poll_interval);
      }
    });
  }
  auto worker = [&](unsigned slot) {
    s3_client client(config, retry);
    for (auto index = next++; index < count && !failed; index = next++) {
      auto error = work(index, client, slot, failed);
      if (!error.empty()) {
        std::lock_guard lock(mutex);
        if (first_error.empty()) {
          first_error = std::move(error);
        }
        failed = true; // after first_error, so a cancelled transfer's error never wins
      }
    }
  };
  auto threads = std::min<std::size_t>(std::max(workers, 1U), count);
  std::vector<std::thread> pool;
  for (unsigned slot = 0; slot < threads; ++slot) {
    pool.emplace_back(worker, slot);
  }
  for (auto& thread : pool) {
    thread.join();
  }
  done = true;
  if (watch.joinable()) {
    watch.join();
  }
  return first_error;
}

struct local_file {
  std::string name;
  fs::path path;
  std::uint64_t size = 0;
};

// The regular files directly inside `dir`, by name.
std::vector<local_file> files_in(const fs::path& dir, std::string& error) {
  std::vector<local_file> files;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code entry_ec;
    if (!it->is_regular_file(entry_ec)) {
      continue;
    }
    auto size = it->file_size(entry_ec);
    if (entry_ec) {
      error = fmt::format("cannot read {}: {}", it->path().string(), entry_ec.message());
      return {};
    }
    if (it->path().filename() != manifest_name) {
      files.push_back({it->path().filename().string(), it->path(), size});
    }
  }
  if (ec) {
    error = fmt::format("cannot read {}: {}", dir.string(), ec.message());
    return {};
  }
  std::sort(files.begin(), files.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  return files;
}

// Removes a temporary file when it goes out of scope.
struct temporary_file {
  fs::path path;
  ~temporary_file() {
    std::error_code ignored;
    fs::remove(path, ignored);
  }
};

// Removes a temporary download directory unless the download succeeded.
struct temporary_dir {
  fs::path path;
  bool keep = false;
  ~temporary_dir() {
    if (!keep && !path.empty()) {
      std::error_code ignored;
      fs::remove_all(path, ignored);
    }
  }
};

// Deletes the objects under `prefix` other than the manifest and those of the generation
// `current_generation` (a key prefix); an error text, or empty.
std::string delete_stale(const config::object_store_config& config, const transfer_limits& limits,
                         const std::string& prefix, const std::string& current_generation,
                         deadline until, const std::atomic<bool>* stop, progress_meter& meter) {
  meter.start(transfer_phase::listing, 0, 0);
  auto listing = s3_client(config, limits.retry).list_objects(prefix, until, limits.list_page_size);
  if (!listing.ok) {
    return listing.error;
  }
  auto manifest_key = prefix + std::string(manifest_name);
  std::vector<std::string> stale;
  for (const auto& object : listing.objects) {
    if (object.key != manifest_key && !object.key.starts_with(current_generation)) {
      stale.push_back(object.key);
    }
  }
  meter.start(transfer_phase::cleaning, stale.size(), 0);
  return run_pool(stale.size(), limits.download_workers, config, limits.retry, stop,
                  [&](std::size_t i, s3_client& client, unsigned slot, const auto&) {
                    auto deleted = client.delete_object(stale[i], until);
                    if (deleted.ok) {
                      meter.finished(slot, 0);
                    }
                    return deleted.error;
                  });
}

// Checks each downloaded file against the manifest (size, then SHA-256), then puts the folder
// in place of `target` (missing or empty); an error text, or empty.
std::string verify_and_move(const fs::path& temporary, const fs::path& target,
                            const std::vector<manifest_entry>& files, const std::string& where) {
  std::error_code ec;
  for (const auto& file : files) {
    auto size = fs::file_size(temporary / file.name, ec);
    if (ec || size != file.size) {
      return fmt::format("integrity check failed for {}{}: downloaded {} bytes, the manifest says "
                         "{}",
                         where, file.name, ec ? 0 : size, file.size);
    }
    auto sha256 = sha256_file_hex(temporary / file.name);
    if (!sha256 || *sha256 != file.sha256) {
      return fmt::format("integrity check failed for {}{}: its SHA-256 is not the manifest's",
                         where, file.name);
    }
  }
  if (fs::exists(target, ec)) {
    fs::remove(target, ec); // empty, checked before the download
  }
  fs::rename(temporary, target, ec);
  if (ec) {
    return fmt::format("cannot move the downloaded checkpoint to {}: {}", target.string(),
                       ec.message());
  }
  return {};
}

// Writes `text` to a fresh file in `dir` and uploads it as `key`; an error text, or empty.
std::string put_text(const config::object_store_config& config, const retry_policy& retry,
                     const std::string& key, const std::string& text, const fs::path& dir,
                     deadline until) {
  auto pattern = (dir / ".llmux-upload-XXXXXX").string();
  int fd = ::mkstemp(pattern.data());
  if (fd < 0) {
    return fmt::format("cannot write a temporary file in {}: {}", dir.string(),
                       std::strerror(errno));
  }
  temporary_file file{pattern};
  auto written = ::write(fd, text.data(), text.size());
  ::close(fd);
  if (written != static_cast<ssize_t>(text.size())) {
    return fmt::format("cannot write {}", pattern);
  }
  return s3_client(config, retry).put_object(key, file.path, until).error;
}

// A name no other upload uses: the time and a random part.
std::string new_generation() {
  auto now = std::chrono::system_clock::now();
  auto seconds = std::chrono::system_clock::to_time_t(now);
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  std::random_device random;
  return fmt::format("{:04}{:02}{:02}T{:02}{:02}{:02}Z-{:08x}", utc.tm_year + 1900, utc.tm_mon + 1,
                     utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, random());
}

// `text` as a key prefix ending in `/`, or nothing with `result`'s error saying why.
std::optional<std::string> usable_prefix(std::string_view text, transfer_result& result) {
  auto prefix = normalize_prefix(text);
  if (!prefix) {
    result.error = fmt::format("'{}' is not a usable object store prefix", text);
  }
  return prefix;
}

unsigned max_workers(const transfer_limits& limits) {
  return std::max(
    {limits.large_file_workers, limits.small_file_workers, limits.download_workers, 1U});
}

} // namespace

std::string_view to_string(transfer_phase phase) {
  switch (phase) {
    case transfer_phase::listing:
      return "listing";
    case transfer_phase::cleaning:
      return "cleaning";
    case transfer_phase::uploading:
      return "uploading";
    case transfer_phase::downloading:
      return "downloading";
    case transfer_phase::verifying:
      return "verifying";
  }
  return "unknown";
}

object_store::object_store(config::object_store_config config, transfer_limits limits)
  : config_(std::move(config)), limits_(limits) {
}

std::string object_store::location(std::string_view prefix) const {
  return fmt::format("s3://{}/{}", config_.bucket, normalize_prefix(prefix).value_or(""));
}

transfer_result object_store::upload_directory(const fs::path& dir, std::string_view prefix_text,
                                               deadline until, const progress_callback& progress,
                                               const std::atomic<bool>* stop) const {
  transfer_result result;
  auto prefix = usable_prefix(prefix_text, result);
  if (!prefix) {
    return result;
  }
  auto files = files_in(dir, result.error);
  if (!result.error.empty()) {
    return result;
  }
  if (files.empty()) {
    result.error = fmt::format("{} holds no files to upload", dir.string());
    return result;
  }

  // The files go under a generation of their own; the manifest, replaced last, makes it the
  // checkpoint. Until then the previous checkpoint stays whole.
  auto generation = new_generation();
  auto generation_prefix = *prefix + generation + "/";
  progress_meter meter(progress, max_workers(limits_));

  // Large files a few at a time (bandwidth), small ones many at a time (latency).
  std::uint64_t total = 0;
  std::vector<const local_file*> large;
  std::vector<const local_file*> small;
  for (const auto& file : files) {
    total += file.size;
    (file.size > limits_.large_file_bytes ? large : small).push_back(&file);
  }
  meter.start(transfer_phase::uploading, files.size(), total);
  std::atomic<std::uint64_t> sent{0};
  checkpoint_manifest manifest{generation, std::vector<manifest_entry>(files.size())};
  auto upload_from = [&](const std::vector<const local_file*>& batch) {
    // `&batch = batch` binds the vector itself, not the parameter that goes out of scope.
    return [&, &batch = batch](std::size_t i, s3_client& client, unsigned slot,
                               const std::atomic<bool>& cancel) {
      const auto& file = *batch[i];
      transfer_hooks hooks{[&](std::uint64_t bytes) { meter.moving(slot, bytes); }, &cancel};
      auto put = client.put_object(generation_prefix + file.name, file.path, until, hooks);
      if (put.ok) {
        sent += put.bytes;
        meter.finished(slot, put.bytes);
        // The hash the request was signed with: each file is read for it once.
        manifest.files[static_cast<std::size_t>(&file - files.data())]
          = {file.name, file.size, std::move(put.sha256)};
      }
      return put.error;
    };
  };
  result.error = run_pool(large.size(), limits_.large_file_workers, config_, limits_.retry, stop,
                          upload_from(large));
  if (result.error.empty()) {
    result.error = run_pool(small.size(), limits_.small_file_workers, config_, limits_.retry, stop,
                            upload_from(small));
  }
  if (result.error.empty()) {
    result.error = put_text(config_, limits_.retry, *prefix + std::string(manifest_name),
                            write_manifest(manifest), dir.parent_path(), until);
  }
  if (!result.error.empty()) {
    return result; // what went up of the new generation is stale, removed by the next upload
  }
  // Everything else under the prefix is stale now: earlier generations, failed uploads.
  auto cleaned = delete_stale(config_, limits_, *prefix, generation_prefix, until, stop, meter);
  if (!cleaned.empty()) {
    result.error = fmt::format("the checkpoint is uploaded, but removing the previous one failed: "
                               "{}",
                               cleaned);
    return result;
  }
  result.ok = true;
  result.files = files.size();
  result.bytes = sent;
  return result;
}

transfer_result object_store::download_directory(std::string_view prefix_text, const fs::path& dir,
                                                 deadline until, const progress_callback& progress,
                                                 const std::atomic<bool>* stop) const {
  transfer_result result;
  auto prefix = usable_prefix(prefix_text, result);
  if (!prefix) {
    return result;
  }
  auto target = fs::absolute(dir).lexically_normal();
  if (!target.has_filename()) {
    target = target.parent_path();
  }
  std::error_code ec;
  if (fs::exists(target, ec) && (!fs::is_directory(target, ec) || !fs::is_empty(target, ec))) {
    result.error = fmt::format("{} already exists and is not an empty directory; not replacing it",
                               target.string());
    return result;
  }

  progress_meter meter(progress, max_workers(limits_));
  meter.start(transfer_phase::listing, 0, 0);
  auto listing
    = s3_client(config_, limits_.retry).list_objects(*prefix, until, limits_.list_page_size);
  if (!listing.ok) {
    result.error = std::move(listing.error);
    return result;
  }
  auto manifest_key = *prefix + std::string(manifest_name);
  std::map<std::string, std::uint64_t> listed; // key, size
  for (const auto& object : listing.objects) {
    listed.emplace(object.key, object.size);
  }
  if (listed.empty()) {
    result.error = fmt::format("no checkpoint in the object store under {}", location(*prefix));
    return result;
  }
  if (!listed.contains(manifest_key)) {
    result.error = fmt::format("the checkpoint under {} is incomplete: it has no {} (an upload "
                               "did not finish)",
                               location(*prefix), manifest_name);
    return result;
  }

  // Download into a hidden sibling, so the rename at the end is on one file system.
  fs::create_directories(target.parent_path(), ec);
  auto pattern
    = (target.parent_path() / fmt::format(".{}.download-XXXXXX", target.filename().string()))
        .string();
  if (ec || ::mkdtemp(pattern.data()) == nullptr) {
    result.error = fmt::format("cannot create a download directory next to {}: {}", target.string(),
                               ec ? ec.message() : std::strerror(errno));
    return result;
  }
  temporary_dir temporary{pattern};

  // The manifest says which files make the checkpoint and what each must be.
  auto manifest_path = temporary.path / manifest_name;
  auto got_manifest
    = s3_client(config_, limits_.retry).get_object(manifest_key, manifest_path, until);
  if (!got_manifest.ok) {
    result.error = std::move(got_manifest.error);
    return result;
  }
  std::ifstream manifest_file(manifest_path);
  std::string manifest_text((std::istreambuf_iterator<char>(manifest_file)), {});
  manifest_file.close();
  fs::remove(manifest_path, ec);
  auto manifest = read_manifest(manifest_text);
  if (!manifest) {
    result.error = fmt::format("{}: {}", location(*prefix), manifest.error());
    return result;
  }
  const auto& files = manifest->files;
  auto generation_prefix = *prefix + manifest->generation + "/";
  std::uint64_t total = 0;
  for (const auto& file : files) {
    auto object = listed.find(generation_prefix + file.name);
    if (object == listed.end() || object->second != file.size) {
      result.error
        = fmt::format("the checkpoint under {} is incomplete: {} is {}", location(*prefix),
                      file.name, object == listed.end() ? "missing" : "not the manifest's size");
      return result;
    }
    total += file.size;
  }

  meter.start(transfer_phase::downloading, files.size(), total);
  result.error = run_pool(
    files.size(), limits_.download_workers, config_, limits_.retry, stop,
    [&](std::size_t i, s3_client& client, unsigned slot, const std::atomic<bool>& cancel) {
      const auto& file = files[i];
      transfer_hooks hooks{[&](std::uint64_t bytes) { meter.moving(slot, bytes); }, &cancel};
      auto got = client.get_object(generation_prefix + file.name, temporary.path / file.name, until,
                                   hooks);
      if (got.ok) {
        meter.finished(slot, got.bytes);
      }
      return got.error;
    });
  if (!result.error.empty()) {
    return result;
  }

  // Every file as the manifest says, or the checkpoint is not used.
  meter.start(transfer_phase::verifying, files.size(), total);
  result.error = verify_and_move(temporary.path, target, files, location(*prefix));
  if (!result.error.empty()) {
    return result;
  }
  result.files = files.size();
  result.bytes = total;
  temporary.keep = true;
  result.ok = true;
  return result;
}

} // namespace llmux::checkpoint
