// Real audit logs from ../shared/corpus, wrapped as stele events: their data
// must come back byte-exact, and malformed records must be rejected cleanly.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <simdjson.h>

#include "test_util.h"

namespace stele {
namespace {

const std::string kCorpus = STELE_CORPUS_DIR;

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

// Quotes s as a JSON string (corpus actors are plain printable text).
std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

// Wraps a vendor record as {"type":"<prefix>.<verb or event>","actor":...,"data":<record>}.
std::string Wrap(const std::string& prefix, const std::string& record) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string type = prefix + ".record";
  std::string actor;
  if (!parser.parse(record).get(doc)) {
    std::string_view v;
    if (!doc["verb"].get(v)) type = prefix + "." + std::string(v);
    if (!doc["eventName"].get(v)) type = prefix + "." + std::string(v);
    if (!doc["user"]["username"].get(v)) actor = std::string(v);
    if (!doc["userIdentity"]["arn"].get(v)) actor = std::string(v);
  }
  for (char& c : type) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.')) c = '_';
  }
  if (type.size() > 64) type.resize(64);
  std::string event = "{\"type\":" + Quote(type);
  if (!actor.empty() && actor.size() <= 256) event += ",\"actor\":" + Quote(actor);
  return event + ",\"data\":" + record + "}";
}

TEST(Corpus, RealAuditRecordsRoundTripByteExact) {
  ASSERT_TRUE(std::filesystem::exists(kCorpus)) << kCorpus << " is missing (the shared corpus must sit beside the repo)";
  size_t total = 0;
  for (const char* set : {"k8s_audit_perfspec_fieldsubset", "panther_vendor_audit_samples",
                          "otrf_cloud_identity_linux_samples", "k8s_audit_events"}) {
    test::TempDir dir;
    Options o;
    o.dir = dir.path();
    o.segment_max_bytes = 1 << 20;
    const auto records = ReadLines(kCorpus + "/" + set + "/events.ndjson");
    ASSERT_FALSE(records.empty()) << set;
    std::string prefix = std::string(set).substr(0, std::string(set).find('_'));
    {
      auto log = Log::Open(o);
      ASSERT_TRUE(log.ok());
      std::string batch;
      for (const auto& r : records) batch += Wrap(prefix, r) + "\n";
      auto result = (*log)->AppendBatch(batch);
      ASSERT_TRUE(result.ok());
      for (const auto& rej : result->rejected) ADD_FAILURE() << set << " line " << rej.line << ": " << rej.status.ToString();
      ASSERT_EQ(result->appended, records.size()) << set;
      ASSERT_TRUE((*log)->Shutdown().ok());
    }
    auto events = test::QueryAll(dir.path(), {});
    ASSERT_EQ(events.size(), records.size());
    for (size_t i = 0; i < records.size(); ++i) ASSERT_EQ(events[i].data, records[i]) << set << " record " << i;
    total += records.size();
  }
  EXPECT_GT(total, 19000u);
}

TEST(Corpus, MalformedEdgeCasesAreRejectedCleanly) {
  const auto lines = ReadLines(kCorpus + "/k8s_audit_events/malformed_edge_cases.ndjson");
  ASSERT_FALSE(lines.empty());
  test::TempDir dir;
  Options o;
  o.dir = dir.path();
  auto log = Log::Open(o);
  ASSERT_TRUE(log.ok());
  for (const auto& line : lines) {
    auto r = (*log)->Append(line);
    ASSERT_FALSE(r.ok()) << line;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("field \""), std::string::npos) << r.status().message();
  }
  ASSERT_TRUE((*log)->Append(R"({"type":"still.works"})").ok());
}

}  // namespace
}  // namespace stele
