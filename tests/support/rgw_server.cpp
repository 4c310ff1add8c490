#include "tests/support/rgw_server.hpp"

#include <arpa/inet.h>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <netinet/in.h>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "tests/support/child_process.hpp"
#include "tests/support/ports.hpp"

namespace llmux::testing_support {

namespace {

using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto stop_grace = 5s;

bool on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  std::size_t start = 0;
  for (;;) {
    auto end = dirs.find(':', start);
    auto dir = dirs.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (!dir.empty() && ::access((dir + "/" + program).c_str(), X_OK) == 0) {
      return true;
    }
    if (end == std::string::npos) {
      return false;
    }
    start = end + 1;
  }
}

// Whether something on the port answers an HTTP request with a status line.
bool answers_http(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = false;
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
    std::string request = "GET / HTTP/1.0\r\n\r\n";
    pollfd readable{fd, POLLIN, 0};
    char buffer[16] = {};
    ok = ::write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())
         && ::poll(&readable, 1, 2000) == 1 && ::read(fd, buffer, 8) == 8
         && std::string_view(buffer, 5) == "HTTP/";
  }
  if (fd >= 0) {
    ::close(fd);
  }
  return ok;
}

std::string tail_of(const std::string& file) {
  std::ifstream in(file);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text.size() > 2000 ? text.substr(text.size() - 2000) : text;
}

} // namespace

bool rgw_server::available() {
  for (const char* program : {"radosgw", "radosgw-admin", "ceph-mon", "ceph-osd", "ceph",
                              "ceph-authtool", "monmaptool"}) {
    if (!on_path(program)) {
      return false;
    }
  }
  return true;
}

rgw_server::rgw_server(std::string access_key, std::string secret_key, std::chrono::seconds timeout)
  : access_key_(std::move(access_key)), secret_key_(std::move(secret_key)) {
  auto started = clock::now();
  deadline_ = started + timeout;
  for (const char* sub : {"mon", "osd", "rgw", "log", "run"}) {
    std::filesystem::create_directories(dir_.path() / sub);
  }
  auto mon_port = std::to_string(free_port());
  rgw_port_ = free_port();
  endpoint_ = "http://127.0.0.1:" + std::to_string(rgw_port_);
  std::ifstream uuid_source("/proc/sys/kernel/random/uuid");
  std::string fsid;
  std::getline(uuid_source, fsid);

  write_conf(fsid, mon_port);

  try {
    auto keyring = dir_ / "keyring";
    run({"ceph-authtool", "--create-keyring", keyring, "--gen-key", "-n", "mon.", "--cap", "mon",
         "allow *"});
    run({"ceph-authtool", keyring, "--gen-key", "-n", "client.admin", "--cap", "mon", "allow *",
         "--cap", "osd", "allow *", "--cap", "mgr", "allow *", "--cap", "mds", "allow *"});
    run({"monmaptool", "--create", "--add", "a", "127.0.0.1:" + mon_port, "--fsid", fsid,
         dir_ / "monmap"});
    run({"ceph-mon", "-c", conf_, "--mkfs", "-i", "a", "--monmap", dir_ / "monmap", "--keyring",
         keyring});
    start_daemon("mon", {"ceph-mon", "-c", conf_, "-i", "a", "-f"});

    auto id = run({"ceph", "-c", conf_, "--connect-timeout", "60", "osd", "create"});
    id = id.substr(0, id.find_first_of("\r\n"));
    std::string osd_uuid;
    std::ifstream("/proc/sys/kernel/random/uuid") >> osd_uuid;
    run({"ceph-osd", "-c", conf_, "-i", id, "--mkfs", "--mkkey", "--no-mon-config", "--osd-uuid",
         osd_uuid});
    run({"ceph", "-c", conf_, "auth", "add", "osd." + id, "osd", "allow *", "mon",
         "allow profile osd", "-i", dir_ / "osd/keyring"});
    run({"ceph", "-c", conf_, "osd", "crush", "add-bucket", "node1", "host"});
    run({"ceph", "-c", conf_, "osd", "crush", "move", "node1", "root=default"});
    run({"ceph", "-c", conf_, "osd", "crush", "add", "osd." + id, "1.0", "host=node1"});
    start_daemon("osd", {"ceph-osd", "-c", conf_, "-i", id, "-f"});

    run({"ceph", "-c", conf_, "auth", "get-or-create", "client.rgw.a", "mon", "allow rw", "osd",
         "allow rwx", "-o", dir_ / "rgw/keyring"});
    start_daemon("rgw", {"radosgw", "-c", conf_, "-n", "client.rgw.a", "-f"});
    wait_for_gateway(deadline_);
    run({"radosgw-admin", "-c", conf_, "user", "create", "--uid=tester", "--display-name=tester",
         "--access-key=" + access_key_, "--secret-key=" + secret_key_});
  } catch (...) {
    stop_daemons();
    throw;
  }
  startup_time_ = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - started);
}

void rgw_server::write_conf(const std::string& fsid, const std::string& mon_port) {
  auto root = dir_.path().string();
  conf_ = dir_ / "ceph.conf";
  // The toolchain notes' recipe: one monitor, one memstore OSD, pools of size one, no mgr.
  // The disk-space warnings are off, or a full-ish disk would stop the monitor.
  std::ofstream(conf_) << "[global]\n"
                       << "fsid = " << fsid << "\n"
                       << "mon host = 127.0.0.1:" << mon_port << "\n"
                       << "mon initial members = a\n"
                       << "public network = 127.0.0.0/8\n"
                       << "auth cluster required = cephx\n"
                       << "auth service required = cephx\n"
                       << "auth client required = cephx\n"
                       << "keyring = " << root << "/keyring\n"
                       << "log file = " << root << "/log/$name.log\n"
                       << "run dir = " << root << "/run\n"
                       << "admin socket = " << root << "/run/$name.asok\n"
                       << "pid file = " << root << "/run/$name.pid\n"
                       << "osd pool default size = 1\n"
                       << "osd pool default min size = 1\n"
                       << "mon allow pool size one = true\n"
                       << "mon warn on pool no redundancy = false\n"
                       << "mon data avail warn = 1\n"
                       << "mon data avail crit = 1\n"
                       << "osd objectstore = memstore\n"
                       << "memstore device bytes = 1073741824\n"
                       << "osd data = " << root << "/osd\n"
                       << "osd crush chooseleaf type = 0\n"
                       << "mon data = " << root << "/mon\n"
                       << "[osd]\n"
                       << "keyring = " << root << "/osd/keyring\n"
                       << "[client.rgw.a]\n"
                       << "keyring = " << root << "/rgw/keyring\n"
                       << "rgw frontends = beast endpoint=127.0.0.1:" << rgw_port_ << "\n"
                       << "rgw data = " << root << "/rgw\n";
}

rgw_server::~rgw_server() {
  stop_daemons();
}

std::string rgw_server::run(const std::vector<std::string>& argv) {
  child_process tool(argv, {});
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - clock::now());
  auto status = tool.wait_exit(std::max(left, std::chrono::milliseconds(1000)));
  if (status != 0) {
    std::string command;
    for (const auto& arg : argv) {
      command += arg + " ";
    }
    throw std::runtime_error("RGW set-up step failed (" + command
                             + "): " + (status ? "exit " + std::to_string(*status) : "timed out")
                             + "\n" + tool.output());
  }
  return tool.output();
}

void rgw_server::start_daemon(const std::string& name, const std::vector<std::string>& argv) {
  auto log = dir_ / ("log/" + name + ".out");
  pid_t pid = ::fork();
  if (pid < 0) {
    throw std::runtime_error("fork failed");
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<char*> args;
    for (const auto& arg : argv) {
      args.push_back(const_cast<char*>(arg.c_str()));
    }
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    std::_Exit(127);
  }
  daemons_.push_back(pid);
}

void rgw_server::wait_for_gateway(clock::time_point deadline) {
  while (!answers_http(rgw_port_)) {
    for (auto pid : daemons_) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        std::erase(daemons_, pid);
        throw std::runtime_error("a Ceph daemon exited during RGW bring-up; radosgw log:\n"
                                 + tail_of(dir_ / "log/client.rgw.a.log"));
      }
    }
    if (clock::now() > deadline) {
      throw std::runtime_error("RGW did not answer in time; its log:\n"
                               + tail_of(dir_ / "log/client.rgw.a.log"));
    }
    std::this_thread::sleep_for(200ms);
  }
}

void rgw_server::stop_daemons() {
  // All at once: the OSD alone takes a few seconds to exit.
  for (auto pid : daemons_) {
    ::kill(pid, SIGTERM);
  }
  auto give_up = clock::now() + stop_grace;
  for (auto pid : daemons_) {
    int status = 0;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      if (clock::now() > give_up) {
        ::kill(-pid, SIGKILL);
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(50ms);
    }
  }
  daemons_.clear();
}

} // namespace llmux::testing_support
