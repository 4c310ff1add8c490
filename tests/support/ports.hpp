#pragma once

#include <cstdint>

namespace llmux::testing_support {

/// A TCP port on 127.0.0.1 for a server a test starts: perhaps later, perhaps more than once
/// (an engine stopped and started again keeps its port), so the port must stay this test's
/// while nothing listens on it. Two things could take it meanwhile, and neither can:
/// - an outgoing connection's local port: the port lies below the kernel's ephemeral range
///   (net.ipv4.ip_local_port_range), from which those are drawn;
/// - another test process: each port handed out is reserved by a lock on a file in the
///   system's temporary directory, held until the process ends (the kernel drops it then, so
///   nothing stale stays behind), and a port that cannot be bound now is skipped.
/// Throws when no port is left.
std::uint16_t free_port();

} // namespace llmux::testing_support
