// Test helpers for the server: a `stele serve` child process on 127.0.0.1
// and a minimal blocking HTTP/1.1 client over a real socket (keep-alive,
// Content-Length and chunked bodies, raw bytes for abuse tests).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace stele::test {

struct HttpReply {
  int status = 0;  // 0: the connection failed or closed before a reply
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

class HttpClient {
 public:
  explicit HttpClient(uint16_t port);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  bool connected() const { return fd_ >= 0; }
  // Sends one request and reads its reply (reconnecting if the server
  // closed the connection after the previous one).
  HttpReply Request(const std::string& method, const std::string& target, const std::string& body = "",
                    const std::vector<std::pair<std::string, std::string>>& headers = {});
  bool SendRaw(const std::string& bytes);
  // Reads a reply after SendRaw.
  HttpReply ReadReply(std::chrono::milliseconds timeout = std::chrono::milliseconds(10'000));
  // For streams: reads the reply head, then ReadChunk() returns decoded body
  // bytes as they arrive ("" at the end or on timeout).
  HttpReply ReadHead(std::chrono::milliseconds timeout = std::chrono::milliseconds(10'000));
  std::string ReadChunk(std::chrono::milliseconds timeout);
  // True if the server closed the connection within timeout.
  bool WaitClosed(std::chrono::milliseconds timeout);

 private:
  bool Connect();
  // Reads more bytes into buf_; false on close, error or timeout.
  bool Fill(std::chrono::steady_clock::time_point deadline);
  bool ReadLine(std::string* line, std::chrono::steady_clock::time_point deadline);
  bool ReadN(size_t n, std::string* out, std::chrono::steady_clock::time_point deadline);

  uint16_t port_;
  int fd_ = -1;
  std::string buf_;
  bool chunked_ = false;
};

// `stele serve --dir DIR --listen 127.0.0.1:0 [extra...]` as a child process.
class ServerProcess {
 public:
  ServerProcess(const std::string& dir, const std::vector<std::string>& extra = {});
  ~ServerProcess();  // SIGKILL if still running
  bool started() const { return port_ != 0; }
  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  // Sends sig and waits; returns the exit status (-signal if killed).
  int Stop(int sig, std::chrono::milliseconds timeout = std::chrono::milliseconds(60'000));
  const std::string& stderr_path() const { return err_path_; }

 private:
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::string err_path_;
};

}  // namespace stele::test
