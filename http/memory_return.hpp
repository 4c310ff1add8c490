#pragma once

#include <algorithm>
#include <cstddef>

namespace llmux::http {

/// When to hand freed memory back to the system (malloc_trim) as a crowd of client connections
/// leaves: glibc keeps freed memory otherwise, and the next crowd may never come. In steps, each
/// time the open connections fall below a quarter of what they were at the last step, and once
/// more when the last of them has gone: a crowd leaves over seconds, and memory freed after
/// the last step would otherwise stay. A few steps per crowd (about log4 of its size), none
/// while connections come and go below `crowd_size`.
class memory_return_steps {
public:
  explicit memory_return_steps(std::size_t crowd_size) : crowd_size_(crowd_size) {
  }

  /// Told the connections open now (at a regular tick); whether memory should go back now.
  bool due(std::size_t open) {
    level_ = std::max(level_, open);
    leaving_ = leaving_ || level_ >= crowd_size_;
    if (!leaving_ || (open != 0 && open >= level_ / 4)) {
      return false;
    }
    level_ = open;
    leaving_ = open != 0;
    return true;
  }

private:
  std::size_t crowd_size_;
  /// The most connections open since the last step.
  std::size_t level_ = 0;
  /// A crowd came and has not all gone yet.
  bool leaving_ = false;
};

} // namespace llmux::http
