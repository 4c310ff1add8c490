// Forwarding one request to an engine and relaying its response, streamed.

#include <array>
#include <charconv>
#include <chrono>
#include <optional>
#include <span>
#include <string_view>
#include <tuple>

#include <sys/socket.h>
#include <sys/uio.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffer_traits.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/status.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "http/drained_read.hpp"
#include "http/engine_response.hpp"
#include "http/errors.hpp"
#include "http/metrics.hpp"
#include "http/session.hpp"

namespace llmux::http {

namespace bhttp = beast::http;

namespace {

using clock_type = std::chrono::steady_clock;
using namespace std::string_view_literals;

constexpr auto connect_timeout = std::chrono::seconds(10);
/// The room of the first read from the engine: a page, as nginx's proxy_buffer_size, so that a
/// typical non-streamed answer (1-4 KB) arrives in one read and leaves in one write. Reads that
/// fill their room double it (take_read).
constexpr std::size_t first_engine_read = 4096;
/// Interim answers (1xx) an engine may send before its final one; more end the relay.
constexpr int max_interim_answers = 8;

// Heads are built once per request: plain appends, no format strings.
void append_number(std::string& out, std::uint64_t number, int base = 10) {
  std::array<char, 24> digits;
  auto end = std::to_chars(digits.data(), digits.data() + digits.size(), number, base).ptr;
  out.append(digits.data(), end);
}

// The request head for the engine, in one piece (in `head`, whose memory is reused): the client's
// end-to-end headers, then Host, the x-forwarded pair and the body's length. (Beast's serializer
// would send each field as a buffer of its own.) Behind a gateway the "engine" is a node's proxy,
// which routes by model name too: `model_override` names the model there, whether the client named
// it in the body or in its own model-override header.
void engine_request_head(std::string& head, const client_request& request, std::string_view target,
                         std::size_t body_size, const actors::engine_address& engine,
                         std::string_view client_address, std::string_view model_override) {
  head.clear();
  head.reserve(256); // a connection's first request allocates once, the later ones not at all
  head += request.method_string();
  head += ' ';
  head += target;
  head += " HTTP/1.1\r\n"sv;
  request.for_each_forwarded([&head](std::string_view line) { head += line; });
  head += "Host: "sv;
  if (engine.ip().find(':') != std::string_view::npos) {
    head += '[';
    head += engine.ip();
    head += ']';
  } else {
    head += engine.ip();
  }
  head += ':';
  append_number(head, engine.port);
  head += "\r\nX-Forwarded-Proto: http\r\n"sv;
  if (!client_address.empty()) {
    head += "X-Forwarded-For: "sv;
    head += client_address;
    head += "\r\n"sv;
  }
  if (!model_override.empty()) {
    head += "Model-Override: "sv;
    head += model_override;
    head += "\r\n"sv;
  }
  auto method = request.method();
  bool bodiless = method == bhttp::verb::get || method == bhttp::verb::head
                  || method == bhttp::verb::delete_ || method == bhttp::verb::options;
  if (body_size > 0 || !bodiless) {
    head += "Content-Length: "sv;
    append_number(head, body_size);
    head += "\r\n"sv;
  }
  head += "\r\n"sv;
}

// How much of an engine's error answer is relayed as an event of a begun stream.
constexpr std::size_t begun_stream_error_limit = 64 * 1024;

// Sends what `socket` takes now, without waiting: the bytes sent (0 when it would block), or
// an error. One sendmsg, as Asio's own first attempt would be; only a rest that does not fit
// needs an asynchronous write.
template <class Buffers>
std::size_t send_now(tcp::socket& socket, const Buffers& buffers, beast::error_code& ec) {
  std::array<iovec, 8> pieces{};
  std::size_t count = 0;
  for (auto piece : beast::buffers_range_ref(buffers)) {
    if (count == pieces.size()) {
      break;
    }
    pieces[count++] = iovec{const_cast<void*>(piece.data()), piece.size()};
  }
  msghdr message{};
  message.msg_iov = pieces.data();
  message.msg_iovlen = count;
  auto sent = ::sendmsg(socket.native_handle(), &message, MSG_DONTWAIT | MSG_NOSIGNAL);
  if (sent >= 0) {
    return static_cast<std::size_t>(sent);
  }
  if (errno != EAGAIN && errno != EWOULDBLOCK) {
    ec.assign(errno, boost::system::system_category());
  }
  return 0;
}

// Points `cut` at the engine connection while it is open.
class cut_scope {
public:
  cut_scope(relay_cut& cut, tcp::socket& engine) : cut_(cut) {
    cut_.engine = &engine;
  }
  cut_scope(const cut_scope&) = delete;
  cut_scope& operator=(const cut_scope&) = delete;
  ~cut_scope() {
    cut_.engine = nullptr;
  }

private:
  relay_cut& cut_;
};

// One request relayed: an engine connection (pooled or new), the request out, the response
// back as it arrives.
class relay : private read_wait_hook, private waiting_relays::entry {
public:
  relay(tcp::socket& client, const client_request& request, const actors::lease_outcome& lease,
        relay_context context, std::shared_ptr<relay_cut> cut, const net::any_io_executor& executor)
    : client_(client), request_(request),
      lease_(lease), address_{lease.engine_host, lease.engine_port}, context_(context),
      cut_(std::move(cut)), engine_(executor), log_(context.log),
      request_head_(context.strings.request_head), pending_head_(context.strings.response_head) {
    context_.deadlines.relay_begins(engine_);
    // An earlier relay of the connection may have ended before its head went out.
    pending_head_.clear();
  }
  relay(const relay&) = delete;
  relay& operator=(const relay&) = delete;
  ~relay() {
    context_.deadlines.relay_ends();
  }

  // One coroutine for the whole common path: every nested coroutine costs a frame and a resume
  // per request. The rare paths (a new connection, interim answers, failures) are coroutines of
  // their own. Its frame is 1,008 bytes (g++ 12, Release; a uprobe on aligned_alloc shows it),
  // under the 1,020 Asio reuses: one more local kept across a suspension may cost a malloc.
  net::awaitable<bool> run(std::string_view target, const spliced_body& body) {
    target_ = target;
    if (cut_->reason) {
      co_return co_await fail_before_answer(503, *cut_->reason);
    }
    cut_scope scope(*cut_, engine_);
    engine_request_head(request_head_, request_, target, body.size(), address_,
                        context_.client_address,
                        lease_.node.empty() ? std::string_view{} : lease_.model_path);
    auto [before, model, after] = body.pieces();
    std::array<net::const_buffer, 4> outgoing{net::buffer(request_head_), net::buffer(before),
                                              net::buffer(model), net::buffer(after)};
    engine_response_parser parser(context_.strings.forwarded_fields);
    // The answer to HEAD carries GET's fields, Content-Length included, but no body.
    parser.skip(request_.method() == bhttp::verb::head);
    context_.waiting.enter(*this);
    // A kept connection the engine closed while it idled fails before any answer: the request
    // goes once more, on a new connection. The answer may take as long as the generation does:
    // the engine's liveness probes, a revoked lease or the client leaving end the wait for it.
    bool reused = take_pooled_connection();
    beast::error_code ec;
    for (;;) {
      if (!reused) {
        if ((ec = co_await connect())) {
          break;
        }
      }
      // The request goes at once when the socket takes it all (the usual case).
      ec = {};
      auto sent = send_now(engine_, outgoing, ec);
      if (!ec && sent < beast::buffer_bytes(outgoing)) {
        ec = co_await send_rest(engine_, outgoing, sent);
      }
      if (!ec) {
        buffered_read read(engine_buffer_, parser, read_until::header);
        while (read.needs_bytes()) {
          read.took(co_await async_read_drained(engine_, read.room(), use_tuple));
        }
        ec = read.result();
        if (!ec && parser.interim()) {
          ec = co_await read_past_interim_answers(parser);
        }
      }
      if (!ec || !reused || parser.answered_some() || cut_->reason) {
        break;
      }
      beast::error_code ignored;
      engine_.close(ignored);
      engine_buffer_.clear();
      reused = false;
    }
    // Stop watching the client, if that began: from here on its departure shows as a failed
    // write.
    waiting_relays::leave(*this);
    beast::error_code ignored;
    if (cut_->watching_client) {
      cut_->watching_client = false;
      client_.cancel(ignored);
    }
    if (ec) {
      co_return co_await refuse(ec);
    }
    bool event_stream = answer_head(parser);
    if (context_.stream_begun && (!event_stream || head_status_ < 200 || head_status_ >= 300)) {
      co_return co_await relay_as_event(parser);
    }
    co_return co_await relay_body(parser, event_stream);
  }

private:
  // A write to the client, under its write deadline: one sendmsg through Asio, even when the
  // socket would take it at once (Asio tries at once). The completion then runs after the other
  // ready handlers, which gives the client time to send its next request before the connection
  // reads for it. (Going on at once cost one failed read per request at 64 connections: 6.4
  // system calls per request, not 5.5.) A rest the socket did not take goes by send_rest (Asio's
  // async_write, which does both, costs about 400 instructions more per write). Not a coroutine
  // of its own: the caller awaits the write itself, one frame fewer.
  auto start_client_write(std::span<const net::const_buffer> buffers) {
    arm_client_write_deadline();
    return client_.async_write_some(buffers, use_tuple);
  }
  void arm_client_write_deadline() {
    context_.deadlines.client_write_by(clock_type::now() + context_.limits.client_write);
  }
  // The body, from engine_buffer_ itself: each read's pieces go out before the next read. The
  // reads and writes are this coroutine's own, not nested ones: a stream's every event would
  // otherwise cost a coroutine frame and its resumption.
  net::awaitable<bool> relay_body(engine_response_parser& parser, bool event_stream) {
    // The head waits for the first body bytes, so both leave in one write; an event stream
    // whose first event has not arrived yet gets its head at once.
    if (event_stream && engine_buffer_.size() == 0 && !parser.is_done()) {
      if (!co_await write_client({}, false)) {
        co_return false;
      }
    }
    beast::error_code ec;
    while (!parser.is_done()) {
      parser.clear_body();
      buffered_read read(engine_buffer_, parser, read_until::some);
      while (read.needs_bytes()) {
        waiting();
        read.took(co_await async_read_drained(engine_, read.room(), use_tuple));
      }
      ec = read.result();
      if (ec == bhttp::error::need_buffer) {
        ec = {};
      }
      if (ec) {
        if (parser.body_size() > 0 && !co_await write_client(parser.body_pieces(), false)) {
          co_return false;
        }
        co_await report_failure(ec, event_stream);
        co_return false;
      }
      // Each piece goes out as soon as it arrives: SSE events are not held back. Before the
      // end, by a plain sendmsg: the relay reads on at once (an Asio write and the coroutine's
      // resumption after it cost about 600 instructions per event of a stream). The last write
      // waits for its completion's turn, as start_client_write says why.
      auto pieces = frame(parser.body_pieces(), parser.is_done());
      if (!pieces.empty()) {
        beast::error_code write_error;
        std::size_t sent = 0;
        if (parser.is_done()) {
          std::tie(write_error, sent) = co_await start_client_write(pieces);
        } else {
          sent = send_now(client_, pieces, write_error);
          if (!write_error && sent < beast::buffer_bytes(pieces)) {
            arm_client_write_deadline(); // for send_rest
          }
        }
        if (!write_error && sent < beast::buffer_bytes(pieces)) {
          write_error = co_await send_rest(client_, pieces, sent);
        }
        if (!written(write_error, parser.is_done())) {
          co_return false; // the client left or stopped reading; the caller releases the lease
        }
      }
    }
    context_.deadlines.engine_by(std::nullopt);
    // A response without a body (or whose last read carried no bytes) still owes its head or
    // its end.
    if (!ended_ && !co_await write_client({}, true)) {
      co_return false;
    }
    // After HEAD the connection is not kept: an engine that sent a body anyway would leave its
    // bytes in front of the next request's answer.
    if (parser.keep_alive() && engine_buffer_.size() == 0 && !cut_->reason
        && request_.method() != bhttp::verb::head) {
      // A buffer a long answer grew stays behind: an idle connection keeps a page at most.
      if (engine_buffer_.capacity() > first_engine_read) {
        engine_buffer_ = beast::flat_buffer();
      }
      context_.pool.put(address_, lease_.engine_epoch,
                        engine_connection{std::move(engine_), std::move(engine_buffer_)},
                        clock_type::now());
    }
    co_return keep_alive_;
  }

  // An idle connection to the engine, if the pool has one, becomes the relay's, with its read
  // buffer. (Not in the coroutine: its frame stays smaller.)
  bool take_pooled_connection() {
    auto pooled = context_.pool.take(address_, lease_.engine_epoch, clock_type::now());
    if (pooled) {
      engine_ = std::move(pooled->socket);
      engine_buffer_ = std::move(pooled->buffer);
    }
    engine_buffer_.reserve(first_engine_read); // a kept buffer has its page already
    return pooled.has_value();
  }

  // While the engine works on a request and nothing has been sent back, a client that leaves
  // cancels the request: the engine connection is closed, so the engine stops generating.
  void watch_client() override {
    cut_->watching_client = true;
    watch_client_leaving(
      client_, context_.serve_half_closed, [cut = cut_] { return cut->watching_client; },
      [cut = cut_] { cut->cut("the client closed its connection"); });
  }

  net::awaitable<beast::error_code> connect() {
    beast::error_code invalid;
    auto ip = engine_ip(invalid);
    if (invalid) {
      connect_failed_ = true;
      co_return invalid;
    }
    tcp::endpoint endpoint(ip, address_.port);
    context_.deadlines.engine_by(clock_type::now() + connect_timeout);
    auto [ec] = co_await engine_.async_connect(endpoint, use_tuple);
    context_.deadlines.engine_by(std::nullopt);
    if (!ec) {
      beast::error_code ignored;
      engine_.set_option(tcp::no_delay(true), ignored);
    } else if (context_.deadlines.engine_expired()) {
      ec = beast::error::timeout;
    }
    connect_failed_ = ec.failed();
    co_return ec;
  }

  // llmux asks for no interim answer (it sends the engine no Expect), so it relays none; but a
  // client must read past them unasked (RFC 9110, section 15.2): one left unread would be taken
  // for the answer, and on a kept connection the final answer for the next request's. A 101
  // means the connection switched protocols, which llmux never asks for: nothing HTTP follows.
  net::awaitable<beast::error_code> read_past_interim_answers(engine_response_parser& parser) {
    for (int answers = 1; parser.interim(); ++answers) {
      if (parser.status() == 101 || answers > max_interim_answers) {
        refused_interim_ = parser.status();
        co_return bhttp::error::bad_status;
      }
      parser.restart_after_interim(request_.method() == bhttp::verb::head);
      buffered_read read(engine_buffer_, parser, read_until::header);
      while (read.needs_bytes()) {
        read.took(co_await async_read_drained(engine_, read.room(), use_tuple));
      }
      if (auto ec = read.result()) {
        co_return ec;
      }
    }
    co_return beast::error_code{};
  }

  // No response from the engine: a 503 when the lease was cut, else a 502. Behind a gateway
  // the "engine" is a node, and a node that fails is a cluster short of one member for a while
  // (the gateway takes it out of rotation): a 503, worth a retry.
  net::awaitable<bool> refuse(beast::error_code ec) {
    if (cut_->reason) {
      log_.info("request to {} cut before the engine answered: {}", lease_.model_path,
                *cut_->reason);
      co_return co_await fail_before_answer(503, *cut_->reason);
    }
    int status = lease_.node.empty() ? 502 : 503;
    auto upstream = upstream_name();
    if (connect_failed_) {
      log_.warn("{} unreachable: {}", upstream, ec.message());
      co_return co_await fail_before_answer(status,
                                            fmt::format("the {} of {} is unreachable: {}",
                                                        lease_.node.empty() ? "engine" : "node",
                                                        lease_.model_path, ec.message()));
    }
    if (refused_interim_ != 0) {
      auto what = refused_interim_ == 101
                    ? fmt::format("the {} switched protocols (101) unasked", upstream)
                    : fmt::format("the {} sent more than {} interim (1xx) answers", upstream,
                                  max_interim_answers);
      log_.warn("{}", what);
      co_return co_await fail_before_answer(status, what);
    }
    log_.warn("{} failed before answering: {}", upstream, ec.message());
    co_return co_await fail_before_answer(
      status,
      fmt::format("the {} {}: {}", upstream,
                  malformed_message(ec) ? "sent a malformed answer" : "closed the connection",
                  ec.message()));
  }

  net::ip::address engine_ip(beast::error_code& ec) const {
    return net::ip::make_address(address_.ip(), ec);
  }

  // How logs and errors name where the request went.
  std::string upstream_name() const {
    if (!lease_.node.empty()) {
      return fmt::format("node {} ({}:{})", lease_.node, address_.ip(), address_.port);
    }
    return fmt::format("engine on port {}", address_.port);
  }

  // An error before the engine's answer: a whole error response, or the end of the stream llmux
  // began.
  net::awaitable<bool> fail_before_answer(int status, std::string what) {
    if (context_.stream_begun) {
      auto event = stream_error_event(event_dialect_of(target_), status, what);
      co_return co_await end_event_stream(client_, request_, std::move(event));
    }
    co_return co_await send_error(client_, request_, status, what);
  }

  // The engine answered a begun stream with something else than an event stream (an error,
  // most likely): its body goes out as one event, then the stream ends.
  net::awaitable<bool> relay_as_event(engine_response_parser& parser) {
    std::string answer;
    beast::error_code ec;
    while (!parser.is_done() && answer.size() < begun_stream_error_limit) {
      parser.clear_body();
      ec = co_await read_http(engine_, engine_buffer_, parser, read_until::some, this);
      for (auto piece : parser.body_pieces()) {
        answer += piece;
      }
      if (ec && ec != bhttp::error::need_buffer) {
        break;
      }
    }
    context_.deadlines.engine_by(std::nullopt);
    std::erase_if(answer, [](char c) { return c == '\n' || c == '\r'; });
    auto event = answer.starts_with('{')
                   ? error_event(event_dialect_of(target_), answer)
                   : stream_error_event(event_dialect_of(target_), head_status_, answer);
    log_.warn("{} answered a waiting stream with HTTP {}", upstream_name(), head_status_);
    co_return co_await end_event_stream(client_, request_, std::move(event));
  }

  // The client's response head, from the engine's: its end-to-end headers, the status as a
  // number (a code Beast does not know, 420 or 599, passes unchanged) and the framing the client
  // can read (HTTP/1.0 has no chunked encoding: a body of unknown length ends with the
  // connection). Kept until the first body bytes go out. Returns whether it is an event stream.
  bool answer_head(const engine_response_parser& parser) {
    bool event_stream = parser.event_stream();
    head_status_ = parser.status();
    if (context_.stream_begun) {
      // The head has gone out already (event_stream_head): the body continues it.
      chunked_ = request_.version() >= 11;
      keep_alive_ = request_.keep_alive() && chunked_;
      pending_head_.clear();
      return event_stream;
    }
    auto length = parser.content_length();
    // Nothing follows the head of an answer to HEAD, or of a 204 or 304, whatever its fields
    // say: no chunked framing (its last chunk would be read as the next response).
    bool bodiless
      = request_.method() == bhttp::verb::head || head_status_ == 204 || head_status_ == 304;
    bool open_length = !bodiless && (!length || event_stream);
    chunked_ = open_length && request_.version() >= 11;
    keep_alive_ = request_.keep_alive() && !(open_length && !chunked_);
    std::string_view reason = parser.reason();
    if (reason.empty()) {
      reason = bhttp::obsolete_reason(bhttp::int_to_status(static_cast<unsigned>(head_status_)));
    }
    auto& out = pending_head_;
    out.clear();
    // The status line and the framing lines fit in the extra room: one allocation at most.
    out.reserve(parser.forwarded_fields().size() + 128);
    out += request_.version() >= 11 ? "HTTP/1.1 " : "HTTP/1.0 ";
    append_number(out, static_cast<std::uint64_t>(head_status_));
    out += ' ';
    out += reason;
    out += "\r\n"sv;
    out += parser.forwarded_fields();
    if (chunked_) {
      out += "Transfer-Encoding: chunked\r\n"sv;
    } else if (!open_length && length) {
      out += "Content-Length: "sv;
      append_number(out, *length);
      out += "\r\n"sv;
    }
    if (request_.version() >= 11 && !keep_alive_) {
      out += "Connection: close\r\n"sv;
    } else if (request_.version() < 11 && keep_alive_) {
      out += "Connection: keep-alive\r\n"sv;
    }
    out += "\r\n"sv;
    return event_stream;
  }

  // The engine failed mid-response (or the lease was cut): an SSE client hears why in-band.
  net::awaitable<void> report_failure(beast::error_code ec, bool event_stream) {
    // No conditional expressions with temporaries in a coroutine: g++ 12 destroys such
    // temporaries twice.
    std::string what;
    if (cut_->reason) {
      what = *cut_->reason;
    } else if (context_.deadlines.engine_expired()) {
      what = fmt::format("the engine of {} sent nothing for {} s", lease_.model_path,
                         context_.limits.engine_idle.count());
      if (auto* metrics = io_thread_metrics()) {
        metrics->relay_stalled(context_.model, stalled_side::engine);
      }
    } else {
      what
        = fmt::format("the engine of {} failed mid-response: {}", lease_.model_path, ec.message());
    }
    log_.warn("{} ({})", what, upstream_name());
    if (event_stream || context_.stream_begun) {
      auto event = stream_error_event(event_dialect_of(target_), cut_->reason ? 503 : 502, what);
      std::array<std::string_view, 1> body{event};
      co_await write_client(body, true);
    } else if (!pending_head_.empty()) {
      // Nothing reached the client yet: it still gets a whole answer.
      co_await send_error(client_, request_, 502, what);
    }
  }

  // The buffers of the body's next bytes (one chunk when the response is chunked), preceded by
  // the head if it has not gone out yet and followed by the end of the body when `last`.
  std::span<const net::const_buffer> frame(std::span<const std::string_view> body, bool last) {
    std::size_t size = 0;
    for (auto piece : body) {
      size += piece.size();
    }
    std::size_t count = 0;
    if (!pending_head_.empty()) {
      pieces_[count++] = net::buffer(pending_head_);
    }
    if (chunked_ && size > 0) {
      auto end
        = std::to_chars(chunk_size_.data(), chunk_size_.data() + chunk_size_.size() - 2, size, 16)
            .ptr;
      *end++ = '\r';
      *end++ = '\n';
      pieces_[count++]
        = net::buffer(chunk_size_.data(), static_cast<std::size_t>(end - chunk_size_.data()));
    }
    for (auto piece : body) {
      if (!piece.empty()) {
        pieces_[count++] = net::buffer(piece);
      }
    }
    if (chunked_ && size > 0) {
      pieces_[count++] = net::buffer("\r\n", 2);
    }
    if (chunked_ && last) {
      pieces_[count++] = net::buffer("0\r\n\r\n", 5);
    }
    return {pieces_.data(), count};
  }

  // After a write of `frame`'s buffers: whether it went out.
  bool written(beast::error_code ec, bool last) {
    context_.deadlines.client_write_by(std::nullopt);
    auto* metrics = io_thread_metrics();
    if (metrics != nullptr && !pending_head_.empty() && !ec) {
      metrics->response_sent(head_status_);
    }
    if (metrics != nullptr && ec && context_.deadlines.client_write_expired()
        && !client_stall_counted_) {
      client_stall_counted_ = true;
      metrics->relay_stalled(context_.model, stalled_side::client);
    }
    pending_head_.clear();
    ended_ = last && !ec;
    return !ec;
  }

  net::awaitable<bool> write_client(std::span<const std::string_view> body, bool last) {
    auto pieces = frame(body, last);
    if (pieces.empty()) {
      co_return true;
    }
    auto [ec, sent] = co_await start_client_write(pieces);
    if (!ec && sent < beast::buffer_bytes(pieces)) {
      ec = co_await send_rest(client_, pieces, sent);
    }
    co_return written(ec, last);
  }

  // What a socket did not take of a write at once (rare: a socket's buffer holds a request or an
  // event many times over). To the engine, the wait for the answer that follows bounds it; to the
  // client, its write deadline.
  template <class Buffers>
  net::awaitable<beast::error_code> send_rest(tcp::socket& socket, const Buffers& buffers,
                                              std::size_t sent) {
    beast::buffers_suffix<Buffers> rest(buffers);
    rest.consume(sent);
    auto [ec, written] = co_await net::async_write(socket, rest, use_tuple);
    co_return ec;
  }

  // A read from the engine has to wait: the engine's silence is bounded from now.
  void waiting() override {
    context_.deadlines.engine_by(clock_type::now() + context_.limits.engine_idle);
  }

  tcp::socket& client_;
  const client_request& request_;
  const actors::lease_outcome& lease_;
  /// Where the request goes; the key of its pooled connections.
  actors::engine_address address_;
  relay_context context_;
  std::shared_ptr<relay_cut> cut_;
  tcp::socket engine_;
  beast::flat_buffer engine_buffer_;
  spdlog::logger& log_;
  bool connect_failed_ = false;
  /// The interim status that ended the relay before the final answer (0: none did).
  int refused_interim_ = 0;
  /// The engine's status, counted once its head reaches the client.
  int head_status_ = 0;
  /// The normalised target, owned by the caller of run() for as long as it runs.
  std::string_view target_;
  bool client_stall_counted_ = false;
  bool chunked_ = false;
  bool keep_alive_ = false;
  /// Whether the end of the body (and so everything) has been written.
  bool ended_ = false;
  /// The request's head for the engine.
  std::string& request_head_;
  /// The response head until it has been written.
  std::string& pending_head_;
  /// The head, a chunk's size line, the body's pieces, the chunk's end and the last chunk.
  std::array<net::const_buffer, engine_response_parser::max_pieces + 4> pieces_;
  std::array<char, 24> chunk_size_;
};

} // namespace

client_activity peek_client(tcp::socket& socket, bool serve_half_closed) {
  char byte;
  auto peeked = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (peeked > 0) {
    return client_activity::sent_more;
  }
  if (peeked == 0) {
    return serve_half_closed ? client_activity::sent_more : client_activity::left;
  }
  return errno == EAGAIN || errno == EWOULDBLOCK ? client_activity::nothing_new
                                                 : client_activity::left;
}

std::string event_stream_head(const client_request& request) {
  if (request.version() >= 11) {
    return "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
           "Transfer-Encoding: chunked\r\n\r\n";
  }
  return "HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n\r\n";
}

std::string event_stream_piece(const client_request& request, std::string_view data) {
  if (request.version() < 11 || data.empty()) {
    return std::string(data);
  }
  std::string out;
  append_number(out, data.size(), 16);
  out += "\r\n"sv;
  out += data;
  out += "\r\n"sv;
  return out;
}

net::awaitable<bool> end_event_stream(tcp::socket& client, const client_request& request,
                                      std::string event) {
  auto out = event_stream_piece(request, event);
  bool chunked = request.version() >= 11;
  if (chunked) {
    out += "0\r\n\r\n"sv;
  }
  auto [ec, n] = co_await net::async_write(client, net::buffer(out), use_tuple);
  co_return !ec && chunked && request.keep_alive();
}

net::awaitable<bool> forward_to_engine(tcp::socket& client, const client_request& request,
                                       std::string target, spliced_body body,
                                       const actors::lease_outcome& lease, relay_context context,
                                       std::shared_ptr<relay_cut> cut) {
  // The client socket's executor is this coroutine's (the connection's io thread). Asio reuses
  // only frames of up to 1,020 bytes, so what this frame holds is kept to the relay and the
  // strings it sends.
  relay one(client, request, lease, context, std::move(cut), client.get_executor());
  co_return co_await one.run(target, body);
}

} // namespace llmux::http
