#include "http/server.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <malloc.h>
#include <memory>
#include <sys/socket.h>
#include <thread>
#include <tuple>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "config/json_writer.hpp"
#include "http/drained_read.hpp"
#include "http/errors.hpp"
#include "http/memory_return.hpp"
#include "http/metrics.hpp"
#include "http/model_extract.hpp"
#include "http/router.hpp"
#include "http/session.hpp"
#include "http/status_json.hpp"

namespace llmux::http {

namespace bhttp = beast::http;

namespace {

/// Set on each io thread as it starts (io_thread_metrics).
thread_local http_metrics* current_metrics = nullptr;
constexpr auto linger_timeout = std::chrono::seconds(2);
constexpr auto accept_pause = std::chrono::milliseconds(100);
constexpr std::string_view over_body_budget
  = "llmux holds too many request bodies right now; try again";

// Counts an open connection for as long as it lives.
class counted_connection {
public:
  explicit counted_connection(std::atomic<std::size_t>& count) : count_(count) {
  }
  counted_connection(const counted_connection&) = delete;
  counted_connection& operator=(const counted_connection&) = delete;
  ~counted_connection() {
    --count_;
  }

private:
  std::atomic<std::size_t>& count_;
};

// Holds `bytes` of the global body budget while a request is handled.
class body_reservation {
public:
  body_reservation(std::atomic<std::size_t>& total, std::size_t limit, std::size_t bytes)
    : total_(total) {
    auto before = total_.fetch_add(bytes);
    if (before + bytes > limit && bytes > 0) {
      total_ -= bytes;
      return;
    }
    bytes_ = bytes;
    granted_ = true;
  }
  body_reservation(const body_reservation&) = delete;
  body_reservation& operator=(const body_reservation&) = delete;
  ~body_reservation() {
    total_ -= bytes_;
  }
  bool granted() const {
    return granted_;
  }

private:
  std::atomic<std::size_t>& total_;
  std::size_t bytes_ = 0;
  bool granted_ = false;
};

/// Shared by a request and the watcher that notices its client leaving while it waits.
struct wait_watch {
  std::uint64_t ticket = 0;
  bool client_gone = false;
  /// Whether the watcher may still touch the client socket (see relay_cut::watching_client).
  bool watching = true;
};

// While a request waits for a lease, a client that leaves cancels its place in the queue. The
// watcher reads the ticket only after its socket wait completes, by when acquire has set it.
void cancel_wait_when_client_leaves(tcp::socket& socket, actors::serving_session& session,
                                    std::shared_ptr<wait_watch> watch, bool serve_half_closed) {
  watch_client_leaving(
    socket, serve_half_closed, [watch] { return watch->watching; },
    [&session, watch] {
      watch->client_gone = true;
      session.release(watch->ticket);
    });
}

// Returns the ticket exactly once, however the request ends.
class lease_guard {
public:
  lease_guard(actors::serving_session& session, std::uint64_t ticket)
    : session_(session), ticket_(ticket) {
  }
  lease_guard(const lease_guard&) = delete;
  lease_guard& operator=(const lease_guard&) = delete;
  ~lease_guard() {
    session_.release(ticket_);
  }

private:
  actors::serving_session& session_;
  std::uint64_t ticket_;
};

/// One io thread and what only it touches: the connections it serves and their idle engine
/// connections. Nothing here needs a lock or a strand.
struct io_worker {
  /// Every socket is used by its io thread only (other threads post to it; the accept thread
  /// only registers a client's socket with it, before any operation on it), so Asio's reactor
  /// may skip its per-socket locks: about 4 lock pairs (300 instructions) a request. Posting
  /// and registering from other threads stay safe: the scheduler and the registry keep their
  /// locks.
  io_worker(engine_pool::limits pool_limits, access_keys first_keys)
    : io(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO), pool(pool_limits), waiting(io.get_executor()),
      keys(std::move(first_keys)) {
  }
  net::io_context io;
  engine_pool pool;
  /// Its relays waiting for their engines (whose clients are watched after a tick).
  waiting_relays waiting;
  /// This thread's copy of the proxy's keys (a reload posts new ones): no lock per request.
  access_keys keys;
  std::thread thread;
};

/// What one client connection keeps between its requests.
struct connection_state {
  io_worker& worker;
  /// The client's address, for x-forwarded-for.
  std::string address;
  /// Opened with the first proxied request; its acquires and releases stay in order.
  std::unique_ptr<actors::serving_session> session;
};

/// A lease taken at once, with what its relay reads: held by the client connection, not by a
/// coroutine frame (a frame per request fewer), until the request's handling ends
/// (connection_loop). The connection destroys it before the session it releases to.
struct relayed_lease {
  relayed_lease(actors::serving_session& session, actors::immediate_lease taken,
                model_reference model)
    : guard(session, taken.ticket), outcome(std::move(taken.lease)), reference(std::move(model)) {
  }
  lease_guard guard;
  std::shared_ptr<const actors::lease_outcome> outcome;
  model_reference reference;
};

/// A client connection. The coroutine that serves it owns it, or, while its request waits for
/// a lease, the parked request does: then no coroutine frame exists for it, which is what lets
/// thousands of requests wait in a few KB each.
struct client_connection {
  client_connection(tcp::socket socket, io_worker& worker, std::atomic<std::size_t>& count)
    : client(std::move(socket)), deadlines(client), counted(count), state{worker, {}, nullptr} {
  }
  tcp::socket client;
  connection_deadlines deadlines;
  counted_connection counted;
  /// What the client sent beyond the request being handled.
  beast::flat_buffer buffer;
  connection_state state;
  /// The share of the body budget the request being handled holds.
  std::optional<body_reservation> reserved;
  /// The last request's cut, for the next one when nothing holds it any more (next_cut).
  std::shared_ptr<relay_cut> last_cut;

  /// What the connection keeps of one request for the next: made when its first request is
  /// relayed, so that a connection whose first request waits (thousands may, during a switch)
  /// holds none of it.
  struct reused_memory {
    /// The last request, for the next one to fill: its strings keep their memory (see
    /// kept_request_memory).
    client_request request;
    /// Where the connection's relays build their heads.
    relay_strings relay;
    /// The lease of the request being relayed, taken at once (see relayed_lease).
    std::optional<relayed_lease> relayed;
  };
  /// The kept memory, made on first use.
  reused_memory& reused() {
    if (!reused_) {
      reused_ = std::make_unique<reused_memory>();
    }
    return *reused_;
  }
  /// The last request, emptied by the parser that fills it again; a new one before the first.
  client_request take_kept_request() {
    return reused_ ? std::move(reused_->request) : client_request();
  }
  /// Releases the lease of the request just handled, if it was relayed at once.
  void end_relayed_lease() {
    if (reused_) {
      reused_->relayed.reset();
    }
  }
  /// Lets the kept memory go (with any lease it still held): the next request makes it anew.
  void forget_reused() {
    reused_.reset();
  }

private:
  std::unique_ptr<reused_memory> reused_;
};
using connection_ptr = std::unique_ptr<client_connection>;

/// A streamed request's keep-alive while it waits: comment lines at an interval, the first
/// preceded by the response head. Touched only on the connection's io thread.
struct waiting_stream {
  explicit waiting_stream(const net::any_io_executor& executor)
    : timer(executor), write_done(executor) {
  }
  net::steady_timer timer;
  /// Wakes the lease's answer, which waits while a comment is being written.
  net::steady_timer write_done;
  /// The head has gone out: the answer continues the stream.
  bool begun = false;
  bool writing = false;
  /// The lease's answer came: no more comments.
  bool stopped = false;
  /// A comment did not go out whole: the stream cannot go on.
  bool broken = false;
};

/// A request waiting for its lease, with its connection.
struct parked_request {
  connection_ptr owner;
  client_request request;
  std::string target;
  model_reference reference;
  std::shared_ptr<relay_cut> cut;
  std::shared_ptr<wait_watch> watch = std::make_shared<wait_watch>();
  std::chrono::steady_clock::time_point arrived;
  /// For a streamed request, while keep-alive comments are on.
  std::shared_ptr<waiting_stream> stream;
};

constexpr auto pool_sweep_interval = std::chrono::seconds(1);
/// A crowd: after this many connections were open at once, memory goes back as they leave.
constexpr std::size_t trim_after_connections = 1000;
/// The most read buffer a client connection keeps between requests.
constexpr std::size_t kept_read_buffer = 4096;
/// The most memory a client connection keeps of its last request (head and body) for the next:
/// a typical chat request's, not a long prompt's.
constexpr std::size_t kept_request_memory = 8192;

// A request's cut, made anew only while the connection's last one is still held elsewhere (by
// a client watcher, or a revocation on its way): most requests reuse it.
std::shared_ptr<relay_cut> next_cut(std::shared_ptr<relay_cut>& last) {
  if (last && last.use_count() == 1) {
    *last = relay_cut{};
  } else {
    last = std::make_shared<relay_cut>();
  }
  return last;
}

// What a parked request's handling returns at once: its connection went with it.
net::awaitable<bool> handed_to_parked() {
  co_return false;
}

// The models `key` may use, as OpenAI lists them.
std::string model_list(const std::vector<std::string>& names, const access_keys& keys,
                       std::string_view key) {
  auto created = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
  std::string data;
  for (const auto& name : names) {
    if (keys.required(name) && !keys.opens(key, name)) {
      continue;
    }
    data += fmt::format(R"({}{{"id":{},"object":"model","created":{},"owned_by":"llmux"}})",
                        data.empty() ? "" : ",", config::json_quote(name), created);
  }
  return fmt::format(R"({{"object":"list","data":[{}]}})", data);
}

} // namespace

// Closing a socket with unread input makes the kernel reset the connection, which can destroy
// an error response the client has not read yet. So stop sending, then read and discard what
// the client still sends, for a bounded time.
net::awaitable<void> linger(tcp::socket& client) {
  beast::error_code ignored;
  client.shutdown(tcp::socket::shutdown_send, ignored);
  connection_deadlines deadline(client);
  deadline.request_by(std::chrono::steady_clock::now() + linger_timeout);
  std::array<char, 16 * 1024> sink;
  for (;;) {
    auto [ec, n] = co_await client.async_read_some(net::buffer(sink), use_tuple);
    if (ec) {
      co_return;
    }
  }
}

namespace {

bhttp::response<bhttp::string_body> make_response(const client_request& request, int status,
                                                  std::string content_type, std::string body) {
  bhttp::response<bhttp::string_body> response{static_cast<bhttp::status>(status),
                                               request.version()};
  response.set(bhttp::field::server, "llmux");
  response.set(bhttp::field::content_type, content_type);
  response.keep_alive(request.keep_alive());
  if (status == 405) {
    // Rare: the target is normalised again rather than carried here from routing.
    auto target = normalize_target(request.target());
    response.set(bhttp::field::allow, target ? allowed_methods(target->path) : "");
  }
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

// A HEAD request gets the head a GET would, Content-Length included, and no body.
net::awaitable<bool> write_response(tcp::socket& client, const client_request& request,
                                    bhttp::response<bhttp::string_body> response) {
  if (auto* metrics = io_thread_metrics()) {
    metrics->response_sent(static_cast<int>(response.result_int()));
  }
  bhttp::response_serializer<bhttp::string_body> serializer(response);
  beast::error_code failed;
  if (request.method() == bhttp::verb::head) {
    std::tie(failed, std::ignore)
      = co_await bhttp::async_write_header(client, serializer, use_tuple);
  } else {
    std::tie(failed, std::ignore) = co_await bhttp::async_write(client, serializer, use_tuple);
  }
  co_return !failed && request.keep_alive();
}

std::string_view presented_key(const client_request& request) {
  return access_keys::presented(request[bhttp::field::authorization], request["x-api-key"]);
}

// No key, or one that does not open what the request asks for. The message does not say which.
net::awaitable<bool> send_unauthorized(tcp::socket& client, const client_request& request) {
  auto response = make_response(request, 401, "application/json",
                                openai_error(401, "a valid API key is required: set "
                                                  "'Authorization: Bearer <key>'"));
  response.set(bhttp::field::www_authenticate, "Bearer");
  co_return co_await write_response(client, request, std::move(response));
}

// A refused lease: its status and message, and Retry-After for a model that backs off.
net::awaitable<bool> send_refusal(tcp::socket& client, const client_request& request,
                                  const actors::lease_outcome& refused) {
  auto response = make_response(request, status_of(refused.reason), "application/json",
                                openai_refusal(refused));
  if (refused.retry_after_secs > 0) {
    response.set(bhttp::field::retry_after, std::to_string(refused.retry_after_secs));
  }
  co_return co_await write_response(client, request, std::move(response));
}

} // namespace

http_metrics* io_thread_metrics() {
  return current_metrics;
}

net::awaitable<bool> send_response(tcp::socket& client, const client_request& request, int status,
                                   std::string content_type, std::string body) {
  co_return co_await write_response(
    client, request, make_response(request, status, std::move(content_type), std::move(body)));
}

net::awaitable<bool> send_error(tcp::socket& client, const client_request& request, int status,
                                std::string_view message, std::string_view param) {
  co_return co_await send_response(client, request, status, "application/json",
                                   openai_error(status, message, param));
}

// Answers a request that will not be read to the end, then closes the connection without
// resetting it (so the client gets to read the answer).
net::awaitable<void> refuse_and_close(tcp::socket& client, const client_request_parser& parser,
                                      int status, std::string message) {
  client_request head{parser.get().method(), parser.get().target(), parser.get().version()};
  head.keep_alive(false);
  co_await send_error(client, head, status, message);
  co_await linger(client);
}

struct proxy_server::impl {
  impl(actors::serving_backend& backend, server_settings settings, http_metrics& metrics)
    : backend_(backend), settings_(std::move(settings)), metrics_(metrics) {
    for (std::size_t i = 0; i < std::max<std::size_t>(settings_.io_threads, 1); ++i) {
      workers_.push_back(std::make_unique<io_worker>(
        engine_pool::limits{settings_.upstream_idle_per_engine, settings_.upstream_idle_time},
        settings_.keys));
    }
    acceptor_.emplace(accept_io_);
  }

  net::awaitable<void> accept_loop();
  net::awaitable<void> sweep_pool(io_worker& worker);
  /// Takes an accepted connection on its io thread.
  void serve_connection(tcp::socket socket, io_worker& worker);
  /// A new connection's first request, or the next after a response: read in a loop of its
  /// own once it comes. Until then the connection holds no coroutine frame and no read room:
  /// a crowd arriving at once, clients that stay silent until their idle deadline, idle
  /// keep-alive connections in a crowd cost that much less. `new_connection`: the first
  /// request (see late_read_room::first_read).
  void await_next_request(connection_ptr owner, bool new_connection);
  /// Whether so many connections are open (trim_after_connections) that an idle one should
  /// hold as little as it can, at some cost per request.
  bool crowded() const {
    return connections_.load(std::memory_order_relaxed) >= trim_after_connections;
  }
  /// Starts the connection's loop, with whatever its buffer holds.
  void start_loop(connection_ptr owner);
  /// Reads and answers the connection's requests until it closes, or until one is parked
  /// (then `owner` has been handed to it).
  net::awaitable<void> connection_loop(connection_ptr owner);
  /// Why a request could not be read, as an error response; nothing when the client left.
  struct read_refusal {
    int status;
    std::string message;
  };
  std::optional<read_refusal> refusal_for(beast::error_code ec, const client_request_parser& parser,
                                          bool deadline_expired, std::size_t buffered) const;
  /// An answer llmux gives itself.
  struct local_answer {
    int status = 200;
    std::string body;
  };
  local_answer answer_locally(const route_decision& decided, const client_request& request,
                              const access_keys& keys) const;
  /// Why a request naming `reference` cannot be forwarded, if it cannot.
  std::optional<local_answer> refuse_model(const model_reference& reference) const;
  /// Answers `request`; whether the connection may carry another. A request that must wait
  /// for its lease takes `owner` with it (see `park`). Neither this nor `proxy` is a coroutine:
  /// each decides at once and hands back the awaitable of what answers, so a proxied request
  /// adds only the relay's frames.
  net::awaitable<bool> handle(client_request& request, connection_ptr& owner);
  net::awaitable<bool> proxy(client_request& request, std::string target, connection_ptr& owner);
  /// Answers GET /status with the scheduler's snapshot.
  net::awaitable<bool> send_status(tcp::socket& client, const client_request& request);
  /// Queues a request with the scheduler and lets go of its coroutine frames: the connection
  /// moves into the parked request, and the lease's answer resumes it (`resume`). A watcher
  /// notices a client that leaves meanwhile and cancels the wait.
  void park(client_request& request, std::string target, model_reference reference,
            std::shared_ptr<relay_cut> cut, actors::revoke_callback revoked,
            std::chrono::steady_clock::time_point arrived, connection_ptr& owner);
  /// Writes keep-alive comments for a parked streamed request until its lease's answer comes.
  net::awaitable<void> keep_stream_alive(std::shared_ptr<parked_request> parked,
                                         std::shared_ptr<waiting_stream> stream,
                                         tcp::socket& client);
  /// Ends the comments; whether the response has begun. Waits (boundedly) for a comment being
  /// written, so that only one write is ever under way.
  net::awaitable<bool> stop_keepalive(waiting_stream& stream, tcp::socket& client);
  net::awaitable<void> resume(std::shared_ptr<parked_request> parked,
                              actors::lease_outcome outcome);
  /// Forwards a request whose lease was granted; whether the connection may carry another. Not a
  /// coroutine itself: the relay's frame is the only one it adds.
  net::awaitable<bool> forward(client_connection& connection, client_request& request,
                               std::string target, const model_reference& reference,
                               const actors::lease_outcome& lease, std::shared_ptr<relay_cut> cut,
                               std::chrono::steady_clock::time_point arrived,
                               bool stream_begun = false);

  actors::serving_backend& backend_;
  server_settings settings_;
  http_metrics& metrics_;
  std::vector<std::unique_ptr<io_worker>> workers_;
  /// Accepting runs on a thread of its own: Asio keeps every socket's reactor state for reuse,
  /// allocated by the thread that accepts the socket, and from the io thread's heap these
  /// small long-lived blocks would pin the pages a crowd of connections used, which then could
  /// not go back to the system after it left.
  net::io_context accept_io_{1};
  std::thread accept_thread_;
  std::optional<tcp::acceptor> acceptor_;
  std::size_t next_worker_ = 0;
  std::shared_ptr<spdlog::logger> log_ = spdlog::get("http");
  std::atomic<std::size_t> connections_{0};
  /// Request body bytes held by all connections now.
  std::atomic<std::size_t> buffered_bytes_{0};
};

net::awaitable<void> proxy_server::impl::accept_loop() {
  auto& acceptor = *acceptor_;
  net::steady_timer pause(acceptor.get_executor());
  bool paused = false;
  for (;;) {
    // At the connection cap new clients wait in the listen backlog, not in llmux's memory.
    if (connections_.load() >= settings_.max_connections) {
      if (!paused) {
        log_->warn("{} connections open, the most allowed (--max-connections): new ones wait",
                   settings_.max_connections);
      }
      paused = true;
      pause.expires_after(accept_pause);
      co_await pause.async_wait(use_tuple);
      continue;
    }
    // Connections are spread over the io threads in turn; each stays on its thread.
    auto& worker = *workers_[next_worker_];
    next_worker_ = (next_worker_ + 1) % workers_.size();
    auto [ec, socket] = co_await acceptor.async_accept(worker.io, use_tuple);
    if (ec == net::error::operation_aborted || !acceptor.is_open()) {
      co_return;
    }
    if (ec) {
      // Out of file descriptors (or buffers): the connection stays in the backlog, and trying
      // again at once would spin.
      if (!paused) {
        log_->warn("accepting a connection failed: {}; pausing accepts", ec.message());
      }
      paused = true;
      pause.expires_after(accept_pause);
      co_await pause.async_wait(use_tuple);
      continue;
    }
    if (paused) {
      log_->info("accepting connections again ({} open)", connections_.load());
      paused = false;
    }
    ++connections_;
    // The connection's memory comes from its io thread's heap, not this thread's.
    net::post(worker.io, [this, &worker, socket = std::move(socket)]() mutable {
      serve_connection(std::move(socket), worker);
    });
  }
}

// Closes idle engine connections before the engines do (uvicorn after 5 s). The first worker
// also hands memory back to the system as a crowd of connections leaves (memory_return_steps).
net::awaitable<void> proxy_server::impl::sweep_pool(io_worker& worker) {
  net::steady_timer tick(worker.io);
  memory_return_steps memory_return(trim_after_connections);
  for (;;) {
    tick.expires_after(pool_sweep_interval);
    if (auto [ec] = co_await tick.async_wait(use_tuple); ec) {
      co_return;
    }
    worker.pool.expire(std::chrono::steady_clock::now());
    if (&worker != workers_.front().get()) {
      continue;
    }
    if (memory_return.due(connections_.load())) {
      ::malloc_trim(0);
    }
  }
}

void proxy_server::impl::serve_connection(tcp::socket socket, io_worker& worker) {
  auto owner = std::make_unique<client_connection>(std::move(socket), worker, connections_);
  beast::error_code ignored;
  owner->client.set_option(tcp::no_delay(true), ignored);
  if (auto peer = owner->client.remote_endpoint(ignored); !ignored) {
    owner->state.address = peer.address().to_string();
  }
  await_next_request(std::move(owner), true);
}

void proxy_server::impl::await_next_request(connection_ptr owner, bool new_connection) {
  // One deadline for the next request, header and body: an idle keep-alive connection is
  // closed, a request that arrives too slowly gets 408.
  owner->deadlines.request_by(std::chrono::steady_clock::now() + settings_.idle_timeout);
  if (owner->buffer.size() > 0) {
    start_loop(std::move(owner));
    return;
  }
  // In a crowd, memory counts for more than the allocations a request saves by reusing it:
  // an idle connection then keeps only what reads its next request.
  if (crowded()) {
    owner->forget_reused();
  }
  // The read the loop would make first (a new connection's usually finds its request there),
  // with a handler of a few words for a frame and a room made only when bytes arrive: a
  // connection that waits holds neither. It waits for epoll as the loop's read would (a socket
  // wait would cost an epoll_ctl).
  auto& client = owner->client;
  auto& buffer = owner->buffer;
  buffer.shrink_to_fit();
  async_read_drained_late(
    client, late_read_room{&buffer, new_connection},
    [this, owner = std::move(owner)](beast::error_code ec, std::size_t got) mutable {
      // Nothing came but the client's end, a reset, the idle deadline or the server stopping:
      // the connection closes quietly.
      if (ec) {
        return;
      }
      owner->buffer.commit(got);
      start_loop(std::move(owner));
    });
}

void proxy_server::impl::start_loop(connection_ptr owner) {
  auto executor = owner->client.get_executor();
  net::co_spawn(executor, connection_loop(std::move(owner)), net::detached);
}

net::awaitable<void> proxy_server::impl::connection_loop(connection_ptr owner) {
  auto& client = owner->client;
  auto& buffer = owner->buffer;
  auto& reserved = owner->reserved;
  auto& deadlines = owner->deadlines;
  beast::error_code ignored;
  for (;;) {
    client_request_parser parser(owner->take_kept_request());
    parser.header_limit(static_cast<std::uint32_t>(settings_.header_limit));
    parser.body_limit(settings_.body_limit);
    // The reads are this frame's own (a nested coroutine would cost a frame per request).
    buffered_read head(buffer, parser, read_until::header);
    while (head.needs_bytes()) {
      head.took(co_await async_read_drained(client, head.room(), use_tuple));
    }
    auto ec = head.result();
    // Bodies count against one budget for all connections; a chunked body of unknown length
    // is counted once it has arrived.
    reserved.reset();
    if (!ec && !parser.is_done()) {
      reserved.emplace(buffered_bytes_, settings_.max_buffered_bytes,
                       parser.content_length().value_or(0));
      if (!reserved->granted()) {
        deadlines.request_arrived();
        co_await refuse_and_close(client, parser, 503, std::string(over_body_budget));
        co_return;
      }
    }
    if (!ec && !parser.is_done()
        && beast::iequals(parser.get()[bhttp::field::expect], "100-continue")) {
      // The client holds a large body back until it hears this (curl waits a second).
      bhttp::response<bhttp::empty_body> go_on{bhttp::status::continue_, parser.get().version()};
      std::tie(ec, std::ignore) = co_await bhttp::async_write(client, go_on, use_tuple);
    }
    if (!ec && !parser.is_done()) {
      buffered_read body(buffer, parser, read_until::message);
      while (body.needs_bytes()) {
        body.took(co_await async_read_drained(client, body.room(), use_tuple));
      }
      ec = body.result();
    }
    deadlines.request_arrived();
    if (ec) {
      auto refusal = refusal_for(ec, parser, deadlines.request_expired(), buffer.size());
      if (refusal) {
        co_await refuse_and_close(client, parser, refusal->status, refusal->message);
      }
      co_return; // answered, or end of stream, or a client that left
    }
    if (reserved && !parser.content_length()) {
      reserved.emplace(buffered_bytes_, settings_.max_buffered_bytes, parser.get().body().size());
      if (!reserved->granted()) {
        co_await refuse_and_close(client, parser, 503, std::string(over_body_budget));
        co_return;
      }
    }
    // A long request grew the read buffer (up to 16 KB); a connection keeps no more than a page
    // of it between requests.
    if (buffer.capacity() > kept_read_buffer) {
      buffer.shrink_to_fit();
    }
    auto request = parser.release();
    bool more = co_await handle(request, owner);
    if (!owner) {
      co_return; // parked: the connection waits with its request, no frame of ours needed
    }
    owner->end_relayed_lease();
    // The next request fills this one's strings, unless a large one grew them.
    if (request.capacity() <= kept_request_memory) {
      owner->reused().request = std::move(request);
    }
    if (!more) {
      break;
    }
    // In a crowd the connection waits for its next request without this frame; otherwise the
    // loop goes on (a new loop per request costs about 1,900 instructions).
    if (buffer.size() == 0 && crowded()) {
      await_next_request(std::move(owner), false);
      co_return;
    }
    // The next request's deadline runs from now.
    deadlines.request_by(std::chrono::steady_clock::now() + settings_.idle_timeout);
  }
  client.shutdown(tcp::socket::shutdown_send, ignored);
}

std::optional<proxy_server::impl::read_refusal>
proxy_server::impl::refusal_for(beast::error_code ec, const client_request_parser& parser,
                                bool deadline_expired, std::size_t buffered) const {
  if (ec == bhttp::error::header_limit) {
    return read_refusal{431,
                        fmt::format("the request headers exceed {} bytes", settings_.header_limit)};
  }
  if (ec == bhttp::error::body_limit) {
    return read_refusal{413,
                        fmt::format("the request body exceeds {} bytes", settings_.body_limit)};
  }
  if (ec == bhttp::error::bad_transfer_encoding) {
    if (parser.unsupported_transfer_coding()) {
      return read_refusal{501, "a request body may be sent with no transfer coding but chunked"};
    }
    return read_refusal{
      400, "the request's Transfer-Encoding does not frame its body: it must be just \"chunked\""};
  }
  if (ec == bhttp::error::bad_version && parser.unsupported_version()) {
    return read_refusal{505, "llmux speaks HTTP/1.0 and HTTP/1.1"};
  }
  if (deadline_expired) {
    // Nothing of a next request arrived: an idle keep-alive connection, closed quietly.
    if (!parser.got_some() && buffered == 0) {
      return std::nullopt;
    }
    return read_refusal{
      408, fmt::format("the request did not arrive within {} s", settings_.idle_timeout.count())};
  }
  if (!malformed_message(ec)) {
    return std::nullopt; // the client closed or reset the connection
  }
  return read_refusal{400, fmt::format("malformed HTTP request: {}", ec.message())};
}

// The answers llmux gives itself are made by plain functions (answer_locally, refuse_model)
// and sent by one co_await.
net::awaitable<bool> proxy_server::impl::handle(client_request& request, connection_ptr& owner) {
  auto& client = owner->client;
  auto decided
    = route_request(std::string_view(request.method_string()), std::string_view(request.target()));
  // The model list and the status need some key when keys are configured; a proxied request
  // one that opens its model (checked once its model is known).
  const auto& keys = owner->state.worker.keys;
  bool listing = decided.what == route::model_list || decided.what == route::status;
  if (listing && keys.required({}) && !keys.opens(presented_key(request), {})) {
    return send_unauthorized(client, request);
  }
  if (decided.what == route::proxy) {
    return proxy(request, std::move(decided.target), owner);
  }
  if (decided.what == route::status) {
    return send_status(client, request);
  }
  auto answer = answer_locally(decided, request, keys);
  return send_response(client, request, answer.status, "application/json", std::move(answer.body));
}

net::awaitable<bool> proxy_server::impl::send_status(tcp::socket& client,
                                                     const client_request& request) {
  auto snapshot = co_await async_callback<std::optional<actors::scheduler_snapshot>>(
    [&](auto done) { backend_.snapshot(std::move(done)); }, net::use_awaitable);
  local_answer answer;
  if (snapshot) {
    answer.body = status_json(*snapshot);
  } else {
    answer = {503, openai_error(503, "the scheduler did not answer")};
  }
  co_return co_await send_response(client, request, answer.status, "application/json",
                                   std::move(answer.body));
}

proxy_server::impl::local_answer proxy_server::impl::answer_locally(const route_decision& decided,
                                                                    const client_request& request,
                                                                    const access_keys& keys) const {
  switch (decided.what) {
    case route::health:
      return {200, R"({"status":"ok"})"};
    case route::model_list:
      return {200, model_list(backend_.model_names(), keys, presented_key(request))};
    case route::not_found:
      return {404, openai_error(404, fmt::format("{} is not an endpoint llmux serves or forwards",
                                                 decided.path()))};
    case route::bad_target:
      return {400, openai_error(400, "the request target is not a valid path")};
    case route::method_not_allowed:
      return {405, openai_error(405, fmt::format("{} does not allow {}", decided.path(),
                                                 std::string_view(request.method_string())))};
    case route::status:
    case route::proxy:
      break;
  }
  return {500, openai_error(500, "unexpected route")};
}

std::optional<proxy_server::impl::local_answer>
proxy_server::impl::refuse_model(const model_reference& reference) const {
  if (!reference.error.empty()) {
    return local_answer{400, openai_error(400, reference.error)};
  }
  if (reference.model.empty()) {
    return local_answer{
      400,
      openai_error(400, "no model named: set the body's \"model\" or the model-override header",
                   "model")};
  }
  if (!backend_.serves(reference.model)) {
    return local_answer{
      404,
      openai_error(404, fmt::format("The model `{}` does not exist.", reference.model), "model")};
  }
  return std::nullopt;
}

net::awaitable<bool> proxy_server::impl::proxy(client_request& request, std::string target,
                                               connection_ptr& owner) {
  auto& client = owner->client;
  auto& connection = owner->state;
  auto reference
    = find_model(request["model-override"], request[bhttp::field::content_type], request.body());
  const auto& keys = connection.worker.keys;
  if (keys.required(reference.model) && !keys.opens(presented_key(request), reference.model)) {
    return send_unauthorized(client, request);
  }
  if (auto refused = refuse_model(reference)) {
    return send_response(client, request, refused->status, "application/json",
                         std::move(refused->body));
  }
  if (!connection.session) {
    connection.session = backend_.open_session();
  }
  auto& session = *connection.session;
  auto cut = next_cut(owner->last_cut);
  // A revocation arrives on an actor thread; the cut is made on this connection's io thread.
  // Made where it is handed over (a copy would allocate once more per request).
  auto cut_when_revoked = [executor = client.get_executor(), &cut]() -> actors::revoke_callback {
    return [executor, cut](std::string reason) {
      net::post(executor,
                [cut, reason = std::move(reason)]() mutable { cut->cut(std::move(reason)); });
    };
  };
  // Usually the model is being served and nothing waits: the lease is taken at once.
  auto arrived = std::chrono::steady_clock::now();
  auto now = session.try_acquire(reference.model, cut_when_revoked());
  if (!now) {
    auto revoked = cut_when_revoked(); // before `cut` moves
    park(request, std::move(target), std::move(reference), std::move(cut), std::move(revoked),
         arrived, owner);
    return handed_to_parked();
  }
  auto& relayed = owner->reused().relayed.emplace(session, std::move(*now), std::move(reference));
  return forward(*owner, request, std::move(target), relayed.reference, *relayed.outcome,
                 std::move(cut), arrived);
}

void proxy_server::impl::park(client_request& request, std::string target,
                              model_reference reference, std::shared_ptr<relay_cut> cut,
                              actors::revoke_callback revoked,
                              std::chrono::steady_clock::time_point arrived,
                              connection_ptr& owner) {
  auto parked = std::make_shared<parked_request>();
  parked->arrived = arrived;
  parked->request = std::move(request);
  parked->target = std::move(target);
  parked->reference = std::move(reference);
  parked->cut = std::move(cut);
  parked->owner = std::move(owner);
  auto& connection = *parked->owner;
  // The read buffer is empty between requests unless the client pipelines, and the request's
  // head has room for a longer one: while the request waits neither keeps its spare capacity
  // (thousands of waiting requests add up), nor does its idle deadline keep a timer waiting.
  connection.buffer.shrink_to_fit();
  parked->request.shrink_head_to_fit();
  connection.deadlines.rest();
  auto& session = *connection.state.session;
  auto executor = connection.client.get_executor();
  cancel_wait_when_client_leaves(connection.client, session, parked->watch,
                                 settings_.serve_half_closed);
  // The answer comes on an actor thread; the request goes on on its io thread.
  if (settings_.stream_keepalive.count() > 0 && parked->reference.stream) {
    parked->stream = std::make_shared<waiting_stream>(executor);
    net::co_spawn(executor, keep_stream_alive(parked, parked->stream, connection.client),
                  net::detached);
  }
  parked->watch->ticket = session.acquire(
    parked->reference.model, settings_.request_timeout,
    [this, executor, parked](actors::lease_outcome outcome) {
      net::post(executor, [this, executor, parked, outcome = std::move(outcome)]() mutable {
        net::co_spawn(executor, resume(parked, std::move(outcome)), net::detached);
      });
    },
    std::move(revoked));
}

net::awaitable<void> proxy_server::impl::keep_stream_alive(std::shared_ptr<parked_request> parked,
                                                           std::shared_ptr<waiting_stream> stream,
                                                           tcp::socket& client) {
  auto comment = fmt::format(": waiting for {}\n\n", parked->reference.model);
  for (;;) {
    stream->timer.expires_after(settings_.stream_keepalive);
    co_await stream->timer.async_wait(use_tuple);
    // Once the answer came, the connection may be gone: the socket is not touched again.
    if (stream->stopped) {
      co_return;
    }
    std::string out;
    if (!stream->begun) {
      out = event_stream_head(parked->request);
      if (auto* metrics = io_thread_metrics()) {
        metrics->response_sent(200);
      }
    }
    out += event_stream_piece(parked->request, comment);
    stream->begun = true;
    stream->writing = true;
    auto [ec, written] = co_await net::async_write(client, net::buffer(out), use_tuple);
    stream->writing = false;
    stream->broken = ec.failed();
    if (stream->stopped) {
      stream->write_done.cancel();
      co_return;
    }
    if (ec) {
      co_return; // the client left: its watcher cancels the wait
    }
  }
}

net::awaitable<bool> proxy_server::impl::stop_keepalive(waiting_stream& stream,
                                                        tcp::socket& client) {
  stream.stopped = true;
  stream.timer.cancel();
  if (stream.writing) {
    // A comment is tens of bytes; a client that does not take even that is closed.
    stream.write_done.expires_after(settings_.relay.client_write);
    co_await stream.write_done.async_wait(use_tuple);
    if (stream.writing) {
      beast::error_code ignored;
      client.close(ignored);
    }
  }
  co_return stream.begun;
}

net::awaitable<void> proxy_server::impl::resume(std::shared_ptr<parked_request> parked,
                                                actors::lease_outcome outcome) {
  auto owner = std::move(parked->owner);
  auto& connection = *owner;
  parked->watch->watching = false;
  // The comments end before the socket's waits are cancelled, which would also cut a comment
  // being written.
  bool begun = false;
  if (parked->stream) {
    begun = co_await stop_keepalive(*parked->stream, connection.client);
    if (parked->stream->broken) {
      parked->watch->client_gone = true; // a half-written comment: the stream is lost
    }
  }
  beast::error_code ignored;
  connection.client.cancel(ignored);
  const auto& model = parked->reference.model;
  bool more = false;
  {
    lease_guard lease(*connection.state.session, parked->watch->ticket);
    if (parked->watch->client_gone) {
      metrics_.request_refused(model, actors::refusal::cancelled);
      co_return; // the connection closes with `owner`
    }
    if (!outcome.granted) {
      metrics_.request_refused(model, outcome.reason);
      if (begun) {
        auto event = stream_error_event(event_dialect_of(parked->target), status_of(outcome.reason),
                                        outcome.message);
        more = co_await end_event_stream(connection.client, parked->request, std::move(event));
      } else {
        more = co_await send_refusal(connection.client, parked->request, outcome);
      }
    } else {
      more = co_await forward(connection, parked->request, std::move(parked->target),
                              parked->reference, outcome, std::move(parked->cut), parked->arrived,
                              begun);
    }
  }
  if (!more) {
    connection.client.shutdown(tcp::socket::shutdown_send, ignored);
    co_return;
  }
  await_next_request(std::move(owner), false);
}

net::awaitable<bool>
proxy_server::impl::forward(client_connection& connection, client_request& request,
                            std::string target, const model_reference& reference,
                            const actors::lease_outcome& lease, std::shared_ptr<relay_cut> cut,
                            std::chrono::steady_clock::time_point arrived, bool stream_begun) {
  metrics_.request_admitted(reference.model, std::chrono::steady_clock::now() - arrived);
  // The body as the engine gets it: the request's own bytes, the model's path in place of its
  // name.
  auto body = reference.body_span ? spliced_body(request.body(), *reference.body_span,
                                                 lease.model_path, reference.encoding)
                                  : spliced_body(request.body());
  log_->debug("{} {} -> {} ({}:{})", std::string_view(request.method_string()), target,
              reference.model, actors::engine_address{lease.engine_host, lease.engine_port}.ip(),
              lease.engine_port);
  return forward_to_engine(
    connection.client, request, std::move(target), std::move(body), lease,
    relay_context{connection.state.worker.pool, settings_.relay, connection.deadlines,
                  connection.state.worker.waiting, connection.reused().relay, reference.model,
                  connection.state.address, *log_, settings_.serve_half_closed, stream_begun},
    std::move(cut));
}

proxy_server::proxy_server(actors::serving_backend& backend, server_settings settings,
                           http_metrics& metrics)
  : impl_(std::make_unique<impl>(backend, std::move(settings), metrics)) {
}

proxy_server::~proxy_server() {
  stop();
}

std::uint16_t proxy_server::start(std::string& error) {
  auto& self = *impl_;
  auto& acceptor = *self.acceptor_;
  beast::error_code ec;
  auto address = net::ip::make_address(self.settings_.host, ec);
  if (ec) {
    error = fmt::format("invalid listen address {}: {}", self.settings_.host, ec.message());
    return 0;
  }
  tcp::endpoint endpoint(address, self.settings_.port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) {
    acceptor.set_option(net::socket_base::reuse_address(true), ec);
    acceptor.bind(endpoint, ec);
  }
  if (!ec) {
    acceptor.listen(net::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    error = fmt::format("cannot listen on {}:{}: {}", self.settings_.host, self.settings_.port,
                        ec.message());
    return 0;
  }
  auto port = acceptor.local_endpoint().port();
  // Engines that stop serving take their idle connections with them.
  self.backend_.on_engine_retired([&self](const actors::engine_address& engine,
                                          std::uint64_t epoch) {
    for (auto& worker : self.workers_) {
      net::post(worker->io, [&pool = worker->pool, engine, epoch] { pool.retire(engine, epoch); });
    }
  });
  net::co_spawn(acceptor.get_executor(), self.accept_loop(), net::detached);
  self.accept_thread_ = std::thread([&io = self.accept_io_] { io.run(); });
  for (auto& worker : self.workers_) {
    net::co_spawn(worker->io, self.sweep_pool(*worker), net::detached);
    worker->thread = std::thread([&io = worker->io, &metrics = self.metrics_] {
      current_metrics = &metrics;
      io.run();
    });
  }
  return port;
}

void proxy_server::set_access_keys(const access_keys& keys) {
  for (auto& worker : impl_->workers_) {
    net::post(worker->io, [&target = worker->keys, keys] { target = keys; });
  }
}

void proxy_server::stop_accepting() {
  auto& self = *impl_;
  net::post(self.acceptor_->get_executor(), [&self] {
    beast::error_code ignored;
    self.acceptor_->close(ignored);
  });
}

void proxy_server::stop() {
  auto& self = *impl_;
  self.backend_.on_engine_retired({});
  self.accept_io_.stop();
  if (self.accept_thread_.joinable()) {
    self.accept_thread_.join();
  }
  for (auto& worker : self.workers_) {
    worker->io.stop();
  }
  for (auto& worker : self.workers_) {
    if (worker->thread.joinable()) {
      worker->thread.join();
    }
  }
}

} // namespace llmux::http
