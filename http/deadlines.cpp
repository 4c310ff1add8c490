// One timer per client connection for all of its deadlines (connection_deadlines).

#include <boost/asio/steady_timer.hpp>

#include "http/session.hpp"

namespace llmux::http {

struct connection_deadlines::state {
  explicit state(tcp::socket& client_socket)
    : timer(client_socket.get_executor()), client(&client_socket) {
  }
  net::steady_timer timer;
  /// Null once the owner is gone: a completion that was already queued then does nothing.
  tcp::socket* client;
  tcp::socket* engine = nullptr;
  std::optional<clock::time_point> request;
  std::optional<clock::time_point> engine_silence;
  std::optional<clock::time_point> client_write;
  /// What the timer waits for now, if it waits.
  std::optional<clock::time_point> armed_for;
  bool request_expired = false;
  bool engine_expired = false;
  bool client_write_expired = false;
};

connection_deadlines::connection_deadlines(tcp::socket& client)
  : state_(std::make_shared<state>(client)) {
}

connection_deadlines::~connection_deadlines() {
  state_->client = nullptr;
  state_->engine = nullptr;
  state_->timer.cancel(); // a pending wait would keep the state, and the io_context, busy
}

void connection_deadlines::request_by(clock::time_point when) {
  state_->request = when;
  state_->request_expired = false;
  arm(when);
}

void connection_deadlines::request_arrived() {
  state_->request.reset();
}

bool connection_deadlines::request_expired() const {
  return state_->request_expired;
}

void connection_deadlines::rest() {
  auto& current = *state_;
  current.request.reset();
  current.engine_silence.reset();
  current.client_write.reset();
  if (current.armed_for) {
    current.armed_for.reset();
    current.timer.cancel();
  }
}

void connection_deadlines::relay_begins(tcp::socket& engine) {
  state_->engine = &engine;
  state_->engine_silence.reset();
  state_->client_write.reset();
  state_->engine_expired = false;
  state_->client_write_expired = false;
}

void connection_deadlines::relay_ends() {
  state_->engine = nullptr;
  state_->engine_silence.reset();
  state_->client_write.reset();
}

void connection_deadlines::engine_by(std::optional<clock::time_point> when) {
  state_->engine_silence = when;
  arm(when);
}

bool connection_deadlines::engine_expired() const {
  return state_->engine_expired;
}

void connection_deadlines::client_write_by(std::optional<clock::time_point> when) {
  state_->client_write = when;
  arm(when);
}

bool connection_deadlines::client_write_expired() const {
  return state_->client_write_expired;
}

void connection_deadlines::arm(std::optional<clock::time_point> when) {
  auto& current = *state_;
  if (!when || (current.armed_for && *current.armed_for <= *when)) {
    return; // the timer fires no later than needed and looks again then
  }
  current.armed_for = when;
  current.timer.expires_at(*when);
  current.timer.async_wait([this, shared = state_](beast::error_code ec) {
    if (ec || shared->client == nullptr) {
      return;
    }
    shared->armed_for.reset();
    fire();
  });
}

void connection_deadlines::fire() {
  auto& current = *state_;
  auto now = clock::now();
  auto passed = [now](std::optional<clock::time_point>& deadline) {
    if (deadline && now >= *deadline) {
      deadline.reset();
      return true;
    }
    return false;
  };
  beast::error_code ignored;
  if (passed(current.request)) {
    current.request_expired = true;
    current.client->cancel(ignored);
  }
  if (passed(current.engine_silence) && current.engine != nullptr) {
    current.engine_expired = true;
    current.engine->close(ignored);
  }
  if (passed(current.client_write)) {
    current.client_write_expired = true;
    current.client->close(ignored);
  }
  std::optional<clock::time_point> next;
  for (const auto& deadline : {current.request, current.engine_silence, current.client_write}) {
    if (deadline && (!next || *deadline < *next)) {
      next = deadline;
    }
  }
  arm(next);
}

} // namespace llmux::http
