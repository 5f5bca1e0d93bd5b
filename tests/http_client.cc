#include "http_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace stele::test {

HttpClient::HttpClient(uint16_t port) : port_(port) { Connect(); }
HttpClient::~HttpClient() {
  if (fd_ >= 0) ::close(fd_);
}

bool HttpClient::Connect() {
  if (fd_ >= 0) ::close(fd_);
  buf_.clear();
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port_);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd_);
    fd_ = -1;
    return false;
  }
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return true;
}

bool HttpClient::SendRaw(const std::string& bytes) {
  if (fd_ < 0 && !Connect()) return false;
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

bool HttpClient::Fill(std::chrono::steady_clock::time_point deadline) {
  if (fd_ < 0) return false;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return false;
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
  char tmp[65536];
  ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
  if (n <= 0) return false;
  buf_.append(tmp, static_cast<size_t>(n));
  return true;
}

bool HttpClient::ReadLine(std::string* line, std::chrono::steady_clock::time_point deadline) {
  while (true) {
    const size_t p = buf_.find("\r\n");
    if (p != std::string::npos) {
      *line = buf_.substr(0, p);
      buf_.erase(0, p + 2);
      return true;
    }
    if (!Fill(deadline)) return false;
  }
}

bool HttpClient::ReadN(size_t n, std::string* out, std::chrono::steady_clock::time_point deadline) {
  while (buf_.size() < n) {
    if (!Fill(deadline)) return false;
  }
  out->append(buf_, 0, n);
  buf_.erase(0, n);
  return true;
}

HttpReply HttpClient::ReadHead(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  HttpReply r;
  std::string line;
  if (!ReadLine(&line, deadline) || line.size() < 12) return r;
  const int status = std::atoi(line.c_str() + 9);
  while (ReadLine(&line, deadline) && !line.empty()) {
    const size_t c = line.find(':');
    if (c == std::string::npos) continue;
    std::string name = line.substr(0, c);
    for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    size_t v = c + 1;
    while (v < line.size() && line[v] == ' ') ++v;
    r.headers[name] = line.substr(v);
  }
  if (!line.empty()) return r;
  r.status = status;
  chunked_ = r.headers["transfer-encoding"].find("chunked") != std::string::npos;
  return r;
}

std::string HttpClient::ReadChunk(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string line, out;
  if (!ReadLine(&line, deadline)) return "";
  const size_t n = std::strtoul(line.c_str(), nullptr, 16);
  if (n == 0) {
    ReadLine(&line, deadline);
    return "";
  }
  if (!ReadN(n, &out, deadline)) return "";
  ReadLine(&line, deadline);
  return out;
}

HttpReply HttpClient::ReadReply(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  HttpReply r = ReadHead(timeout);
  if (r.status == 0) return r;
  if (chunked_) {
    while (true) {
      std::string c = ReadChunk(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()));
      if (c.empty()) break;
      r.body += c;
    }
  } else if (r.headers.count("content-length")) {
    if (!ReadN(std::strtoull(r.headers["content-length"].c_str(), nullptr, 10), &r.body, deadline)) r.status = 0;
  }
  if (r.headers["connection"] == "close" || chunked_) {
    ::close(fd_);
    fd_ = -1;
  }
  return r;
}

HttpReply HttpClient::Request(const std::string& method, const std::string& target, const std::string& body,
                              const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
  if (!body.empty() || method == "POST") req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  if (fd_ < 0 && !Connect()) return {};
  if (!SendRaw(req)) {
    if (!Connect() || !SendRaw(req)) return {};
  }
  HttpReply r = ReadReply();
  if (r.status == 0 && buf_.empty()) {  // the server closed an idle keep-alive connection: retry once
    if (Connect() && SendRaw(req)) r = ReadReply();
  }
  return r;
}

bool HttpClient::WaitClosed(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (fd_ < 0) return true;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) > 0) {
      char tmp[4096];
      ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n <= 0) return true;
      buf_.append(tmp, static_cast<size_t>(n));
    }
  }
  return false;
}

ServerProcess::ServerProcess(const std::string& dir, const std::vector<std::string>& extra) {
  int out[2];
  if (pipe(out) != 0) return;
  err_path_ = dir + ".serve.err";
  pid_ = fork();
  if (pid_ == 0) {
    dup2(out[1], 1);
    int err = ::open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (err >= 0) dup2(err, 2);
    ::close(out[0]);
    std::vector<std::string> args = {STELE_BINARY, "serve", "--dir", dir, "--listen", "127.0.0.1:0"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(STELE_BINARY, argv.data());
    _exit(127);
  }
  ::close(out[1]);
  std::string line;
  char c;
  pollfd p{out[0], POLLIN, 0};
  while (line.find('\n') == std::string::npos && ::poll(&p, 1, 20'000) > 0 && ::read(out[0], &c, 1) == 1) line += c;
  ::close(out[0]);
  const size_t at = line.find("127.0.0.1:");
  if (at != std::string::npos) port_ = static_cast<uint16_t>(std::atoi(line.c_str() + at + 10));
}

int ServerProcess::Stop(int sig, std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1000;
  ::kill(pid_, sig);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      pid_ = -1;
      return -2000;
    }
    usleep(10'000);
  }
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) Stop(SIGKILL);
}

}  // namespace stele::test
