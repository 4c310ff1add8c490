#pragma once

// Internal to http/: what the connection code and the forwarding code share.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/intrusive/list.hpp>

#include "actors/serving.hpp"
#include "http/client_request.hpp"
#include "http/engine_response.hpp"
#include "http/model_extract.hpp"
#include "http/server.hpp"
#include "http/upstream_pool.hpp"

namespace spdlog {
class logger;
} // namespace spdlog

namespace llmux::http {

class http_metrics;

namespace beast = boost::beast;
namespace net = boost::asio;
using tcp = net::ip::tcp;

/// How the HTTP side awaits an Asio operation: `co_await socket.async_read_some(room,
/// use_tuple)`. The results come as a tuple (an error is a value, not an exception), and the
/// operation is awaited in the coroutine's own frame (`deferred`); `use_awaitable` would make
/// a coroutine frame for each operation (about 170 instructions, and an allocation whenever
/// Asio's per-thread cache of two frames is empty).
constexpr auto use_tuple = net::as_tuple(net::deferred);
/// An idle connection to an engine, with the read buffer its relays used: the next request on
/// it reads into memory already there.
struct engine_connection {
  tcp::socket socket;
  beast::flat_buffer buffer;
};
/// An io thread's idle engine connections.
using engine_pool
  = upstream_pool<engine_connection, actors::engine_address, actors::engine_address_hash>;

// Turns a call that reports through a callback (on an actor thread) into an Asio operation
// whose completion runs on the handler's executor (the connection's io thread, never the
// actor thread). `start(done)` makes the call.
template <class Result, class Start, class Token>
auto async_callback(Start start, Token&& token) {
  return net::async_initiate<Token, void(Result)>(
    [start = std::move(start)](auto handler) mutable {
      auto work = net::make_work_guard(net::get_associated_executor(handler));
      auto shared = std::make_shared<decltype(handler)>(std::move(handler));
      start([shared, work](Result result) mutable {
        auto executor = work.get_executor();
        net::post(executor, [shared, work = std::move(work), result = std::move(result)]() mutable {
          (*shared)(std::move(result));
        });
      });
    },
    token);
}

/// How much of an HTTP message a read (`buffered_read`, `read_http`) waits for.
enum class read_until {
  header,  ///< the whole header (the body, if any, is left for a later read)
  message, ///< the whole message
  /// any progress: some bytes parsed (the consumed ones are not moved before the next call),
  /// no room for more body in the parser (need_buffer) or the message ended
  some,
};

/// Told when a read must wait for its peer (what is buffered is not enough): a caller that
/// bounds such waits arms its deadline then, not before every read.
class read_wait_hook {
public:
  virtual void waiting() = 0;

protected:
  ~read_wait_hook() = default;
};

/// `buffer`'s next read room for async_read_drained_late: made when a read is tried, and let
/// go again when the try found nothing and the buffer holds nothing else, so that a connection
/// waiting for its client holds no read buffer.
struct late_read_room {
  /// The connection's read buffer.
  beast::flat_buffer* buffer;
  /// A new connection's first read. It may not count the socket drained: the epoll event of its
  /// first bytes may have been taken before the read began, and with it a half-close no later
  /// event would tell of. Its room is a buffered read's first (512 bytes), which the buffer
  /// keeps if the connection stays in its loop; a later read's is a page at once, as much as
  /// the connection kept before it waited.
  bool first_read = false;
  /// The room, when a read is tried.
  net::mutable_buffer make() const;
  /// Gives the room back if the buffer holds nothing.
  void nothing_came() const;
  bool may_drain() const {
    return !first_read;
  }
};

/// `buffered_read` as a coroutine of its own, for the paths a nested frame per read does not
/// burden (an engine's error answer to a begun stream): what Beast's async_read_header,
/// async_read and async_read_some do, with the same results and errors. `hook`, if any, hears
/// of every read that has to wait.
net::awaitable<beast::error_code> read_http(tcp::socket& socket, beast::flat_buffer& buffer,
                                            engine_response_parser& parser, read_until until,
                                            read_wait_hook* hook = nullptr);

/// Parses what `buffer` holds for a read that waits for `until`: where the next socket read
/// goes, or nothing when the read is over, with `ec` saying how (success, a parse error, a
/// limit, need_buffer, buffer_overflow). (`buffered_read`'s first step.) `Parser` is a client's
/// request parser (a `client_request_parser`) or an `engine_response_parser`.
template <class Parser>
std::optional<net::mutable_buffer> parse_buffered(beast::flat_buffer& buffer, Parser& parser,
                                                  read_until until, beast::error_code& ec);
/// Takes a socket read of `read` bytes into `room` bytes of `buffer`: true to parse on, false
/// when the read is over with `ec` (at the peer's end of stream, the end of a message that ends
/// with the connection or one cut short). A read that filled its room doubles the buffer for
/// the next (up to 16 KB). (`buffered_read`'s second step.)
template <class Parser>
bool take_read(beast::flat_buffer& buffer, Parser& parser, beast::error_code read_error,
               std::size_t read, std::size_t room, beast::error_code& ec);

/// Whether a read that ended with `ec` met a malformed message (one of Beast's parse errors or
/// limits), rather than a peer that closed or reset its connection before or within a message.
bool malformed_message(const beast::error_code& ec);

/// What Beast's async_read_header, async_read and async_read_some do, with the same results
/// and errors, done in the caller's own coroutine frame, for the hot path: bytes already in
/// `buffer` are parsed at once, and each read is one socket operation. (Beast's composed
/// operations cost about as many instructions per request as the parsing itself, and a nested
/// coroutine per read a frame and a resumption, per event of a stream; BENCHMARKS.md, "Data
/// path".)
///
///     buffered_read read(buffer, parser, read_until::some);
///     while (read.needs_bytes()) {
///       read.took(co_await socket.async_read_some(read.room(), use_tuple));
///     }
///     auto ec = read.result();
template <class Parser>
class buffered_read {
public:
  /// Parses what `buffer` already holds.
  buffered_read(beast::flat_buffer& buffer, std::type_identity_t<Parser>& parser, read_until until)
    : buffer_(buffer), parser_(parser), until_(until),
      room_(parse_buffered(buffer, parser, until, ec_)) {
  }

  /// Whether the read has to wait for the socket.
  bool needs_bytes() const {
    return room_.has_value();
  }
  /// Where the socket read goes (while `needs_bytes()`).
  net::mutable_buffer room() const {
    return *room_;
  }
  /// Takes a socket read's outcome (as `as_tuple` gives it) and parses on.
  void took(std::tuple<beast::error_code, std::size_t> outcome) {
    auto room = room_->size();
    room_.reset();
    if (take_read(buffer_, parser_, std::get<0>(outcome), std::get<1>(outcome), room, ec_)) {
      room_ = parse_buffered(buffer_, parser_, until_, ec_);
    }
  }
  /// How the read ended (once `needs_bytes()` is false).
  beast::error_code result() const {
    return ec_;
  }

private:
  beast::flat_buffer& buffer_;
  Parser& parser_;
  read_until until_;
  beast::error_code ec_;
  std::optional<net::mutable_buffer> room_;
};

buffered_read(beast::flat_buffer&, client_request_parser&, read_until)
  ->buffered_read<client_request_parser>;
buffered_read(beast::flat_buffer&, engine_response_parser&, read_until)
  ->buffered_read<engine_response_parser>;

/// The metrics the proxy's io thread running this records into; null elsewhere (tests, tools).
http_metrics* io_thread_metrics();

/// Writes a whole response with a body; false when the client is gone.
net::awaitable<bool> send_response(tcp::socket& client, const client_request& request, int status,
                                   std::string content_type, std::string body);

/// Writes an OpenAI-shaped error response.
net::awaitable<bool> send_error(tcp::socket& client, const client_request& request, int status,
                                std::string_view message, std::string_view param = {});

/// What a peek at a client socket that became readable found.
enum class client_activity {
  left,        ///< reset, or closed (a half-close counts unless half-closed clients are served)
  sent_more,   ///< bytes (its next request), or a half-close that is served: nothing to watch
  nothing_new, ///< nothing: epoll reported bytes that were read already
};

/// Peeks at a client socket that became readable. TCP cannot tell a client that closed from
/// one that only shut down writing: an orderly end counts as leaving unless
/// `serve_half_closed`.
client_activity peek_client(tcp::socket& socket, bool serve_half_closed);

/// Watches `socket` without reading from it while a request is handled: calls `left()` once
/// if its client leaves, as long as `watching()` says the socket may still be touched. A
/// wake-up that finds nothing new waits again (epoll can report bytes that a read took before
/// the wait began); bytes the client sends meanwhile end the watch, as they are not read here.
template <class Watching, class Left>
void watch_client_leaving(tcp::socket& socket, bool serve_half_closed, Watching watching,
                          Left left) {
  socket.async_wait(tcp::socket::wait_read, [&socket, serve_half_closed,
                                             watching = std::move(watching),
                                             left = std::move(left)](beast::error_code ec) mutable {
    if (ec || !watching()) {
      return;
    }
    switch (peek_client(socket, serve_half_closed)) {
      case client_activity::left:
        left();
        return;
      case client_activity::nothing_new:
        watch_client_leaving(socket, serve_half_closed, std::move(watching), std::move(left));
        return;
      case client_activity::sent_more:
        return;
    }
  });
}

/// The deadlines of one client connection, kept by one timer for the connection's life: the
/// next request's arrival, and during a relay the engine's silence and a write to the client.
/// A deadline that moves later leaves the timer alone; the timer, when it fires, acts on the
/// deadlines that have passed and waits again for the earliest one left. (A timer armed and
/// cancelled for each deadline cost two timer operations and two handler runs per request.)
/// Touched only on the connection's io thread.
class connection_deadlines {
public:
  using clock = std::chrono::steady_clock;

  explicit connection_deadlines(tcp::socket& client);
  connection_deadlines(const connection_deadlines&) = delete;
  connection_deadlines& operator=(const connection_deadlines&) = delete;
  ~connection_deadlines();

  /// The next request must have arrived by `when`; after that the client socket's operations
  /// are cancelled (the socket stays open, for a 408) and `request_expired` says so.
  void request_by(clock::time_point when);
  /// The request arrived (or will not be read): its deadline no longer applies.
  void request_arrived();
  bool request_expired() const;
  /// No deadline applies until one is set again: the timer stops waiting, so that a
  /// connection whose request waits for its model holds no timer operation.
  void rest();

  /// A relay reads from `engine` until `relay_ends`: the engine and client-write deadlines
  /// start unset and not expired.
  void relay_begins(tcp::socket& engine);
  /// The relay is over: its deadlines no longer apply, its engine socket is not touched.
  void relay_ends();
  /// The engine must have sent something by `when` (none: no bound); after that the engine
  /// socket is closed and `engine_expired` says so.
  void engine_by(std::optional<clock::time_point> when);
  bool engine_expired() const;
  /// The write to the client must have ended by `when` (none: no write pending); after that
  /// the client socket is closed and `client_write_expired` says so.
  void client_write_by(std::optional<clock::time_point> when);
  bool client_write_expired() const;

private:
  struct state;
  void arm(std::optional<clock::time_point> when);
  void fire();

  std::shared_ptr<state> state_;
};

/// The relays of one io thread whose engines have not answered yet. A relay still waiting
/// after a tick or two (50 to 100 ms) starts watching its client for leaving, so that a client
/// that gives up stops the generation. Watching from the start cost a system call per request
/// (Asio re-arms epoll for a socket wait), which the many quick answers need not pay; a client
/// that leaves within the first 100 ms is noticed by then. Touched only on its io thread, and
/// kept as long as that thread runs its io_context (a tick already due would find it gone).
class waiting_relays {
public:
  /// A relay waiting for its engine: in the list from `enter` until it is watched or leaves.
  class entry : public boost::intrusive::list_base_hook<
                  boost::intrusive::link_mode<boost::intrusive::auto_unlink>> {
  public:
    /// Called once, on the io thread, when the wait has lasted a tick.
    virtual void watch_client() = 0;

  protected:
    entry() = default;
    ~entry() = default;

  private:
    friend class waiting_relays;
    std::uint64_t entered_at_tick = 0;
  };

  static constexpr std::chrono::milliseconds tick{50};

  explicit waiting_relays(const net::any_io_executor& executor);
  waiting_relays(const waiting_relays&) = delete;
  waiting_relays& operator=(const waiting_relays&) = delete;

  /// `waiting` now waits for its engine; the tick starts if it was not running.
  void enter(entry& waiting);
  /// The engine answered (or the relay failed): no watching needed. Nothing if not listed.
  static void leave(entry& waiting) {
    if (waiting.is_linked()) {
      waiting.unlink();
    }
  }

private:
  void arm();
  void on_tick();

  net::steady_timer timer_;
  boost::intrusive::list<entry, boost::intrusive::constant_time_size<false>> waiting_;
  std::uint64_t ticks_ = 0;
  bool ticking_ = false;
};

/// Ends a relay from outside: the scheduler revoked the lease, or the client left while the
/// engine had not answered yet. Only touched on the connection's strand.
struct relay_cut {
  /// Why the relay was cut, once it was.
  std::optional<std::string> reason;
  /// The engine connection while one is open: closing it ends the relay at once.
  tcp::socket* engine = nullptr;
  /// Whether the client-departure watcher may still touch the client socket (it may be
  /// resumed after the relay has moved on, even after the connection has ended).
  bool watching_client = false;

  void cut(std::string why) {
    if (!reason) {
      reason = std::move(why);
    }
    if (engine != nullptr) {
      beast::error_code ignored;
      engine->close(ignored);
    }
  }
};

/// The strings a relay builds for every request, kept by its client connection between
/// requests: a keep-alive connection's relays build them in memory they already have.
struct relay_strings {
  /// The request's head for the engine.
  std::string request_head;
  /// The client's response head, until it has been written.
  std::string response_head;
  /// The engine's header lines that the client gets (engine_response_parser's).
  std::string forwarded_fields;
};

/// What a relay uses besides the request itself.
struct relay_context {
  /// The io thread's idle engine connections: the relay takes one and returns it when the
  /// engine's answer leaves the connection reusable.
  engine_pool& pool;
  const relay_limits& limits;
  /// The client connection's deadlines; the relay sets the engine's and the client writes'.
  connection_deadlines& deadlines;
  /// The io thread's relays waiting for their engines.
  waiting_relays& waiting;
  /// The client connection's memory for the strings a relay builds.
  relay_strings& strings;
  /// The model the client asked for (its public name).
  std::string_view model;
  /// The client's address, for x-forwarded-for; empty when unknown.
  std::string_view client_address;
  /// The "http" logger, looked up once by the server.
  spdlog::logger& log;
  /// See server_settings::serve_half_closed.
  bool serve_half_closed = false;
  /// llmux began the response itself while the request waited (keep-alive comments): an event
  /// stream's head has gone out, so the engine's answer continues it (`event_stream_head`).
  bool stream_begun = false;
};

/// The head of an event stream llmux begins itself: 200, chunked for HTTP/1.1 (for HTTP/1.0
/// it ends with the connection).
std::string event_stream_head(const client_request& request);

/// `data` as one piece of a begun event stream: a chunk for HTTP/1.1, as it is for HTTP/1.0.
std::string event_stream_piece(const client_request& request, std::string_view data);

/// The end of a begun event stream: `event` (an SSE error event, say) and the last chunk.
/// Returns whether the connection may carry another request.
net::awaitable<bool> end_event_stream(tcp::socket& client, const client_request& request,
                                      std::string event);

/// Forwards `request` to `target` (the normalised path and query) with `body` as its body on
/// the engine the lease names, and streams the engine's response back to `client` as it
/// arrives; `cut` may end it early. Returns whether the client connection may carry another
/// request.
net::awaitable<bool> forward_to_engine(tcp::socket& client, const client_request& request,
                                       std::string target, spliced_body body,
                                       const actors::lease_outcome& lease, relay_context context,
                                       std::shared_ptr<relay_cut> cut);

} // namespace llmux::http
