#pragma once

#include <chrono>
#include <string>
#include <sys/types.h>
#include <vector>

#include "tests/support/scratch_dir.hpp"

namespace llmux::testing_support {

/// A real, strict S3 server for end-to-end tests: a one-node Ceph cluster (a monitor and a
/// memstore OSD) with a RADOS Gateway, all on free loopback ports in a scratch directory, with
/// one S3 user. Every daemon it started is stopped (SIGTERM, SIGKILL after a few seconds) when
/// the object goes away. Bring-up takes 15 to 20 seconds, so start one per test suite.
class rgw_server {
public:
  /// Whether the Ceph programs are installed; tests skip with `missing_packages` when not.
  static bool available();

  /// Why a test skipped.
  static constexpr const char* missing_packages
    = "Ceph RGW is not installed; run tools/install-deps or apt-get install "
      "--no-install-recommends radosgw ceph-mon ceph-osd ceph-common";

  /// Starts the cluster and the gateway and creates a user with these keys; throws
  /// std::runtime_error with the failing step and its output when bring-up fails.
  rgw_server(std::string access_key, std::string secret_key,
             std::chrono::seconds timeout = std::chrono::seconds(120));
  rgw_server(const rgw_server&) = delete;
  rgw_server& operator=(const rgw_server&) = delete;
  ~rgw_server();

  /// `http://127.0.0.1:<port>`.
  const std::string& endpoint() const {
    return endpoint_;
  }

  const std::string& access_key() const {
    return access_key_;
  }

  const std::string& secret_key() const {
    return secret_key_;
  }

  /// How long bring-up took.
  std::chrono::milliseconds startup_time() const {
    return startup_time_;
  }

private:
  // Writes ceph.conf: the toolchain notes' recipe on this directory and these ports.
  void write_conf(const std::string& fsid, const std::string& mon_port);
  // Runs a Ceph tool to completion; throws with its output unless it exits 0.
  std::string run(const std::vector<std::string>& argv);
  // Starts a daemon in the foreground, its output in the scratch directory's log folder.
  void start_daemon(const std::string& name, const std::vector<std::string>& argv);
  // Waits until the gateway answers HTTP; throws when a daemon died or time ran out.
  void wait_for_gateway(std::chrono::steady_clock::time_point deadline);
  void stop_daemons();

  scratch_dir dir_;
  std::string conf_;
  std::string access_key_;
  std::string secret_key_;
  std::string endpoint_;
  int rgw_port_ = 0;
  std::chrono::steady_clock::time_point deadline_;
  std::chrono::milliseconds startup_time_{0};
  std::vector<pid_t> daemons_;
};

} // namespace llmux::testing_support
