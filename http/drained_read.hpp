#pragma once

// A socket read that remembers when it drained the socket, on Asio's own reactor.
//
// Asio's reactor tries every read at once (a `recv`) and waits for epoll only when that finds
// nothing; it stops trying first only after a read of 0 bytes. A proxy's reads mostly come
// right after its own write, before the answer can have arrived (the engine's answer after the
// request, the client's next request after the answer), so each such wait costs a `recv` that
// finds nothing: 1.8 system calls a request, where nginx, reading edge-triggered readiness as
// Asio's reactor does, takes a read that did not fill its buffer to mean the socket is drained
// and waits for the next event. This read does what nginx does: a read that does not fill its
// room tells the reactor the socket is exhausted (as a read of 0 bytes would), so the next read
// on it waits for epoll's next event without a system call; any event (new bytes, the peer's
// end, an error) makes the reactor try reads at once again. Otherwise it is
// `socket.async_read_some(room, token)`: the same completion, errors and cancellation by
// `socket.cancel()` and `socket.close()` (not through a cancellation slot, which llmux does not
// use).
//
// `async_read_drained_late` makes its room only when it tries a read (when epoll reported
// bytes) and lets it go when the try found none: a read that waits long holds no memory for
// what it will read.
//
// What this cannot see: the peer's end that came in the same epoll event as its last bytes.
// The read takes the bytes, counts the socket drained, and no later event tells of the end
// (Asio registers no EPOLLRDHUP, from which nginx learns it); the next read then waits until
// its deadline. Where that event may have been taken before the read began (a new
// connection's first read), the room says the read may not count the socket drained.
//
// It builds on asio::detail (the reactor operation, its handler allocation and work), which
// is why it checks the Boost version it was written against: a newer Boost must be looked at
// before it is accepted.

#include <cstddef>
#include <memory>
#include <type_traits>
#include <utility>

#include <boost/asio/async_result.hpp>
#include <boost/asio/detail/bind_handler.hpp>
#include <boost/asio/detail/fenced_block.hpp>
#include <boost/asio/detail/handler_alloc_helpers.hpp>
#include <boost/asio/detail/handler_cont_helpers.hpp>
#include <boost/asio/detail/handler_work.hpp>
#include <boost/asio/detail/reactor.hpp>
#include <boost/asio/detail/reactor_op.hpp>
#include <boost/asio/detail/socket_ops.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/query.hpp>
#include <boost/assert.hpp>
#include <boost/version.hpp>

static_assert(BOOST_VERSION / 100 == 1081,
              "http/drained_read.hpp uses asio::detail as in Boost 1.81: check it against this "
              "Boost before changing the version here");
#if !defined(BOOST_ASIO_HAS_EPOLL) || defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT)
#error "http/drained_read.hpp expects Asio's epoll reactor"
#endif

namespace llmux::http {

namespace drained_detail {

namespace ad = boost::asio::detail;
using tcp = boost::asio::ip::tcp;

/// The socket's descriptor and reactor registration, which Asio keeps in a protected member.
struct socket_internals : tcp::socket {
  static auto& of(tcp::socket& socket) {
    return (socket.*(&socket_internals::impl_)).get_implementation();
  }
};

/// A room that is there from the start (async_read_drained's).
struct fixed_room {
  /// Where the bytes go.
  boost::asio::mutable_buffer room;
  /// The room, for every try.
  boost::asio::mutable_buffer make() const {
    return room;
  }
  /// Nothing to let go.
  void nothing_came() const {
  }
  /// A read that does not fill the room counts the socket drained.
  bool may_drain() const {
    return true;
  }
};

/// The reactor operation: Asio's receive operation, but a read that did not fill its room
/// reports the socket exhausted. `Room` makes the room for each try (see
/// async_read_drained_late).
template <class Handler, class IoExecutor, class Room>
class drained_recv_op : public ad::reactor_op {
public:
  BOOST_ASIO_DEFINE_HANDLER_PTR(drained_recv_op);

  drained_recv_op(ad::socket_type socket, Room room, Handler& handler, const IoExecutor& io_ex)
    : reactor_op(boost::system::error_code(), &drained_recv_op::do_perform,
                 &drained_recv_op::do_complete),
      socket_(socket), room_source_(std::move(room)), handler_(std::move(handler)),
      work_(handler_, io_ex) {
  }

  static status do_perform(reactor_op* base) {
    auto* self = static_cast<drained_recv_op*>(base);
    self->room_ = self->room_source_.make();
    BOOST_ASSERT(self->room_.size() > 0); // an empty room would read as the end of the stream
    if (!ad::socket_ops::non_blocking_recv1(self->socket_, self->room_.data(), self->room_.size(),
                                            0, true, self->ec_, self->bytes_transferred_)) {
      self->room_source_.nothing_came();
      return not_done; // nothing there: the reactor waits for epoll
    }
    // Bytes that did not fill the room took all there was. The end of the stream and errors
    // leave the reactor trying at once, as Asio's own read does for errors.
    bool drained = self->room_source_.may_drain() && !self->ec_
                   && self->bytes_transferred_ < self->room_.size();
    return drained ? done_and_exhausted : done;
  }

  static void do_complete(void* owner, ad::operation* base, const boost::system::error_code&,
                          std::size_t) {
    auto* self = static_cast<drained_recv_op*>(base);
    ptr p = {std::addressof(self->handler_), self, self};
    ad::handler_work<Handler, IoExecutor> work(std::move(self->work_));
    // The handler may own the operation's memory: it is moved out before that is freed.
    ad::binder2<Handler, boost::system::error_code, std::size_t> handler(self->handler_, self->ec_,
                                                                         self->bytes_transferred_);
    p.h = std::addressof(handler.handler_);
    p.reset();
    if (owner != nullptr) {
      ad::fenced_block fence(ad::fenced_block::half);
      work.complete(handler, handler.handler_);
    }
  }

private:
  ad::socket_type socket_;
  Room room_source_;
  /// The room of the last try.
  boost::asio::mutable_buffer room_;
  Handler handler_;
  ad::handler_work<Handler, IoExecutor> work_;
};

/// Starts a drained_recv_op on the socket's reactor, as Asio starts its own receive.
struct initiate_drained_read {
  template <class Handler, class Room>
  void operator()(Handler&& handler, tcp::socket* socket, Room room) const {
    using handler_type = std::decay_t<Handler>;
    using op = drained_recv_op<handler_type, tcp::socket::executor_type, Room>;
    handler_type local(std::forward<Handler>(handler));
    auto io_ex = socket->get_executor();
    auto& reactor = boost::asio::use_service<ad::reactor>(
      boost::asio::query(io_ex, boost::asio::execution::context));
    auto& impl = socket_internals::of(*socket);
    bool is_continuation = boost_asio_handler_cont_helpers::is_continuation(local);
    typename op::ptr p = {std::addressof(local), op::ptr::allocate(local), nullptr};
    bool empty_room = false;
    if constexpr (std::is_same_v<Room, fixed_room>) {
      empty_room = room.room.size() == 0;
    }
    p.p = new (p.v) op(impl.socket_, std::move(room), local, io_ex);
    // As Asio's read: an empty room completes at once, and the socket is made non-blocking
    // for the reactor on its first operation.
    if (!empty_room
        && ((impl.state_ & ad::socket_ops::non_blocking) != 0
            || ad::socket_ops::set_internal_non_blocking(impl.socket_, impl.state_, true,
                                                         p.p->ec_))) {
      reactor.start_op(ad::reactor::read_op, impl.socket_, impl.reactor_data_, p.p, is_continuation,
                       true);
    } else {
      reactor.post_immediate_completion(p.p, is_continuation);
    }
    p.v = p.p = nullptr;
  }
};

} // namespace drained_detail

/// `socket.async_read_some(room, token)`, except that a read that does not fill `room` lets the
/// next read on the socket wait for epoll's next event without trying a `recv` first (see the
/// top of this file).
template <class Token>
auto async_read_drained(boost::asio::ip::tcp::socket& socket, boost::asio::mutable_buffer room,
                        Token&& token) {
  return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
    drained_detail::initiate_drained_read{}, token, &socket, drained_detail::fixed_room{room});
}

/// async_read_drained into a room made only when a read is tried: `room.make()` gives a
/// non-empty room, on the socket's io thread, each time a read is tried (when epoll reported
/// something, or once at the start unless the last read drained the socket);
/// `room.nothing_came()` is told when that try found nothing, so the room can go until the
/// next; `room.may_drain()` says whether a read that does not fill the room counts the socket
/// drained (see the top of this file). The bytes read are at the start of the last room made.
template <class Room, class Token>
auto async_read_drained_late(boost::asio::ip::tcp::socket& socket, Room room, Token&& token) {
  return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
    drained_detail::initiate_drained_read{}, token, &socket, std::move(room));
}

} // namespace llmux::http
