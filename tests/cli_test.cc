// The `stele` binary, run as a real process.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "server/api_keys.h"
#include "test_util.h"
#include "util/compressed_stream.h"

namespace stele {
namespace {

using test::TempDir;

struct RunResult {
  int exit_code = -1;
  std::string out, err;
};

// Runs the stele binary with args, feeding `input` on stdin.
RunResult RunStele(const std::vector<std::string>& args, const std::string& input = "") {
  TempDir io;
  test::WriteFileBytes(io.Sub("in"), input);
  pid_t pid = fork();
  if (pid == 0) {
    int in = open(io.Sub("in").c_str(), O_RDONLY);
    int out = open(io.Sub("out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open(io.Sub("err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(STELE_BINARY));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(STELE_BINARY, argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = test::ReadFileBytes(io.Sub("out"));
  r.err = test::ReadFileBytes(io.Sub("err"));
  return r;
}

size_t Lines(const std::string& s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); }

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string input =
        R"({"type":"lead.created","actor":"alice","lead_id":"L1","ts":"2026-01-01T00:00:00Z","data":{"n":1}})" "\n"
        R"({"type":"lead.updated","actor":"bob","lead_id":"L1","ts":"2026-01-01T00:01:00Z","data":{"n":2}})" "\n"
        R"({"type":"email.sent","actor":"alice","lead_id":"L2","ts":"2026-01-01T00:02:00Z","workflow_id":"wf-1"})" "\n"
        R"({"type":"step.done","source":"n8n","workflow_id":"wf-1","ts":"2026-01-01T00:03:00Z"})" "\n";
    RunResult r = RunStele({"--dir", dir_.path(), "append"}, input);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_EQ(r.out, "{\"appended\":4,\"first_seq\":1,\"last_seq\":4,\"rejected\":0}\n");
  }
  TempDir dir_;
};

TEST_F(Cli, AppendReportsRejectedLinesAndStillLandsTheRest) {
  const std::string input = "{\"type\":\"a\"}\n{\"type\":\"a\",\"bogus\":1}\n\n{\"type\":\"b\"}\n[1]\n";
  RunResult r = RunStele({"append", "--dir", dir_.path(), "--sync", "always"}, input);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "{\"appended\":2,\"first_seq\":5,\"last_seq\":6,\"rejected\":2}\n");
  EXPECT_NE(r.err.find("line 2: field \"bogus\": unknown top-level key"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("line 5: event: must be a JSON object"), std::string::npos) << r.err;
  EXPECT_EQ(Lines(r.err), 2u);
}

TEST_F(Cli, AppendOfLongInputStreamsInChunksWithCorrectLineNumbers) {
  std::string input;
  for (int i = 0; i < 30000; ++i) {
    input += i == 25000 ? std::string("{\"type\":\"Bad\"}\n")
                        : R"({"type":"bulk","data":{"i":)" + std::to_string(i) + R"(,"pad":")" + std::string(150, 'x') + "\"}}\n";
  }
  RunResult r = RunStele({"append", "--dir", dir_.path()}, input);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "{\"appended\":29999,\"first_seq\":5,\"last_seq\":30003,\"rejected\":1}\n");
  EXPECT_EQ(r.err.rfind("line 25001: field \"type\"", 0), 0u) << r.err;
}

TEST_F(Cli, QueryFiltersAndFormats) {
  RunResult r = RunStele({"query", "--dir", dir_.path(), "--type", "lead.*"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out,
            R"({"seq":1,"ts":"2026-01-01T00:00:00.000000000Z","type":"lead.created","actor":"alice","lead_id":"L1","data":{"n":1}})" "\n"
            R"({"seq":2,"ts":"2026-01-01T00:01:00.000000000Z","type":"lead.updated","actor":"bob","lead_id":"L1","data":{"n":2}})" "\n");
  EXPECT_EQ(RunStele({"--dir", dir_.path(), "query", "--actor", "alice", "--format", "count"}).out, "2\n");
  EXPECT_EQ(RunStele({"query", "--dir", dir_.path(), "--workflow", "wf-1", "--format", "count"}).out, "2\n");
  EXPECT_EQ(RunStele({"query", "--dir", dir_.path(), "--source", "n8n", "--format", "count"}).out, "1\n");
  EXPECT_EQ(RunStele({"query", "--dir", dir_.path(), "--lead", "L1", "--format", "count"}).out, "2\n");
  EXPECT_EQ(RunStele({"query", "--dir", dir_.path(), "--since", "2026-01-01T00:01:00Z", "--until",
                 "2026-01-01T00:03:00Z", "--format", "count"}).out, "2\n");
  RunResult desc = RunStele({"query", "--dir", dir_.path(), "--desc", "--limit", "2"});
  EXPECT_EQ(desc.out.substr(0, 9), "{\"seq\":4,");
  EXPECT_NE(desc.out.find("\n{\"seq\":3,"), std::string::npos);
  EXPECT_EQ(Lines(desc.out), 2u);
  RunResult after = RunStele({"query", "--dir", dir_.path(), "--after", "2", "--format", "count"});
  EXPECT_EQ(after.out, "2\n");
  RunResult table = RunStele({"query", "--dir", dir_.path(), "--format", "table"});
  EXPECT_EQ(table.exit_code, 0);
  EXPECT_EQ(table.out.substr(0, 3), "SEQ");
  EXPECT_NE(table.out.find("lead.created"), std::string::npos);
  EXPECT_EQ(Lines(table.out), 5u);
}

TEST_F(Cli, BadFlagsAreUsageErrors) {
  RunResult r = RunStele({"query", "--dir", dir_.path(), "--since", "yesterday"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--since"), std::string::npos);
  EXPECT_EQ(RunStele({"query", "--dir", dir_.path(), "--format", "xml"}).exit_code, 2);
  EXPECT_EQ(RunStele({"append", "--dir", dir_.path(), "--sync", "sometimes"}).exit_code, 2);
  EXPECT_EQ(RunStele({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(RunStele({"query", "--dir", dir_.path() + "/missing"}).exit_code, 3);
}

TEST_F(Cli, StatsCountsByFieldAndTimeAndDescribesTheEngine) {
  RunResult r = RunStele({"stats", "--dir", dir_.path(), "--by", "actor", "--format", "json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "{\"by\":\"actor\",\"total\":4,\"without\":1,\"groups\":2,\"groups_exact\":true,\"rows\":[{\"key\":\"alice\",\"count\":2},"
                   "{\"key\":\"bob\",\"count\":1}]}\n");
  r = RunStele({"stats", "--dir", dir_.path(), "--by", "minute", "--lead", "L1", "--format", "json"});
  EXPECT_EQ(r.out, "{\"by\":\"minute\",\"total\":2,\"without\":0,\"groups\":2,\"groups_exact\":true,\"rows\":["
                   "{\"key\":\"2026-01-01T00:00:00.000000000Z\",\"count\":1},"
                   "{\"key\":\"2026-01-01T00:01:00.000000000Z\",\"count\":1}]}\n");
  EXPECT_EQ(RunStele({"stats", "--dir", dir_.path(), "--by", "planet"}).exit_code, 2);
  r = RunStele({"stats", "--engine", "--dir", dir_.path()});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.rfind("{\"first_seq\":1,\"last_seq\":4,\"events\":4,\"segments\":1,", 0), 0u) << r.out;
}

TEST_F(Cli, WhereAndRegexFlags) {
  EXPECT_EQ(RunStele({"query", "--dir", dir_.path(), "--where", "/n=2", "--format", "count"}).out, "1\n");
  EXPECT_EQ(RunStele({"query", "--dir", dir_.path(), "--regex", "\"actor\":\"al", "--format", "count"}).out, "2\n");
  EXPECT_EQ(RunStele({"query", "--dir", dir_.path(), "--regex-field", "/n", "^[12]$", "--format", "count"}).out, "2\n");
  RunResult bad = RunStele({"query", "--dir", dir_.path(), "--regex", "(?=x)"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--regex"), std::string::npos) << bad.err;
}

TEST_F(Cli, HelpWorksForEveryCommand) {
  for (auto args : std::vector<std::vector<std::string>>{
           {"--help"}, {"append", "--help"}, {"query", "--help"}, {"tail", "--help"}, {"bench", "ingest", "--help"},
           {"stats", "--help"}, {"verify", "--help"}, {"checkpoint", "--help"}, {"prove", "inclusion", "--help"},
           {"bench", "query", "--help"}}) {
    RunResult r = RunStele(args);
    EXPECT_EQ(r.exit_code, 0) << args[0];
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << args[0];
  }
  EXPECT_NE(RunStele({"--help"}).out.find("Exit codes"), std::string::npos);
}

TEST_F(Cli, SecondWriterProcessGetsAClearError) {
  Options o;
  o.dir = dir_.path();
  auto log = Log::Open(o);
  ASSERT_TRUE(log.ok());
  RunResult r = RunStele({"append", "--dir", dir_.path()}, "{\"type\":\"a\"}\n");
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_NE(r.err.find("another writer"), std::string::npos) << r.err;
  // Readers are not blocked by the writer.
  EXPECT_EQ(RunStele({"query", "--dir", dir_.path(), "--format", "count"}).out, "4\n");
}

TEST_F(Cli, TailPrintsTheLastEventsOldestFirst) {
  RunResult r = RunStele({"tail", "--dir", dir_.path(), "-n", "2"});
  EXPECT_EQ(r.exit_code, 0);
  ASSERT_EQ(Lines(r.out), 2u);
  EXPECT_EQ(r.out.substr(0, 9), "{\"seq\":3,");
  r = RunStele({"tail", "--dir", dir_.path(), "-n", "5", "--actor", "alice"});
  EXPECT_EQ(Lines(r.out), 2u);
}

TEST_F(Cli, TailFollowPrintsNewEvents) {
  TempDir io;
  const std::string out_path = io.Sub("out");
  pid_t pid = fork();
  if (pid == 0) {
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(out, 1);
    execl(STELE_BINARY, STELE_BINARY, "tail", "-f", "-n", "1", "--poll-ms", "20", "--dir", dir_.path().c_str(),
          nullptr);
    _exit(127);
  }
  Options o;
  o.dir = dir_.path();
  {
    auto log = Log::Open(o);
    ASSERT_TRUE(log.ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ASSERT_TRUE((*log)->Append(R"({"type":"followed","data":{"k":1}})").ok());
    ASSERT_TRUE((*log)->Append(R"({"type":"followed","data":{"k":2}})").ok());
    ASSERT_TRUE((*log)->Flush().ok());
  }
  std::string out;
  for (int i = 0; i < 100 && Lines(out) < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    out = test::ReadFileBytes(out_path);
  }
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  ASSERT_EQ(Lines(out), 3u) << out;
  EXPECT_EQ(out.substr(0, 9), "{\"seq\":4,");
  EXPECT_NE(out.find("{\"seq\":5,"), std::string::npos);
  EXPECT_NE(out.find("{\"seq\":6,"), std::string::npos);
}

// Runs a command line through the shell; returns its exit code and stdout.
RunResult Shell(const std::string& cmd) {
  RunResult r;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

TEST_F(Cli, VerifyCheckpointAndProofsWorkFromTheCommandLine) {
  RunResult v = RunStele({"verify", "--dir", dir_.path()});
  EXPECT_EQ(v.exit_code, 0) << v.err;
  EXPECT_EQ(v.out.rfind("{\"ok\":true,\"first_seq\":1,\"events\":4,", 0), 0u) << v.out;

  RunResult cp = RunStele({"checkpoint", "--dir", dir_.path()});
  EXPECT_EQ(cp.exit_code, 0);
  RunResult key = RunStele({"checkpoint", "--public-key", "--dir", dir_.path()});
  EXPECT_EQ(key.exit_code, 0);
  const std::string name = key.out.substr(0, key.out.find('+'));
  EXPECT_EQ(cp.out.rfind(name + "\n4\n", 0), 0u) << cp.out;  // origin, size
  EXPECT_NE(cp.out.find("\n\n\xe2\x80\x94 " + name + " "), std::string::npos) << cp.out;

  TempDir io;
  for (auto args : std::vector<std::vector<std::string>>{{"prove", "inclusion", "3", "--dir", dir_.path()},
                                                         {"prove", "inclusion", "1", "--size", "2", "--dir", dir_.path()},
                                                         {"prove", "consistency", "1", "4", "--dir", dir_.path()},
                                                         {"prove", "consistency", "3", "4", "--dir", dir_.path()}}) {
    RunResult p = RunStele(args);
    ASSERT_EQ(p.exit_code, 0) << p.err;
    test::WriteFileBytes(io.Sub("proof.json"), p.out);
    EXPECT_EQ(RunStele({"prove", "verify", io.Sub("proof.json")}).exit_code, 0) << p.out;
    // An independent RFC 9162 verifier (Python, hashlib) accepts it too.
    RunResult py = Shell("python3 " STELE_SOURCE_DIR "/tests/tools/rfc9162_verify.py " + io.Sub("proof.json"));
    EXPECT_EQ(py.exit_code, 0) << p.out << py.out;
    // And both reject it once one hash changes.
    std::string bad = p.out;
    const size_t at = bad.find("\"proof\":[\"") + 10;
    if (bad[at] != ']') {
      bad[at] = bad[at] == '0' ? '1' : '0';
      test::WriteFileBytes(io.Sub("bad.json"), bad);
      EXPECT_EQ(RunStele({"prove", "verify", io.Sub("bad.json")}).exit_code, 1);
      EXPECT_EQ(Shell("python3 " STELE_SOURCE_DIR "/tests/tools/rfc9162_verify.py " + io.Sub("bad.json")).exit_code, 1);
    }
  }
  EXPECT_EQ(RunStele({"prove", "inclusion", "9", "--dir", dir_.path()}).exit_code, 2);
}

TEST_F(Cli, VerifyFailureNamesTheSeqAndIsRecordedAsASecurityEvent) {
  // Truncate the log below its last checkpoint.
  const std::string seg = test::SegmentFiles(dir_.path()).back();
  std::string bytes = test::ReadFileBytes(seg);
  auto frames = test::FramesOf(bytes);
  test::WriteFileBytes(seg, bytes.substr(0, frames.back().offset));
  const uint64_t kept = frames.back().first_seq - 1;
  RunResult v = RunStele({"verify", "--dir", dir_.path()});
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_NE(v.err.find("verify FAILED at seq " + std::to_string(kept + 1) + ":"), std::string::npos) << v.err;
  EXPECT_NE(v.err.find("truncated"), std::string::npos) << v.err;
  RunResult sec = RunStele({"query", "--dir", dir_.path(), "--type", "security.*"});
  EXPECT_NE(sec.out.find("\"type\":\"security.integrity_failed\""), std::string::npos) << sec.out << v.err;
  EXPECT_NE(sec.out.find("\"first_bad_seq\":" + std::to_string(kept + 1)), std::string::npos) << sec.out;
}

TEST_F(Cli, VerifyFailureWhileAnotherProcessWritesIsQueuedForTheNextOpen) {
  const std::string seg = test::SegmentFiles(dir_.path()).back();
  std::string bytes = test::ReadFileBytes(seg);
  test::WriteFileBytes(seg, bytes.substr(0, test::FramesOf(bytes).back().offset));
  Options o;
  o.dir = dir_.path();
  {
    auto writer = Log::Open(o);  // holds the lock while verify runs
    ASSERT_TRUE(writer.ok());
    RunResult v = RunStele({"verify", "--dir", dir_.path()});
    EXPECT_EQ(v.exit_code, 1);
    EXPECT_NE(v.err.find("queued for the next writer"), std::string::npos) << v.err;
    ASSERT_TRUE((*writer)->Shutdown().ok());
  }
  EXPECT_TRUE(test::ReadFileBytes(dir_.Sub("pending-security.ndjson")).find("security.integrity_failed") !=
              std::string::npos);
  {
    auto writer = Log::Open(o);  // drains the queue
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Shutdown().ok());
  }
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("pending-security.ndjson")));
  RunResult sec = RunStele({"query", "--dir", dir_.path(), "--type", "security.*"});
  EXPECT_NE(sec.out.find("\"type\":\"security.integrity_failed\",\"source\":\"stele\""), std::string::npos)
      << sec.out;
  EXPECT_NE(sec.out.find("\"first_bad_seq\":1"), std::string::npos) << sec.out;
}

TEST(SecurityEvents, ProducersCannotWriteThemButSteleCan) {
  TempDir dir;
  Options o;
  o.dir = dir.path();
  auto log = Log::Open(o);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ((*log)->Append(R"({"type":"security.auth_failed"})").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*log)->RecordSecurityEvent("lead.created", "{}").status().code(), StatusCode::kInvalidArgument);
  auto seq = (*log)->RecordSecurityEvent("security.auth_failed", R"({"key":"k1"})");
  ASSERT_TRUE(seq.ok()) << seq.status().ToString();
  ASSERT_TRUE((*log)->Shutdown().ok());
  auto events = test::QueryAll(dir.path(), {});
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, "security.auth_failed");
  EXPECT_EQ(events[0].source, "stele");
  EXPECT_EQ(events[1].type, "security.validation_failed");  // the refused producer event
}


TEST(CliRetain, RemovesOldSegmentsAndTheLogStillVerifies) {
  test::TempDir dir;
  RunResult gen = RunStele({"bench", "generate", "--events", "48000"});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  RunResult app = RunStele({"append", "--dir", dir.path(), "--segment-max", "1M"}, gen.out);
  ASSERT_EQ(app.exit_code, 0) << app.err;
  ASSERT_GE(test::SegmentFiles(dir.path()).size(), 2u);

  RunResult bad = RunStele({"retain", "--dir", dir.path(), "--max-age", "3 weeks"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--max-age"), std::string::npos) << bad.err;
  RunResult none = RunStele({"retain", "--dir", dir.path()});
  EXPECT_EQ(none.exit_code, 2);

  RunResult r = RunStele({"retain", "--dir", dir.path(), "--max-bytes", "1M"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("{\"segments_removed\":1,", 0), 0u) << r.out;
  RunResult v = RunStele({"verify", "--dir", dir.path()});
  EXPECT_EQ(v.exit_code, 0) << v.err;
  EXPECT_EQ(v.out.find("\"first_seq\":1,"), std::string::npos) << v.out;
  RunResult count = RunStele({"query", "--dir", dir.path(), "--format", "count"});
  EXPECT_EQ(count.exit_code, 0);
  EXPECT_LT(std::stoull(count.out), 48000u);
}

// The latency benchmark runs end to end on a real log, through both
// harnesses, with and without an injected fsync delay, and reports every
// offered load it was given (no timing is asserted: only that the rows
// exist and the load was run).
TEST(CliBench, LatencyReportsEveryLoadAndGroupCommitsUnderASlowFsync) {
  TempDir dir;
  RunResult r = RunStele({"bench", "latency", "--rates", "500,2000", "--fsync-delays-ms", "0,5", "--seconds", "0.4",
                          "--work-dir", dir.Sub("work")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> rows;
  for (size_t pos = 0; (pos = r.out.find("{\"harness\":", pos)) != std::string::npos; ++pos) {
    rows.push_back(r.out.substr(pos, r.out.find('\n', pos) - pos));
  }
  // Delays, then harnesses, then rates.
  ASSERT_EQ(rows.size(), 8u) << r.out;
  EXPECT_NE(rows[0].find("{\"harness\":\"queued\",\"fsync_delay_ms\":0,\"offered\":500,"), std::string::npos) << rows[0];
  EXPECT_NE(rows[3].find("{\"harness\":\"threads\",\"fsync_delay_ms\":0,\"offered\":2000,"), std::string::npos) << rows[3];
  for (const size_t i : {size_t{5}, size_t{7}}) {
    EXPECT_NE(rows[i].find("\"fsync_delay_ms\":5,\"offered\":2000,"), std::string::npos) << rows[i];
    // 2,000 events/s against a 5 ms fsync: a commit per event would manage
    // at most 200/s, so the load only ran because commits were grouped.
    const size_t at = rows[i].find("\"events_per_fsync\":");
    ASSERT_NE(at, std::string::npos);
    EXPECT_GT(std::stod(rows[i].substr(at + 19)), 2.0) << rows[i];
    EXPECT_NE(rows[i].find("\"host_stalls\":"), std::string::npos) << rows[i];
  }
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("work")));
  RunResult bad = RunStele({"bench", "latency", "--seconds", "0"});
  EXPECT_EQ(bad.exit_code, 2);
  RunResult unknown = RunStele({"bench", "latency", "--harness", "fibers", "--work-dir", dir.Sub("work2")});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("--harness: \"fibers\" is not queued or threads"), std::string::npos) << unknown.err;
}

TEST(CliKeys, SecretsAreShownOnceAndStoredOnlyHashed) {
  TempDir dir;
  RunResult add = RunStele({"keys", "add", "ci-bot", "--scope", "append,read", "--dir", dir.path()});
  ASSERT_EQ(add.exit_code, 0) << add.err;
  const std::string secret = add.out.substr(0, add.out.find('\n'));
  EXPECT_EQ(secret.rfind("stele_", 0), 0u);
  EXPECT_EQ(secret.size(), 6u + 64u);
  const std::string file = test::ReadFileBytes(dir.Sub("keys/api-keys"));
  EXPECT_EQ(file.find(secret.substr(6)), std::string::npos);  // never the secret itself
  EXPECT_NE(file.find(KeyStore::HashSecret(secret)), std::string::npos);
  struct stat st;
  ASSERT_EQ(stat(dir.Sub("keys/api-keys").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  EXPECT_EQ(RunStele({"keys", "add", "ci-bot", "--dir", dir.path()}).exit_code, 2);  // names are never reused
  EXPECT_EQ(RunStele({"keys", "add", "x", "--scope", "root", "--dir", dir.path()}).exit_code, 2);
  EXPECT_EQ(RunStele({"keys", "add", "../x", "--dir", dir.path()}).exit_code, 2);
  RunResult list = RunStele({"keys", "list", "--dir", dir.path()});
  EXPECT_NE(list.out.find("{\"name\":\"ci-bot\",\"scopes\":\"append,read\""), std::string::npos) << list.out;
  EXPECT_EQ(list.out.find(secret), std::string::npos);
  EXPECT_EQ(RunStele({"keys", "revoke", "ci-bot", "--dir", dir.path()}).exit_code, 0);
  EXPECT_NE(RunStele({"keys", "list", "--dir", dir.path()}).out.find("\"state\":\"revoked\""), std::string::npos);
  EXPECT_EQ(RunStele({"keys", "revoke", "nobody", "--dir", dir.path()}).exit_code, 3);
}

TEST(CliAlerts, CheckSaysAllowedOrBlockedWithTheReason) {
  RunResult blocked = RunStele({"alerts", "check", "http://0x7f.1/hook"});
  EXPECT_EQ(blocked.exit_code, 2);
  EXPECT_EQ(blocked.out, "blocked: 127.0.0.1 is loopback (127/8)\n");
  RunResult meta = RunStele({"alerts", "check", "http://[::ffff:169.254.169.254]/"});
  EXPECT_EQ(meta.exit_code, 2);
  EXPECT_NE(meta.out.find("cloud metadata"), std::string::npos) << meta.out;
  RunResult allowed = RunStele({"alerts", "check", "https://8.8.8.8/hook"});
  EXPECT_EQ(allowed.exit_code, 0) << allowed.out;
  EXPECT_EQ(allowed.out, "allowed (8.8.8.8 port 443)\n");
  RunResult listed = RunStele({"alerts", "check", "--allow", "127.0.0.1:9000", "http://127.0.0.1:9000/x"});
  EXPECT_EQ(listed.exit_code, 0);
  EXPECT_EQ(listed.out.rfind("allowed (allowlisted; 127.0.0.1 port 9000)", 0), 0u) << listed.out;
}

TEST(CliProfile, AppendTakesAProfileAndRefusesAnUnknownOne) {
  test::TempDir dir;
  RunResult ok = RunStele({"append", "--dir", dir.path(), "--profile", "storage-optimized"},
                          "{\"type\":\"a.b\"}\n");
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  RunResult bad = RunStele({"append", "--dir", dir.path(), "--profile", "fastest"}, "{\"type\":\"a.b\"}\n");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("profile \"fastest\": want high-throughput, low-latency, storage-optimized or lookup-optimized"),
            std::string::npos)
      << bad.err;
}

// The lookup-optimized profile brings its own segment size (its runs are
// written at seal, so the active segment's share of a lookup is bounded by
// it); `stele append` leaves it alone unless --segment-max is given, which
// then wins.  (Seeing the 16 MiB seal through the CLI would take some 600k
// events; the profile's value is checked directly instead.)
TEST(CliProfile, LookupOptimizedSealsAtItsSegmentSizeUnlessSegmentMaxIsGiven) {
  Options o;
  ASSERT_TRUE(ApplyProfile("lookup-optimized", &o).ok());
  EXPECT_EQ(o.segment_max_bytes, 16ull << 20);
  EXPECT_EQ(o.lead_run_min_events, 8u);

  RunResult gen = RunStele({"bench", "generate", "--events", "40000"});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  test::TempDir profile_only, with_flag;
  RunResult a = RunStele({"append", "--dir", profile_only.path(), "--profile", "lookup-optimized"}, gen.out);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(test::SegmentFiles(profile_only.path()).size(), 1u) << "11 MB of events fit one 16 MiB segment";
  RunResult b = RunStele(
      {"append", "--dir", with_flag.path(), "--profile", "lookup-optimized", "--segment-max", "256K"}, gen.out);
  ASSERT_EQ(b.exit_code, 0) << b.err;
  const auto segments = test::SegmentFiles(with_flag.path());
  ASSERT_GE(segments.size(), 3u);
  // The profile's runs are written for the sealed ones.
  EXPECT_TRUE(std::filesystem::exists(segments[0].substr(0, segments[0].size() - 4) + ".lrun")) << segments[0];
  EXPECT_EQ(RunStele({"verify", "--dir", with_flag.path()}).exit_code, 0);
}

// `stele import` of real audit logs, gzipped or not, and `stele export` of
// what landed to a zstd file that imports back into another log unchanged.
TEST(CliTransfer, ImportReportsRefusedRecordsByFileAndLineAndExportImportsBackUnchanged) {
  const std::string corpus = STELE_CORPUS_DIR;
  const std::string k8s = corpus + "/k8s_audit_events/events.ndjson";
  const std::string malformed = corpus + "/k8s_audit_events/malformed_edge_cases.ndjson";
  const std::string perfspec = corpus + "/k8s_audit_perfspec_fieldsubset/events.ndjson";
  TempDir io, first, second;
  const std::string k8s_gz = io.Sub("k8s.ndjson.gz");
  {
    auto w = CompressedWriter::Create(k8s_gz, false);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Write(test::ReadFileBytes(k8s)).ok());
    ASSERT_TRUE((*w)->Finish().ok());
  }
  const size_t k8s_records = Lines(test::ReadFileBytes(k8s)), perfspec_records = Lines(test::ReadFileBytes(perfspec));

  RunResult r = RunStele({"--dir", first.path(), "import", k8s_gz, malformed, perfspec});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const size_t landed = k8s_records + perfspec_records;
  EXPECT_EQ(r.out, "{\"appended\":" + std::to_string(landed) + ",\"first_seq\":1,\"last_seq\":" +
                       std::to_string(landed) + ",\"rejected\":1}\n");
  EXPECT_EQ(r.err, malformed + ":1: record: not a stele event, Kubernetes audit event or CloudTrail record (use "
                               "--format json with --type or --type-from)\n");

  const std::string exported = io.Sub("k8s-export.ndjson.zst");
  r = RunStele({"--dir", first.path(), "export", "--type", "k8s.*", "-o", exported});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"exported\":" + std::to_string(landed) + ",\"first_seq\":1,"), std::string::npos) << r.out;
  r = RunStele({"--dir", first.path(), "export", "-o", exported});
  EXPECT_EQ(r.exit_code, 2) << "an existing file is kept";
  EXPECT_NE(r.err.find("--force"), std::string::npos) << r.err;

  r = RunStele({"--dir", second.path(), "import", exported});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto a = test::QueryAll(first.path(), {}), b = test::QueryAll(second.path(), {});
  a.erase(std::remove_if(a.begin(), a.end(), [](const test::StoredEvent& e) { return e.type.starts_with("security."); }),
          a.end());
  ASSERT_EQ(a.size(), landed);
  ASSERT_EQ(b.size(), landed);
  for (size_t i = 0; i < landed; ++i) {
    b[i].seq = a[i].seq;
    ASSERT_EQ(a[i], b[i]) << i;
  }
  // Export to stdout is the query's NDJSON.
  r = RunStele({"--dir", second.path(), "export", "--type", "k8s.watch"});
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, RunStele({"--dir", second.path(), "query", "--type", "k8s.watch", "--format", "ndjson"}).out);
  EXPECT_GT(Lines(r.out), 100u);
}

TEST(CliTransfer, ImportOpensEveryFileBeforeAnythingLandsAndReadsStdin) {
  TempDir io, dir;
  RunResult r = RunStele({"--dir", dir.path(), "import", "-", io.Sub("missing.gz")}, "{\"type\":\"a\"}\n");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("missing.gz"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("segments"))) << "nothing was loaded";
  // stdin, with a json mapping, a refused line, a blank one and one too long.
  const std::string input = "{\"kind\":\"login\",\"who\":\"ana\"}\n\n{\"who\":\"bob\"}\n{\"kind\":\"x\",\"pad\":\"" +
                            std::string(2 << 20, 'p') + "\"}\n{\"kind\":\"Log Out\",\"who\":\"ana\"}\n";
  r = RunStele({"--dir", dir.path(), "import", "--format", "json", "--type", "app", "--type-from", "/kind",
                "--actor-from", "/who", "-"},
               input);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.out, "{\"appended\":2,\"first_seq\":1,\"last_seq\":2,\"rejected\":2}\n");
  EXPECT_NE(r.err.find("<stdin>:3: field \"/kind\": missing"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("<stdin>:4: "), std::string::npos) << r.err.substr(0, 300);
  EXPECT_EQ(Lines(r.err), 2u) << r.err.substr(0, 500);
  Query app;
  app.type = "app.*";  // not the security.validation_failed the refusal recorded
  const auto events = test::QueryAll(dir.path(), app);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, "app.login");
  EXPECT_EQ(events[0].actor, "ana");
  EXPECT_EQ(events[1].type, "app.log_out");
  EXPECT_EQ(events[1].data, "{\"kind\":\"Log Out\",\"who\":\"ana\"}");
  // A CloudTrail file as delivered (one document of Records), gzipped; a
  // refused record is named by its line and place in it.
  const std::string trail = io.Sub("123456789012_CloudTrail_us-east-1_20261207T0000Z_x.json.gz");
  {
    auto w = CompressedWriter::Create(trail, false);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Write(R"({"Records":[{"eventName":"ConsoleLogin","eventSource":"signin.amazonaws.com",)"
                            R"("eventTime":"2026-12-07T00:00:01Z","userIdentity":{"arn":"arn:aws:iam::1:user/ana"}},)"
                            R"({"eventSource":"s3.amazonaws.com"},)"
                            R"({"eventName":"GetObject","eventSource":"s3.amazonaws.com","eventTime":"2026-12-07T00:00:02Z"}]})")
                    .ok());
    ASSERT_TRUE((*w)->Finish().ok());
  }
  TempDir trail_dir;
  r = RunStele({"--dir", trail_dir.path(), "import", trail});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "{\"appended\":2,\"first_seq\":1,\"last_seq\":2,\"rejected\":1}\n");
  EXPECT_EQ(r.err, trail + ":1: record 2: record: not a stele event, Kubernetes audit event or CloudTrail record "
                           "(use --format json with --type or --type-from)\n");
  const auto trail_events = test::QueryAll(trail_dir.path(), {});
  ASSERT_EQ(trail_events.size(), 2u);
  EXPECT_EQ(trail_events[0].type, "cloudtrail.consolelogin");
  EXPECT_EQ(trail_events[0].actor, "arn:aws:iam::1:user/ana");
  EXPECT_EQ(trail_events[1].type, "cloudtrail.getobject");

  r = RunStele({"--dir", dir.path(), "import", "--format", "json", "-"}, "{}\n");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--type"), std::string::npos) << r.err;
}

// An export of the whole log, a signed checkpoint and the verifier key are
// enough to prove the file is the log's first N events: any change fails.
TEST(CliTransfer, AWholeLogExportVerifiesAgainstASignedCheckpointAndAnyChangeFails) {
  TempDir dir, other, io;
  std::string events;
  for (int i = 0; i < 3000; ++i) {
    events += R"({"type":"lead.step","lead_id":"L)" + std::to_string(i % 97) + R"(","data":{"i":)" +
              std::to_string(i) + R"(,"note":"x y"}})" "\n";
  }
  ASSERT_EQ(RunStele({"--dir", dir.path(), "append"}, events).exit_code, 0);
  RunResult cp = RunStele({"--dir", dir.path(), "checkpoint"});
  ASSERT_EQ(cp.exit_code, 0);
  test::WriteFileBytes(io.Sub("log.cp"), cp.out);
  const std::string key = RunStele({"--dir", dir.path(), "checkpoint", "--public-key"}).out;
  ASSERT_FALSE(key.empty());
  ASSERT_EQ(RunStele({"--dir", dir.path(), "append"}, events.substr(0, events.find('\n') + 1)).exit_code, 0);
  ASSERT_EQ(RunStele({"--dir", dir.path(), "export", "-o", io.Sub("all.ndjson.gz")}).exit_code, 0);
  ASSERT_EQ(RunStele({"--dir", dir.path(), "export", "-o", io.Sub("all.ndjson")}).exit_code, 0);
  const std::string key_line = key.substr(0, key.find('\n'));

  // No data directory needed: the file, the checkpoint and the key.
  auto verify = [&](const std::string& file, const std::string& checkpoint = "") {
    return RunStele({"--dir", other.path(), "verify", "--export", file, "--against",
                     checkpoint.empty() ? io.Sub("log.cp") : checkpoint, "--key", key_line});
  };
  RunResult r = verify(io.Sub("all.ndjson.gz"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(R"("events":3001,"covered":3000,"events_past_checkpoint":1)"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(other.Sub("segments")));

  const std::string plain = test::ReadFileBytes(io.Sub("all.ndjson"));
  std::vector<std::string> lines;
  for (size_t pos = 0; pos < plain.size();) {
    const size_t nl = plain.find('\n', pos);
    lines.push_back(plain.substr(pos, nl - pos));
    pos = nl + 1;
  }
  ASSERT_EQ(lines.size(), 3001u);
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& l : v) s += l + "\n";
    return s;
  };
  auto fails = [&](const std::vector<std::string>& v, const std::string& says) {
    test::WriteFileBytes(io.Sub("changed.ndjson"), join(v));
    RunResult got = verify(io.Sub("changed.ndjson"));
    EXPECT_EQ(got.exit_code, 1) << says;
    EXPECT_NE(got.err.find(says), std::string::npos) << got.err;
  };
  std::vector<std::string> changed = lines;
  changed[1500].replace(changed[1500].find("x y"), 3, "x z");  // one data byte
  fails(changed, "the root of the first 3000 events is");
  changed = lines;
  changed[10].replace(changed[10].find("lead.step"), 9, "lead.stop");
  fails(changed, "the root of the first 3000 events is");
  changed = lines;
  changed.erase(changed.begin() + 7);
  fails(changed, "verify FAILED at seq 8: line 8 holds seq 9 where seq 8 belongs");
  changed = lines;
  std::swap(changed[20], changed[21]);
  fails(changed, "at seq 21:");
  changed = std::vector<std::string>(lines.begin(), lines.begin() + 2999);
  fails(changed, "the export ends at seq 2999; the checkpoint covers 3000 events");
  // After the checkpoint's size the export is not covered, and says so.
  changed = lines;
  changed[3000].replace(changed[3000].find("lead.step"), 9, "lead.stop");
  test::WriteFileBytes(io.Sub("past.ndjson"), join(changed));
  r = verify(io.Sub("past.ndjson"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(R"("events_past_checkpoint":1)"), std::string::npos);
  // A filtered export is not the log's first N events.
  ASSERT_EQ(RunStele({"--dir", dir.path(), "export", "--lead", "L5", "-o", io.Sub("l5.ndjson")}).exit_code, 0);
  r = verify(io.Sub("l5.ndjson"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("a filtered or partial export"), std::string::npos) << r.err;
  // A checkpoint another key signed proves nothing.
  TempDir stranger;
  ASSERT_EQ(RunStele({"--dir", stranger.path(), "append"}, events).exit_code, 0);
  test::WriteFileBytes(io.Sub("stranger.cp"), RunStele({"--dir", stranger.path(), "checkpoint"}).out);
  r = verify(io.Sub("all.ndjson"), io.Sub("stranger.cp"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("stranger.cp"), std::string::npos) << r.err;
  r = RunStele({"--dir", dir.path(), "verify", "--export", io.Sub("all.ndjson")});
  EXPECT_EQ(r.exit_code, 2) << "needs --against";
}

}  // namespace
}  // namespace stele
