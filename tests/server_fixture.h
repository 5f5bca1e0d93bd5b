// The fixture of the server tests: a data directory in a scratch directory,
// a `stele serve` child on 127.0.0.1 and TOML config files written for it.
#pragma once

#include <gtest/gtest.h>

#include <signal.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "http_client.h"
#include "test_util.h"

namespace stele {

inline std::string StderrOf(const test::ServerProcess& s) {
  std::ifstream f(s.stderr_path());
  return std::string(std::istreambuf_iterator<char>(f), {});
}

class Server : public ::testing::Test {
 protected:
  void Start(const std::vector<std::string>& extra = {}) {
    server_ = std::make_unique<test::ServerProcess>(data_, extra);
    ASSERT_TRUE(server_->started()) << StderrOf(*server_);
  }
  // Writes a TOML config and returns the flags that pass it.
  std::vector<std::string> Config(const std::string& toml) {
    const std::string path = dir_.Sub("stele.toml");
    test::WriteFileBytes(path, toml);
    return {"--config", path};
  }
  int StopGracefully() { return server_->Stop(SIGTERM); }

  test::TempDir dir_;
  const std::string data_ = dir_.Sub("data");
  std::unique_ptr<test::ServerProcess> server_;
};

}  // namespace stele
