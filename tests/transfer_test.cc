// What `stele import` and `stele export` are made of: compressed streams
// over real files (zlib, zstd), and the mapping of real audit records from
// ../shared/corpus into events, landed in a real log.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include <simdjson.h>

#include "event/import_mapping.h"
#include "test_util.h"
#include "util/compressed_stream.h"
#include "util/time.h"

namespace stele {
namespace {

using test::TempDir;

const std::string kCorpus = STELE_CORPUS_DIR;

// Text of many NDJSON-like lines, some repetitive and some random, so both
// codecs have work to do.
std::string SampleText(size_t bytes, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s;
  while (s.size() < bytes) {
    s += "{\"type\":\"step.done\",\"n\":" + std::to_string(rng() % 100000) + ",\"r\":\"";
    for (int i = 0; i < 20; ++i) s.push_back(static_cast<char>('a' + rng() % 26));
    s += "\"}\n";
  }
  return s;
}

std::string WriteCompressed(const std::string& path, const std::string& text, uint64_t seed) {
  auto w = CompressedWriter::Create(path, false);
  EXPECT_TRUE(w.ok()) << w.status().ToString();
  std::mt19937_64 rng(seed);
  for (size_t pos = 0; pos < text.size();) {  // writes of every size, some of them empty
    const size_t n = std::min<size_t>(text.size() - pos, rng() % 300000);
    EXPECT_TRUE((*w)->Write(std::string_view(text).substr(pos, n)).ok());
    pos += n;
  }
  EXPECT_TRUE((*w)->Finish().ok());
  return test::ReadFileBytes(path);
}

// Reads the whole content, in reads of varied sizes.
Result<std::string> ReadAll(const std::string& path, CompressedReader::Kind* kind = nullptr) {
  auto r = CompressedReader::Open(path);
  if (!r.ok()) return r.status();
  if (kind) *kind = (*r)->kind();
  std::mt19937_64 rng(7);
  std::string out, buf(1 << 20, '\0');
  while (true) {
    auto n = (*r)->Read(buf.data(), 1 + rng() % buf.size());
    if (!n.ok()) return n.status();
    if (*n == 0) break;
    out.append(buf.data(), *n);
  }
  EXPECT_EQ((*r)->consumed(), (*r)->file_size()) << "read to the end of the file";
  return out;
}

TEST(CompressedStream, ReadsBackWhatItWroteInEachCodec) {
  TempDir dir;
  const std::string text = SampleText(3 << 20, 1);
  const std::pair<const char*, CompressedReader::Kind> cases[] = {
      {"plain.ndjson", CompressedReader::Kind::kPlain},
      {"log.ndjson.gz", CompressedReader::Kind::kGzip},
      {"log.ndjson.zst", CompressedReader::Kind::kZstd},
  };
  for (const auto& [name, kind] : cases) {
    SCOPED_TRACE(name);
    const std::string stored = WriteCompressed(dir.Sub(name), text, 2);
    if (kind == CompressedReader::Kind::kPlain) EXPECT_EQ(stored, text);
    else EXPECT_LT(stored.size(), text.size() / 2) << "compressed";
    CompressedReader::Kind got_kind;
    auto back = ReadAll(dir.Sub(name), &got_kind);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(got_kind, kind) << "told by the magic number";
    EXPECT_TRUE(*back == text);
  }
  // The kind comes from the bytes, not the name.
  std::filesystem::rename(dir.Sub("log.ndjson.zst"), dir.Sub("misnamed.txt"));
  CompressedReader::Kind kind;
  auto back = ReadAll(dir.Sub("misnamed.txt"), &kind);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(kind, CompressedReader::Kind::kZstd);
  EXPECT_TRUE(*back == text);
  // An empty file is empty content.
  test::WriteFileBytes(dir.Sub("empty"), "");
  back = ReadAll(dir.Sub("empty"));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, "");
}

TEST(CompressedStream, ConcatenatedGzipMembersAndZstdFramesReadAsOneStream) {
  // As `cat day1.gz day2.gz > week.gz` makes.
  TempDir dir;
  const std::string a = SampleText(200 << 10, 3), b = SampleText(300 << 10, 4);
  for (const char* ext : {".gz", ".zst"}) {
    SCOPED_TRACE(ext);
    const std::string joined = WriteCompressed(dir.Sub(std::string("a") + ext), a, 5) +
                               WriteCompressed(dir.Sub(std::string("b") + ext), b, 6);
    test::WriteFileBytes(dir.Sub(std::string("ab") + ext), joined);
    auto back = ReadAll(dir.Sub(std::string("ab") + ext));
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_TRUE(*back == a + b);
  }
}

TEST(CompressedStream, ATruncatedOrDamagedStreamIsAnErrorNamingTheFile) {
  TempDir dir;
  const std::string text = SampleText(1 << 20, 8);
  for (const char* ext : {".gz", ".zst"}) {
    SCOPED_TRACE(ext);
    const std::string stored = WriteCompressed(dir.Sub(std::string("f") + ext), text, 9);
    const std::string truncated_path = dir.Sub(std::string("truncated") + ext);
    test::WriteFileBytes(truncated_path, stored.substr(0, stored.size() / 2));
    auto back = ReadAll(truncated_path);
    ASSERT_FALSE(back.ok()) << "a cut stream never reads as a short file";
    EXPECT_EQ(back.status().code(), StatusCode::kCorruption);
    EXPECT_NE(back.status().message().find(truncated_path), std::string::npos) << back.status().ToString();
    EXPECT_NE(back.status().message().find("truncated"), std::string::npos) << back.status().ToString();

    std::string flipped = stored;
    flipped[flipped.size() / 2] ^= 0x40;
    const std::string damaged_path = dir.Sub(std::string("damaged") + ext);
    test::WriteFileBytes(damaged_path, flipped);
    back = ReadAll(damaged_path);
    ASSERT_FALSE(back.ok()) << "a damaged stream is caught (gzip's CRC-32, zstd's checksum)";
    EXPECT_EQ(back.status().code(), StatusCode::kCorruption);
    EXPECT_NE(back.status().message().find(damaged_path), std::string::npos);
  }
  auto missing = CompressedReader::Open(dir.Sub("nope.gz"));
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

TEST(CompressedStream, AFileAppearsUnderItsNameOnlyOnceFinished) {
  TempDir dir;
  const std::string path = dir.Sub("out.ndjson.gz");
  {
    auto w = CompressedWriter::Create(path, false);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Write(SampleText(100 << 10, 10)).ok());
    EXPECT_FALSE(std::filesystem::exists(path)) << "not before Finish()";
  }
  EXPECT_FALSE(std::filesystem::exists(path)) << "abandoned: nothing under the name";
  EXPECT_TRUE(std::filesystem::is_empty(dir.path())) << "and no temporary file left behind";
  WriteCompressed(path, "x\n", 11);
  auto again = CompressedWriter::Create(path, false);
  ASSERT_FALSE(again.ok()) << "an existing file is not overwritten unasked";
  EXPECT_EQ(again.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(again.status().message().find("--force"), std::string::npos);
  again = CompressedWriter::Create(path, true);
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE((*again)->Write("y\n").ok());
  ASSERT_TRUE((*again)->Finish().ok());
  auto back = ReadAll(path);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, "y\n");
}

// --- mapping -----------------------------------------------------------------

std::vector<std::string> CorpusLines(const std::string& file, size_t first = 1, size_t count = SIZE_MAX) {
  std::ifstream in(kCorpus + "/" + file);
  std::vector<std::string> lines;
  std::string line;
  for (size_t n = 1; std::getline(in, line) && lines.size() < count; ++n) {
    if (n >= first && !line.empty()) lines.push_back(line);
  }
  return lines;
}

// The string at a pointer of a record, parsed here independently of the
// mapping; empty when absent.
std::string StringAt(const std::string& record, const char* pointer) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string_view v;
  if (parser.parse(record).get(doc) || doc.at_pointer(pointer).get(v)) return {};
  return std::string(v);
}

// Maps every record, appends the events to a real log and reads them back.
std::vector<test::StoredEvent> MapAndStore(const ImportMapping& mapping, const std::vector<std::string>& records,
                                           size_t* refused) {
  TempDir dir;
  Options o;
  o.dir = dir.path();
  auto log = Log::Open(o);
  EXPECT_TRUE(log.ok());
  *refused = 0;
  std::string event;
  for (const std::string& r : records) {
    Status s = mapping.Map(r, &event);
    if (!s.ok()) {
      ++*refused;
      continue;
    }
    auto seq = (*log)->Append(event);
    EXPECT_TRUE(seq.ok()) << seq.status().ToString() << "\n" << event.substr(0, 300);
  }
  EXPECT_TRUE((*log)->Shutdown().ok());
  return test::QueryAll(dir.path(), {});
}

TEST(ImportMapping, KubernetesAuditEventsKeepTheirRecordAndGetVerbUserAddressAndTime) {
  auto mapping = ImportMapping::Create(ImportMapping::Format::kK8s, {});
  ASSERT_TRUE(mapping.ok());
  for (const char* set : {"k8s_audit_events/events.ndjson", "k8s_audit_perfspec_fieldsubset/events.ndjson"}) {
    SCOPED_TRACE(set);
    const auto records = CorpusLines(set, 1, 3000);
    ASSERT_FALSE(records.empty());
    size_t refused = 0;
    const auto stored = MapAndStore(*mapping, records, &refused);
    EXPECT_EQ(refused, 0u);
    ASSERT_EQ(stored.size(), records.size());
    for (size_t i = 0; i < records.size(); ++i) {
      const std::string& r = records[i];
      ASSERT_EQ(stored[i].data, r) << "the record byte for byte";
      EXPECT_EQ(stored[i].type, ImportedTypeName("k8s", StringAt(r, "/verb")));
      EXPECT_EQ(stored[i].actor, StringAt(r, "/user/username"));
      EXPECT_EQ(stored[i].source, StringAt(r, "/sourceIPs/0"));
      std::string t = StringAt(r, "/requestReceivedTimestamp");
      if (t.empty()) t = StringAt(r, "/stageTimestamp");
      if (t.empty()) t = StringAt(r, "/timestamp");
      std::string why;
      ASSERT_FALSE(t.empty());
      EXPECT_EQ(stored[i].ts_ns, ParseRfc3339(t, &why).value_or(-1)) << t;
    }
  }
}

TEST(ImportMapping, CloudTrailRecordsGetEventNameArnAddressAndTimeOrAClearRefusal) {
  auto mapping = ImportMapping::Create(ImportMapping::Format::kCloudTrail, {});
  ASSERT_TRUE(mapping.ok());
  const auto records = CorpusLines("panther_vendor_audit_samples/events.ndjson", 1, 442);  // log_types.tsv
  ASSERT_EQ(records.size(), 442u);
  size_t refused = 0, expect_refused = 0;
  std::vector<std::string> landed;
  std::string event;
  for (const std::string& r : records) {
    const bool named = !StringAt(r, "/eventName").empty();
    const std::string t = StringAt(r, "/eventTime");
    const bool timed = t.empty() || ParseImportedTime(t).has_value();
    Status s = mapping->Map(r, &event);
    EXPECT_EQ(s.ok(), named && timed) << s.ToString() << "\n" << r.substr(0, 200);
    if (!named) {
      EXPECT_NE(s.message().find("field \"/eventName\""), std::string::npos) << s.ToString();
    } else if (!timed) {
      EXPECT_NE(s.message().find("field \"/eventTime\""), std::string::npos) << s.ToString();
    }
    if (!(named && timed)) ++expect_refused;
    else landed.push_back(r);
  }
  EXPECT_GT(landed.size(), 400u);
  const auto stored = MapAndStore(*mapping, landed, &refused);
  EXPECT_EQ(refused, 0u);
  ASSERT_EQ(stored.size(), landed.size());
  for (size_t i = 0; i < landed.size(); ++i) {
    EXPECT_EQ(stored[i].data, landed[i]);
    EXPECT_EQ(stored[i].type, ImportedTypeName("cloudtrail", StringAt(landed[i], "/eventName")));
    const std::string arn = StringAt(landed[i], "/userIdentity/arn");
    EXPECT_EQ(stored[i].actor, arn.size() <= 256 ? arn : "") << "a value no index can hold is left to the data";
    EXPECT_EQ(stored[i].source, StringAt(landed[i], "/sourceIPAddress"));
  }
  EXPECT_GT(expect_refused, 0u) << "the corpus holds records without a name or with a redacted time";
}

TEST(ImportMapping, TypeNamesAreLowercasedDottedAndCut) {
  EXPECT_EQ(ImportedTypeName("cloudtrail", "ConsoleLogin"), "cloudtrail.consolelogin");
  EXPECT_EQ(ImportedTypeName("github", "repo.create"), "github.repo.create");
  EXPECT_EQ(ImportedTypeName("x", "a b-c/D"), "x.a_b_c_d");
  EXPECT_EQ(ImportedTypeName("", ".a..b."), "a.b");
  EXPECT_EQ(ImportedTypeName("okta", "user.session.start"), "okta.user.session.start");
  EXPECT_EQ(ImportedTypeName("", "123"), "") << "a type starts with a letter";
  EXPECT_EQ(ImportedTypeName("", ""), "");
  const std::string cut = ImportedTypeName("p", std::string(100, 'q'));
  EXPECT_EQ(cut.size(), 64u);
  EXPECT_EQ(ImportedTypeName("p", std::string(61, 'q') + ".rrr").back(), 'q') << "no trailing dot after the cut";
}

TEST(ImportMapping, TimesInTheFormsLogsWriteAreRead) {
  std::string why;
  const int64_t utc = *ParseRfc3339("2024-05-01T12:00:00.5Z", &why);
  EXPECT_EQ(ParseImportedTime("2024-05-01T12:00:00.5Z"), utc);
  EXPECT_EQ(ParseImportedTime("2024-05-01 12:00:00.5"), utc) << "space, no offset: UTC";
  EXPECT_EQ(ParseImportedTime("2024-05-01T12:00:00.500"), utc);
  EXPECT_EQ(ParseImportedTime("2024-05-01 14:00:00.5+02:00"), utc);
  EXPECT_FALSE(ParseImportedTime("yesterday"));
  EXPECT_FALSE(ParseImportedTime("2024-05-01"));

  ImportMapping::Fields f;
  f.type = "app.event";
  f.ts_from = "/when";
  auto mapping = ImportMapping::Create(ImportMapping::Format::kJson, f);
  ASSERT_TRUE(mapping.ok());
  std::string event;
  ASSERT_TRUE(mapping->Map(R"({"when":"2024-05-01 12:00:00.5"})", &event).ok());
  EXPECT_EQ(event, R"({"type":"app.event","ts":)" + std::to_string(utc) + R"(,"data":{"when":"2024-05-01 12:00:00.5"}})");
  ASSERT_TRUE(mapping->Map(R"({"when":1714564800500000000})", &event).ok());
  EXPECT_NE(event.find(R"("ts":1714564800500000000)"), std::string::npos) << event;
  Status s = mapping->Map(R"({"when":"redacted"})", &event);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("field \"/when\""), std::string::npos) << s.ToString();
  s = mapping->Map(R"({"when":true})", &event);
  EXPECT_NE(s.message().find("field \"/when\""), std::string::npos) << s.ToString();
  f.ingest_time = true;
  mapping = ImportMapping::Create(ImportMapping::Format::kJson, f);
  ASSERT_TRUE(mapping->Map(R"({"when":"redacted"})", &event).ok()) << "--ingest-time takes no time from the record";
  EXPECT_EQ(event, R"({"type":"app.event","data":{"when":"redacted"}})");
}

TEST(ImportMapping, JsonRecordsTakeWhatTheirPointersName) {
  ImportMapping::Fields f;
  f.type = "okta";
  f.type_from = "/eventType";
  f.actor_from = "/actor/alternateId";
  f.lead_from = "/target/0/id";
  f.workflow_from = "/flow";
  auto mapping = ImportMapping::Create(ImportMapping::Format::kJson, f);
  ASSERT_TRUE(mapping.ok());
  std::string event;
  const std::string record =
      R"({"eventType":"user.session.start","actor":{"alternateId":"ana@example.com"},"target":[{"id":"L42"}],)"
      R"("flow":"wf\"1","n":1.50})";
  ASSERT_TRUE(mapping->Map("  " + record + "\r", &event).ok());
  EXPECT_EQ(event, R"({"type":"okta.user.session.start","actor":"ana@example.com","lead_id":"L42",)"
                   R"("workflow_id":"wf\"1","data":)" + record + "}");
  // Values an indexed field cannot hold are left to the data.
  ASSERT_TRUE(mapping->Map(R"({"eventType":"x","actor":{"alternateId":7},"target":[{"id":""}],"flow":"a\tb"})", &event).ok());
  EXPECT_EQ(event.find("\"actor\""), event.find("\"actor\":{")) << "only the record's own";
  EXPECT_EQ(event.find("lead_id"), std::string::npos);
  EXPECT_EQ(event.find("workflow_id"), std::string::npos);
  Status s = mapping->Map(R"({"type":"x"})", &event);
  EXPECT_NE(s.message().find("field \"/eventType\": missing"), std::string::npos) << s.ToString();
  EXPECT_FALSE(mapping->Map("[1,2]", &event).ok());
  EXPECT_FALSE(mapping->Map("{\"eventType\":", &event).ok());

  EXPECT_FALSE(ImportMapping::Create(ImportMapping::Format::kJson, {}).ok()) << "json needs a type";
  ImportMapping::Fields bad;
  bad.actor_from = "actor";
  auto refused = ImportMapping::Create(ImportMapping::Format::kK8s, bad);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("\"actor\""), std::string::npos);
}

TEST(ImportMapping, ExportedEventsLoseOnlyTheirSeqAndAutoTellsFormatsApart) {
  auto events = ImportMapping::Create(ImportMapping::Format::kEvents, {});
  auto autos = ImportMapping::Create(ImportMapping::Format::kAuto, {});
  ASSERT_TRUE(events.ok() && autos.ok());
  std::string out;
  const std::string exported = R"({"seq":12,"ts":"2026-01-01T00:00:00.000000000Z","type":"a.b","data":{"seq":1}})";
  for (const ImportMapping* m : {&*events, &*autos}) {
    ASSERT_TRUE(m->Map(exported, &out).ok());
    EXPECT_EQ(out, R"({"ts":"2026-01-01T00:00:00.000000000Z","type":"a.b","data":{"seq":1}})");
    ASSERT_TRUE(m->Map(R"({ "seq" : 5 , "type":"a"})", &out).ok());
    EXPECT_EQ(out, R"({ "type":"a"})");
    ASSERT_TRUE(m->Map(R"({"type":"a","seq":5})", &out).ok());
    EXPECT_EQ(out, R"({"type":"a","seq":5})") << "only a leading seq is the export's: the validator refuses this one";
  }
  const std::string k8s = CorpusLines("k8s_audit_events/events.ndjson", 1, 1)[0];
  const std::string perfspec = CorpusLines("k8s_audit_perfspec_fieldsubset/events.ndjson", 1, 1)[0];
  const std::string cloudtrail = CorpusLines("panther_vendor_audit_samples/events.ndjson", 1, 1)[0];
  ASSERT_TRUE(autos->Map(k8s, &out).ok());
  EXPECT_TRUE(out.starts_with(R"({"type":"k8s.create")")) << out.substr(0, 100);
  ASSERT_TRUE(autos->Map(perfspec, &out).ok());
  EXPECT_TRUE(out.starts_with(R"({"type":"k8s.watch")")) << out.substr(0, 100);
  ASSERT_TRUE(autos->Map(cloudtrail, &out).ok());
  EXPECT_TRUE(out.starts_with(R"({"type":"cloudtrail.updatefunctionconfiguration20150331v2")")) << out.substr(0, 100);
  const std::string malformed = CorpusLines("k8s_audit_events/malformed_edge_cases.ndjson")[0];
  Status s = autos->Map(malformed, &out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("--format json"), std::string::npos) << "says what to do instead";
}

TEST(ImportMapping, ACloudTrailFileOfRecordsIsItsRecords) {
  // CloudTrail delivers one document a file: {"Records":[...]}.
  auto cloudtrail = ImportMapping::Create(ImportMapping::Format::kCloudTrail, {});
  auto autos = ImportMapping::Create(ImportMapping::Format::kAuto, {});
  auto events = ImportMapping::Create(ImportMapping::Format::kEvents, {});
  ASSERT_TRUE(cloudtrail.ok() && autos.ok() && events.ok());
  const auto records = CorpusLines("panther_vendor_audit_samples/events.ndjson", 1, 5);
  const std::string tricky = R"({"eventName":"A]},{\"","eventSource":"s","x":[{"y":"]"}],"z":"\\"})";
  const std::string file = " { \"Records\" : [ " + records[0] + ",\n" + records[1] + " ,\t" + tricky + "," +
                           records[2] + "] } ";
  std::vector<std::string_view> got;
  for (const ImportMapping* m : {&*cloudtrail, &*autos}) {
    m->Records(file, &got);
    ASSERT_EQ(got.size(), 4u);
    EXPECT_EQ(got[0], records[0]);
    EXPECT_EQ(got[1], records[1]);
    EXPECT_EQ(got[2], tricky) << "brackets and quotes inside strings are not structure";
    EXPECT_EQ(got[3], records[2]);
    std::string event;
    ASSERT_TRUE(m->Map(got[2], &event).ok());
    EXPECT_TRUE(event.starts_with(R"({"type":"cloudtrail.a_____","data":)")) << event;
  }
  events->Records(file, &got);
  ASSERT_EQ(got.size(), 1u) << "other formats take the line as it is";
  EXPECT_EQ(got[0], file);
  // Not the file form: the line is one record.
  for (const std::string& line : {std::string(R"({"Records":[{"a":1}],"more":1})"), std::string(R"({"Records":[{"a":1})"),
                                  std::string(R"({"Records":{"a":1}})"), records[3]}) {
    cloudtrail->Records(line, &got);
    ASSERT_EQ(got.size(), 1u) << line;
    EXPECT_EQ(got[0], line);
  }
  cloudtrail->Records(R"({"Records":[]})", &got);
  EXPECT_TRUE(got.empty()) << "a file of no records holds none";
}

}  // namespace
}  // namespace stele
