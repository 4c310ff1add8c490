#include "actors/lease_gate.hpp"

#include <utility>
#include <vector>

namespace llmux::actors {

namespace {
/// The spare map nodes a gate keeps (a few KB at most).
constexpr std::size_t max_spare_nodes = 64;
} // namespace

std::shared_ptr<const lease_outcome> lease_gate::try_enter(std::uint64_t ticket,
                                                           revoke_callback revoked) {
  std::lock_guard lock(mutex_);
  if (!open_) {
    return nullptr;
  }
  if (spare_nodes_.empty()) {
    leases_.emplace(ticket, std::move(revoked));
  } else {
    auto node = std::move(spare_nodes_.back());
    spare_nodes_.pop_back();
    node.key() = ticket;
    node.mapped() = std::move(revoked);
    leases_.insert(std::move(node));
  }
  last_activity_ = std::chrono::steady_clock::now();
  return grant_;
}

bool lease_gate::leave(std::uint64_t ticket) {
  std::lock_guard lock(mutex_);
  last_activity_ = std::chrono::steady_clock::now();
  auto node = leases_.extract(ticket);
  if (node.empty()) {
    return false;
  }
  if (spare_nodes_.size() < max_spare_nodes) {
    node.mapped() = nullptr;
    spare_nodes_.push_back(std::move(node));
  }
  return !open_ && leases_.empty();
}

void lease_gate::open(lease_outcome grant) {
  std::lock_guard lock(mutex_);
  grant_ = std::make_shared<const lease_outcome>(std::move(grant));
  open_ = true;
}

void lease_gate::close() {
  std::lock_guard lock(mutex_);
  open_ = false;
}

bool lease_gate::is_open() const {
  std::lock_guard lock(mutex_);
  return open_;
}

std::size_t lease_gate::held() const {
  std::lock_guard lock(mutex_);
  return leases_.size();
}

std::chrono::steady_clock::time_point lease_gate::last_activity() const {
  std::lock_guard lock(mutex_);
  return last_activity_;
}

std::size_t lease_gate::revoke_all(const std::string& reason) {
  std::unordered_map<std::uint64_t, revoke_callback> taken;
  {
    std::lock_guard lock(mutex_);
    taken.swap(leases_);
  }
  for (auto& [ticket, revoked] : taken) {
    if (revoked) {
      revoked(reason);
    }
  }
  return taken.size();
}

} // namespace llmux::actors
