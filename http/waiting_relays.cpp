// The relays of an io thread that wait for their engines (waiting_relays).

#include "http/session.hpp"

namespace llmux::http {

waiting_relays::waiting_relays(const net::any_io_executor& executor) : timer_(executor) {
}

void waiting_relays::enter(entry& waiting) {
  leave(waiting);
  waiting.entered_at_tick = ticks_;
  waiting_.push_back(waiting);
  // The timer runs only while relays wait: an idle io thread has no tick.
  if (!ticking_) {
    ticking_ = true;
    arm();
  }
}

void waiting_relays::arm() {
  timer_.expires_after(tick);
  timer_.async_wait([this](beast::error_code ec) {
    if (!ec) {
      on_tick();
    }
  });
}

void waiting_relays::on_tick() {
  ++ticks_;
  // Those entered before the previous tick have waited a tick at least. They are listed in the
  // order they entered.
  while (!waiting_.empty() && waiting_.front().entered_at_tick + 2 <= ticks_) {
    auto& due = waiting_.front();
    waiting_.pop_front();
    due.watch_client();
  }
  if (waiting_.empty()) {
    ticking_ = false;
    return;
  }
  arm();
}

} // namespace llmux::http
