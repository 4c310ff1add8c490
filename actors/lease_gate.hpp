#pragma once

// Plain C++: the scheduler publishes through it, the HTTP side's sessions read it.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "actors/serving.hpp"

namespace llmux::actors {

/// One model's fast way to a lease. While the scheduler keeps the gate open (its model is
/// active, no switch runs, no request waits anywhere), a request takes a lease here without a
/// message round trip. The scheduler stays the only one that decides: it opens and closes the
/// gate, counts the gate's leases with its own (drains, status, policy) and revokes them with
/// its own. Thread-safe.
class lease_gate {
public:
  lease_gate() = default;
  lease_gate(const lease_gate&) = delete;
  lease_gate& operator=(const lease_gate&) = delete;

  /// A lease for `ticket` when the gate is open, else null; `revoked` is called (on the
  /// scheduler's thread) if the scheduler takes it back before `leave`. Every lease of one
  /// opening shares the grant (taking one copies no strings).
  std::shared_ptr<const lease_outcome> try_enter(std::uint64_t ticket, revoke_callback revoked);

  /// Ends a lease taken here. True when it was the last one of a closed gate: the scheduler,
  /// which may be draining the model, must then be told.
  bool leave(std::uint64_t ticket);

  /// The scheduler's side: lets requests in with `grant` as their lease.
  void open(lease_outcome grant);

  /// The scheduler's side: lets no more requests in; those inside stay until they leave.
  void close();

  bool is_open() const;

  /// Leases taken here and not yet ended.
  std::size_t held() const;

  /// When a lease was last taken or ended here (the epoch before the first).
  std::chrono::steady_clock::time_point last_activity() const;

  /// Takes every lease back, calling each holder's `revoked` with `reason`; how many there were.
  std::size_t revoke_all(const std::string& reason);

private:
  mutable std::mutex mutex_;
  bool open_ = false;
  std::shared_ptr<const lease_outcome> grant_;
  std::chrono::steady_clock::time_point last_activity_;
  std::unordered_map<std::uint64_t, revoke_callback> leases_;
  /// Map nodes of ended leases, for the next ones: a lease taken here allocates none.
  std::vector<decltype(leases_)::node_type> spare_nodes_;
};

} // namespace llmux::actors
