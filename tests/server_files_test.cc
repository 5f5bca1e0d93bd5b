// The data-file endpoints (issue 6): GET /v1/segments/{name} and
// /v1/checkpoints/{name} serve exactly the named file of the data directory
// and nothing else, whatever the name's spelling, and record every
// rejected name as a security.path_rejected event.
#include <filesystem>

#include "server_fixture.h"
#include "stele/stele.h"
#include "workload/generator.h"

namespace stele {
namespace {

namespace fs = std::filesystem;
using test::HttpClient;
using test::HttpReply;

constexpr std::string_view kMarker = "OUTSIDE-MARKER-7f3a";

// Names that must never reach a file: traversal in every encoding, absolute
// paths, NULs, overlong UTF-8, other files of the data directory, and names
// one character off the grammar.  "SUF" becomes ".seg" or ".cp".
const std::vector<std::string> kBadNames = {
    "..",
    "../",
    "../../etc/passwd",
    "..%2f..%2fetc%2fpasswd",
    "%2e%2e",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%2E%2E/%2E%2E/etc/passwd",
    "..%5c..%5cetc%5cpasswd",
    "%5c..%5c..%5cwindows%5cwin.ini",
    "%252e%252e%252fetc%252fpasswd",
    "%c0%ae%c0%ae/etc/passwd",
    "%c0%ae%c0%ae%c0%afetc%c0%afpasswd",
    "%e0%80%ae%e0%80%ae%2fetc",
    "%00",
    "00000000000000000001SUF%00",
    "00000000000000000001SUF%00.txt",
    "%2fetc%2fpasswd",
    "/etc/passwd",
    "./00000000000000000001SUF",
    "00000000000000000001SUF/",
    "00000000000000000001SUF/..",
    "00000000000000000001SUF%2f..%2f..%2fLOCK",
    "..%2fkeys%2fcheckpoint.key",
    "../keys/checkpoint.key",
    "..%2fkeys%2fapi-keys",
    "..%2f..%2foutside%2fmarker",
    "LOCK",
    "keys%2fcheckpoint.key",
    "~%2f.ssh%2fid_rsa",
    "0000000000000000001SUF",
    "000000000000000000001SUF",
    "0000000000000000000aSUF",
    "-0000000000000000001SUF",
    "+0000000000000000001SUF",
    "%200000000000000000001SUF",
    "00000000000000000001SUF%20",
    "00000000000000000001.SEG",
    "00000000000000000001SUF.tmp",
    "00000000000000000001.idx",
    "00000000000000000001.fidx",
    "99999999999999999999SUF",
    "file:%2f%2f%2fetc%2fpasswd",
    "....%2f%2f....%2f%2fetc",
    "..;%2f..;%2fetc%2fpasswd",
    "%09",
    "",
};

class ServerFiles : public Server {
 protected:
  void SetUp() override {
    fs::create_directories(dir_.Sub("outside"));
    test::WriteFileBytes(dir_.Sub("outside/marker"), std::string(kMarker));
    // Small segments and frequent checkpoints: several sealed segments.
    Start(Config("[log]\nsegment_max_bytes = 65536\nsecurity_interval = \"1h\"\n"));
    HttpClient c(server_->port());
    WorkloadGenerator gen(WorkloadGenerator::Config{});
    // One batch per request, and the segment rotates between batches.
    for (uint64_t chunk = 0; chunk < 4; ++chunk) {
      std::string body;
      for (uint64_t k = chunk * 5000; k < (chunk + 1) * 5000; ++k) body += gen.Event(k) + "\n";
      ASSERT_EQ(c.Request("POST", "/v1/events?wait=durable", body, {{"Content-Type", "application/x-ndjson"}}).status,
                200);
    }
    ASSERT_EQ(c.Request("GET", "/v1/checkpoint").status, 200);  // signs one now
  }
};

TEST_F(ServerFiles, SealedSegmentsAndCheckpointsDownloadByteForByte) {
  HttpClient c(server_->port());
  HttpReply list = c.Request("GET", "/v1/segments");
  ASSERT_EQ(list.status, 200) << list.body;
  const auto files = test::SegmentFiles(data_);
  ASSERT_GE(files.size(), 3u);
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string name = fs::path(files[i]).filename();
    SCOPED_TRACE(name);
    EXPECT_NE(list.body.find("\"name\":\"" + name + "\""), std::string::npos) << list.body;
    HttpReply r = c.Request("GET", "/v1/segments/" + name);
    if (i + 1 == files.size()) {
      EXPECT_EQ(r.status, 409) << "the active segment is not served";
      EXPECT_NE(r.body.find("not_sealed"), std::string::npos);
      continue;
    }
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.headers["content-type"], "application/octet-stream");
    EXPECT_EQ(r.headers["x-stele-file-bytes"], std::to_string(test::FileSize(files[i])));
    EXPECT_TRUE(r.body == test::ReadFileBytes(files[i]));
  }
  EXPECT_EQ(c.Request("GET", "/v1/segments/00000000000000000002.seg").status, 404);

  HttpReply cps = c.Request("GET", "/v1/checkpoints");
  ASSERT_EQ(cps.status, 200);
  size_t served = 0;
  for (const auto& e : fs::directory_iterator(data_ + "/checkpoints")) {
    const std::string name = e.path().filename();
    if (!name.ends_with(".cp")) continue;
    EXPECT_NE(cps.body.find(name), std::string::npos);
    HttpReply r = c.Request("GET", "/v1/checkpoints/" + name);
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.body, test::ReadFileBytes(e.path()));
    ++served;
  }
  EXPECT_GE(served, 2u);
  EXPECT_EQ(c.Request("GET", "/v1/checkpoints/00000000000000000003.cp").status, 404);
}

TEST_F(ServerFiles, TraversalNamesAreRejectedAndRecorded) {
  ASSERT_GE(kBadNames.size(), 40u);
  HttpClient c(server_->port());
  size_t rejected = 0;
  for (const char* endpoint : {"/v1/segments/", "/v1/checkpoints/"}) {
    const std::string suffix = std::string_view(endpoint) == "/v1/segments/" ? ".seg" : ".cp";
    for (std::string name : kBadNames) {
      if (size_t at = name.find("SUF"); at != std::string::npos) name.replace(at, 3, suffix);
      SCOPED_TRACE(endpoint + name);
      HttpReply r = c.Request("GET", endpoint + name);
      EXPECT_EQ(r.status, 400) << r.body;
      EXPECT_EQ(r.body.find(kMarker), std::string::npos);
      EXPECT_EQ(r.body.find("PRIVATE+KEY"), std::string::npos);
      if (r.body.find("\"invalid_path\"") != std::string::npos) ++rejected;
    }
  }
  // Every name reached the handler (none was a protocol error) and was refused by it.
  EXPECT_EQ(rejected, 2 * kBadNames.size());
  EXPECT_EQ(c.Request("GET", "/healthz").status, 200);
  EXPECT_EQ(StopGracefully(), 0);
  Query q;
  q.type = "security.path_rejected";
  auto events = test::QueryAll(data_, q);
  ASSERT_FALSE(events.empty());
  EXPECT_LE(events.size(), 101u) << "aggregated, never one per request";
  uint64_t total = 0;
  for (const auto& e : events) {
    const size_t at = e.data.find("\"count\":");
    ASSERT_NE(at, std::string::npos) << e.data;
    total += std::strtoull(e.data.c_str() + at + 8, nullptr, 10);
  }
  EXPECT_EQ(total, 2 * kBadNames.size());
}

TEST_F(ServerFiles, ASymlinkPlantedAsACheckpointIsNotServed) {
  const std::string planted = data_ + "/checkpoints/09999999999999999998.cp";
  fs::create_symlink(dir_.Sub("outside/marker"), planted);
  HttpClient c(server_->port());
  HttpReply r = c.Request("GET", "/v1/checkpoints/09999999999999999998.cp");
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(r.body.find(kMarker), std::string::npos);
  EXPECT_NE(r.body.find("symlink"), std::string::npos) << r.body;
  fs::remove(planted);
  EXPECT_EQ(StopGracefully(), 0);
}

}  // namespace
}  // namespace stele
