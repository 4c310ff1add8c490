#include "tests/support/ports.hpp"

#include <algorithm>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <netinet/in.h>
#include <stdexcept>
#include <string>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

namespace llmux::testing_support {

namespace {

/// Below this, ports are left to the system's own services.
constexpr int lowest_port = 10000;

int ephemeral_low() {
  std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 32768;
  range >> low;
  return low;
}

bool bindable(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return false;
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return bound;
}

// Reserves `port` for this process: the lock's descriptor stays open (and not inherited by
// the servers the test starts) until the process ends. Whether it was free to take.
bool reserve(const std::filesystem::path& locks, int port) {
  auto path = locks / std::to_string(port);
  int fd = ::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0666);
  if (fd < 0) {
    return false;
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return false;
  }
  if (!bindable(port)) {
    ::close(fd); // in use by something else: not ours to hand out
    return false;
  }
  return true;
}

} // namespace

std::uint16_t free_port() {
  static std::mutex guard;
  std::lock_guard lock(guard);
  // A machine whose ephemeral range starts low still gets a thousand ports to walk.
  static const int end = std::max(ephemeral_low(), lowest_port + 1000);
  // Processes start their walks far apart, so that they seldom meet each other's locks.
  static int next = lowest_port + static_cast<int>(::getpid() * 7919L % (end - lowest_port));
  static const auto locks = [] {
    auto directory = std::filesystem::temp_directory_path() / "llmux-test-ports";
    std::filesystem::create_directories(directory);
    return directory;
  }();
  for (int tried = 0; tried < end - lowest_port; ++tried) {
    int port = next;
    next = next + 1 < end ? next + 1 : lowest_port;
    if (reserve(locks, port)) {
      return static_cast<std::uint16_t>(port);
    }
  }
  throw std::runtime_error("no free port below the ephemeral range");
}

} // namespace llmux::testing_support
