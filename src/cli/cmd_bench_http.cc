// stele bench http: the server on loopback under load from client threads,
// side by side with the embedded library doing the same work in the same
// run: NDJSON bulk ingest, single-event POSTs with keep-alive, and query
// latency with and without ingest load.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "server/api.h"
#include "server/api_keys.h"
#include "server/http_server.h"
#include "stele/log.h"
#include "workload/generator.h"

namespace stele::cli {
namespace {

struct BenchHttpFlags {
  uint64_t events = 1'000'000;
  uint64_t singles = 100'000;
  unsigned clients = 4;
  uint64_t body_events = 1000;
  unsigned queries = 500;
  std::string work_dir = "./stele-bench-http";
  bool keep = false;
};

using Clock = std::chrono::steady_clock;

// One keep-alive connection; blocking; just enough HTTP for the bench.
class Connection {
 public:
  explicit Connection(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
    int one = 1;
    if (fd_ >= 0) setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~Connection() {
    if (fd_ >= 0) ::close(fd_);
  }
  // Returns the status (0 on a broken connection); the body in *body.
  int Call(const std::string& request, std::string* body) {
    for (size_t off = 0; off < request.size();) {
      ssize_t n = ::send(fd_, request.data() + off, request.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return 0;
      off += static_cast<size_t>(n);
    }
    size_t head_end;
    while ((head_end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return 0;
    }
    const int status = std::atoi(buf_.c_str() + 9);
    size_t length = 0;
    const size_t cl = buf_.find("Content-Length: ");
    if (cl != std::string::npos && cl < head_end) length = std::strtoull(buf_.c_str() + cl + 16, nullptr, 10);
    while (buf_.size() < head_end + 4 + length) {
      if (!Fill()) return 0;
    }
    body->assign(buf_, head_end + 4, length);
    buf_.erase(0, head_end + 4 + length);
    return status;
  }
  bool ok() const { return fd_ >= 0; }

 private:
  bool Fill() {
    char tmp[65536];
    ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
  int fd_ = -1;
  std::string buf_;
};

std::string Post(const std::string& target, const std::string& type, const std::string& body) {
  return "POST " + target + " HTTP/1.1\r\nHost: b\r\nContent-Type: " + type + "\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

// A server on a fresh directory, in this process.
struct InProcessServer {
  explicit InProcessServer(const std::string& dir) : keys(dir) {
    Options o;
    o.dir = dir;
    auto opened = Log::Open(o);
    if (!opened.ok()) {
      std::fprintf(stderr, "stele: %s\n", opened.status().ToString().c_str());
      return;
    }
    log = std::move(opened).value();
    config.port = 0;
    api = std::make_unique<Api>(log.get(), dir, &keys, config);
    server = std::make_unique<HttpServer>(api.get(), config.http, config.io_threads, config.workers);
    if (!server->Start("127.0.0.1", 0).ok()) server.reset();
  }
  ~InProcessServer() {
    if (server) server->Shutdown(std::chrono::seconds(5));
    if (log) (void)log->Shutdown();
  }
  KeyStore keys;
  ServerConfig config;
  std::unique_ptr<Log> log;
  std::unique_ptr<Api> api;
  std::unique_ptr<HttpServer> server;
};

// Runs fn(client) on n threads; returns the seconds until all finished.
template <typename Fn>
double RunClients(unsigned n, Fn fn) {
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (unsigned c = 0; c < n; ++c) threads.emplace_back([&, c] { fn(c); });
  for (auto& t : threads) t.join();
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

int RunBenchHttp(const BenchHttpFlags& f) {
  std::filesystem::remove_all(f.work_dir);
  std::filesystem::create_directories(f.work_dir);
  WorkloadGenerator gen(WorkloadGenerator::Config{});
  const uint64_t n_bodies = std::max<uint64_t>(1, f.events / f.body_events);
  std::vector<std::string> bodies(n_bodies);
  for (uint64_t b = 0; b < n_bodies; ++b) {
    for (uint64_t i = 0; i < f.body_events; ++i) bodies[b] += gen.Event(b * f.body_events + i) + "\n";
  }
  const double events = static_cast<double>(n_bodies * f.body_events);
  std::printf("stele bench http: %llu events in %llu-event bodies, %u clients, loopback, sync=batch\n",
              static_cast<unsigned long long>(n_bodies * f.body_events), static_cast<unsigned long long>(f.body_events),
              f.clients);
  std::printf("| measure | server over HTTP | embedded library | ratio |\n|---|---|---|---|\n");

  // 1. Bulk NDJSON: embedded AppendBatch vs POST /v1/events, same bodies.
  double embedded_s, http_s;
  {
    Options o;
    o.dir = f.work_dir + "/embedded";
    auto log = Log::Open(o);
    if (!log.ok()) return ReportError(log.status());
    std::atomic<uint64_t> next{0};
    embedded_s = RunClients(f.clients, [&](unsigned) {
      for (uint64_t b; (b = next++) < n_bodies;) (void)(*log)->AppendBatch(bodies[b]);
    });
    (void)(*log)->Flush();
    embedded_s = std::max(embedded_s, 1e-9);
  }
  std::atomic<uint64_t> failures{0};
  {
    InProcessServer s(f.work_dir + "/http-bulk");
    if (!s.server) return ReportError(Status::IOError("could not start the server"));
    std::atomic<uint64_t> next{0};
    http_s = RunClients(f.clients, [&](unsigned) {
      Connection c(s.server->port());
      std::string reply;
      for (uint64_t b; (b = next++) < n_bodies;) {
        if (c.Call(Post("/v1/events", "application/x-ndjson", bodies[b]), &reply) != 200) ++failures;
      }
    });
    (void)s.log->Flush();
  }
  std::printf("| NDJSON bulk ingest | %.0f events/s | %.0f events/s | %.2f |\n", events / http_s, events / embedded_s,
              embedded_s / http_s);

  // 2. One event per request, keep-alive; the embedded figure is Append().
  std::vector<std::string> singles;
  for (uint64_t i = 0; i < std::min<uint64_t>(f.singles, 10'000); ++i) singles.push_back(gen.Event(i));
  double single_http_s, single_embedded_s;
  {
    Options o;
    o.dir = f.work_dir + "/embedded-single";
    auto log = Log::Open(o);
    if (!log.ok()) return ReportError(log.status());
    std::atomic<uint64_t> next{0};
    single_embedded_s = RunClients(f.clients, [&](unsigned) {
      for (uint64_t i; (i = next++) < f.singles;) (void)(*log)->Append(singles[i % singles.size()]);
    });
    (void)(*log)->Flush();
  }
  {
    InProcessServer s(f.work_dir + "/http-single");
    if (!s.server) return ReportError(Status::IOError("could not start the server"));
    std::vector<std::string> requests;
    for (const auto& e : singles) requests.push_back(Post("/v1/events", "application/json", e));
    std::atomic<uint64_t> next{0};
    single_http_s = RunClients(f.clients, [&](unsigned) {
      Connection c(s.server->port());
      std::string reply;
      for (uint64_t i; (i = next++) < f.singles;) {
        if (c.Call(requests[i % requests.size()], &reply) != 200) ++failures;
      }
    });
  }
  const double singles_n = static_cast<double>(f.singles);
  std::printf("| single-event POST, keep-alive | %.0f requests/s | %.0f appends/s | %.2f |\n", singles_n / single_http_s,
              singles_n / single_embedded_s, single_embedded_s / single_http_s);

  // 3. Query latency (a lead's latest 100 events as a JSON page), idle and
  // under bulk ingest from the other clients.
  {
    InProcessServer s(f.work_dir + "/http-query");
    if (!s.server) return ReportError(Status::IOError("could not start the server"));
    {
      Connection c(s.server->port());
      std::string reply;
      for (uint64_t b = 0; b < n_bodies / 2; ++b) c.Call(Post("/v1/events", "application/x-ndjson", bodies[b]), &reply);
    }
    auto probe = [&](std::vector<double>* lat) {
      Connection c(s.server->port());
      std::mt19937_64 rng(7);
      std::string reply;
      for (unsigned q = 0; q < f.queries; ++q) {
        const uint64_t i = rng() % (n_bodies * f.body_events / 2);
        char lead[16];
        std::snprintf(lead, sizeof lead, "L%07u", gen.LeadOf(i));
        const auto t0 = Clock::now();
        if (c.Call("GET /v1/events?lead=" + std::string(lead) + "&limit=100&desc=true&format=json HTTP/1.1\r\nHost: b\r\n\r\n",
                   &reply) != 200) {
          ++failures;
        }
        lat->push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
      }
    };
    std::vector<double> idle, loaded;
    probe(&idle);
    std::atomic<bool> done{false};
    std::atomic<uint64_t> next{n_bodies / 2};
    std::vector<std::thread> writers;
    for (unsigned c = 1; c < std::max(2u, f.clients); ++c) {
      writers.emplace_back([&] {
        Connection conn(s.server->port());
        std::string reply;
        while (!done) {
          const uint64_t b = next++ % n_bodies;
          conn.Call(Post("/v1/events", "application/x-ndjson", bodies[b]), &reply);
        }
      });
    }
    probe(&loaded);
    done = true;
    for (auto& t : writers) t.join();
    std::printf("| lead query p50 / p99, idle | %.0f / %.0f µs | | |\n", Percentile(idle, 0.5), Percentile(idle, 0.99));
    std::printf("| lead query p50 / p99, under bulk ingest | %.0f / %.0f µs | | |\n", Percentile(loaded, 0.5),
                Percentile(loaded, 0.99));
  }
  if (failures > 0) std::printf("(%llu requests failed)\n", static_cast<unsigned long long>(failures.load()));
  if (!f.keep) std::filesystem::remove_all(f.work_dir);
  return failures == 0 ? kExitOk : kExitIOError;
}

}  // namespace

void RegisterBenchHttp(CLI::App* bench, std::function<int()>* run) {
  auto flags = std::make_shared<BenchHttpFlags>();
  CLI::App* sub = bench->add_subcommand("http", "the server on loopback vs the embedded library, same run");
  sub->add_option("--events", flags->events, "events for the bulk phase")->default_str("1000000");
  sub->add_option("--singles", flags->singles, "single-event requests")->default_str("100000");
  sub->add_option("--clients", flags->clients, "client threads")->default_str("4");
  sub->add_option("--body-events", flags->body_events, "events per bulk request")->default_str("1000");
  sub->add_option("--queries", flags->queries, "query probes per phase")->default_str("500");
  sub->add_option("--work-dir", flags->work_dir, "scratch directory (removed afterwards)")->default_str("./stele-bench-http");
  sub->add_flag("--keep", flags->keep, "keep the scratch directory");
  *run = [sub, flags] { return sub->parsed() ? RunBenchHttp(*flags) : -1; };
}

}  // namespace stele::cli
