#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <unordered_map>
#include <utility>

namespace llmux::http {

/// Idle keep-alive connections to engines, for reuse by later requests. One pool belongs to one
/// io thread, so it needs no lock. A connection is reused only for the engine (`Key`: where it
/// listens) and epoch it was opened under (`lease_outcome::engine_epoch`), never once that epoch is
/// retired, never after it idled longer than the limit (engines close idle connections: uvicorn
/// after 5 s), and the most recently used goes first. `Connection` is a movable socket; dropping
/// one closes it.
template <class Connection, class Key = std::uint16_t, class Hash = std::hash<Key>,
          class Clock = std::chrono::steady_clock>
class upstream_pool {
public:
  struct limits {
    /// Idle connections kept per engine; beyond it the oldest is closed.
    std::size_t idle_per_engine = 64;
    /// An idle connection older than this is closed, not reused.
    typename Clock::duration idle_time = std::chrono::seconds(4);
  };

  explicit upstream_pool(limits settings) : limits_(settings) {
  }

  /// An idle connection to the engine at `key` opened under `epoch`, if there is one. Others to
  /// that engine (another epoch, too old) are closed on the way.
  std::optional<Connection> take(const Key& key, std::uint64_t epoch,
                                 typename Clock::time_point now) {
    auto found = idle_.find(key);
    if (found == idle_.end()) {
      return std::nullopt;
    }
    auto& engine = found->second;
    if (epoch <= engine.retired_through) {
      return std::nullopt;
    }
    if (engine.epoch != epoch) {
      // The lease names another epoch than the connections kept: they are stale (or, for an
      // older lease, this request may not use newer ones either).
      if (engine.epoch < epoch) {
        engine.entries.clear();
      }
      return std::nullopt;
    }
    while (!engine.entries.empty()) {
      auto entry = std::move(engine.entries.back());
      engine.entries.pop_back();
      if (now - entry.since < limits_.idle_time) {
        return std::move(entry.connection);
      }
    }
    return std::nullopt;
  }

  /// Keeps `connection`, which just finished a response, for the next request to `key`.
  void put(const Key& key, std::uint64_t epoch, Connection connection,
           typename Clock::time_point now) {
    if (limits_.idle_per_engine == 0) {
      return;
    }
    auto& engine = idle_[key];
    if (epoch < engine.epoch || epoch <= engine.retired_through) {
      return; // the engine has been evicted or restarted since this connection was opened
    }
    if (epoch > engine.epoch) {
      engine.entries.clear();
      engine.epoch = epoch;
    }
    if (engine.entries.size() >= limits_.idle_per_engine) {
      engine.entries.pop_front();
    }
    engine.entries.push_back(entry{now, std::move(connection)});
  }

  /// The engine at `key` no longer serves under `epoch` or earlier: closes its idle
  /// connections of those epochs and refuses to keep the ones still in use when they come back.
  void retire(const Key& key, std::uint64_t epoch) {
    auto& engine = idle_[key];
    engine.retired_through = std::max(engine.retired_through, epoch);
    if (engine.epoch <= epoch) {
      engine.entries.clear();
    }
  }

  /// Closes the connections that idled past the limit.
  void expire(typename Clock::time_point now) {
    for (auto it = idle_.begin(); it != idle_.end();) {
      auto& entries = it->second.entries;
      while (!entries.empty() && now - entries.front().since >= limits_.idle_time) {
        entries.pop_front();
      }
      it = std::next(it);
    }
  }

  /// Idle connections held, over all engines.
  std::size_t size() const {
    std::size_t total = 0;
    for (const auto& [key, engine] : idle_) {
      total += engine.entries.size();
    }
    return total;
  }

private:
  struct entry {
    typename Clock::time_point since;
    Connection connection;
  };
  /// One engine's idle connections, all opened under `epoch`, oldest first.
  struct engine_entries {
    std::uint64_t epoch = 0;
    /// Epochs up to this one are retired.
    std::uint64_t retired_through = 0;
    std::deque<entry> entries;
  };

  limits limits_;
  std::unordered_map<Key, engine_entries, Hash> idle_;
};

} // namespace llmux::http
