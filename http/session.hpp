#pragma once

// Internal to http/: what the connection code and the forwarding code share.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "actors/serving.hpp"

namespace llmux::http {

namespace beast = boost::beast;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using client_request = beast::http::request<beast::http::string_body>;

/// Writes a whole response with a body; false when the client is gone.
net::awaitable<bool> send_response(beast::tcp_stream& client, const client_request& request,
                                   int status, std::string content_type, std::string body);

/// Writes an OpenAI-shaped error response.
net::awaitable<bool> send_error(beast::tcp_stream& client, const client_request& request,
                                int status, std::string_view message, std::string_view param = {});

/// Forwards `request` (with `body` as its body) to the engine the lease names and streams the
/// engine's response back to `client` as it arrives. Returns whether the client connection
/// may carry another request.
net::awaitable<bool> forward_to_engine(beast::tcp_stream& client, const client_request& request,
                                       std::string body, const actors::lease_outcome& lease);

} // namespace llmux::http
