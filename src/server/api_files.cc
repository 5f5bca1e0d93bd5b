// Api's data-file endpoints (issue 6): sealed segments and checkpoints for
// backup, by name, never by path.  A name is accepted only when it matches
// its file grammar exactly (20 digits + ".seg" / ".cp"); anything else is a
// 400 and a security.path_rejected event, and the file is then opened
// through the data directory's ConfinedEnv, so neither a crafted name nor a
// symlink planted in the directory can serve a file from elsewhere.
#include <memory>

#include "integrity/checkpoint.h"
#include "server/api.h"
#include "storage/format.h"
#include "storage/segment_list.h"
#include "storage/segment_reader.h"
#include "util/confined_env.h"
#include "util/json_escape.h"

namespace stele {
namespace {

constexpr std::string_view kSegmentsPrefix = "/v1/segments/";
constexpr std::string_view kCheckpointsPrefix = "/v1/checkpoints/";

}  // namespace

bool Api::HasTraversal(std::string_view path) {
  if (path.find('\0') != std::string_view::npos || path.find('\\') != std::string_view::npos) return true;
  for (size_t start = 0; start <= path.size();) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    const std::string_view c = path.substr(start, slash - start);
    if (c == "." || c == "..") return true;
    start = slash + 1;
  }
  return false;
}

HttpResponse Api::RejectPath(const HttpRequest& req, std::string_view subject_kind, std::string_view subject,
                             std::string_view why) {
  // The target as received (before %-decoding) says what was tried.
  const std::string_view raw = std::string_view(req.target).substr(0, req.target.find('?'));
  log_->ReportSecurityIncident("security.path_rejected", subject_kind, subject, raw.substr(0, 200), "path");
  return JsonError(400, "invalid_path", std::string(why));
}

HttpResponse Api::ListDataFiles(bool segments) {
  ConfinedEnv env(dir_);
  std::string body;
  if (segments) {
    const std::string seg_dir = dir_ + "/" + std::string(format::kSegmentsDir);
    auto firsts = ListSegments(&env, seg_dir);
    if (!firsts.ok()) return FromStatus(firsts.status());
    body = "{\"segments\":[";
    for (size_t i = 0; i < firsts->size(); ++i) {
      const uint64_t first = (*firsts)[i];
      auto reader = SegmentReader::Open(&env, seg_dir + "/" + format::SegmentFileName(first), first);
      if (!reader.ok()) continue;  // removed by retention since the listing
      body += std::string(i ? "," : "") + "{\"name\":\"" + format::SegmentFileName(first) +
              "\",\"first_seq\":" + std::to_string(first) + ",\"sealed\":" + ((*reader)->sealed() ? "true" : "false") +
              ",\"bytes\":" + std::to_string((*reader)->sealed() ? (*reader)->file_size() : 0) + "}";
    }
    body += "]}";
  } else {
    auto sizes = ListCheckpoints(&env, dir_);
    if (!sizes.ok()) return FromStatus(sizes.status());
    body = "{\"checkpoints\":[";
    for (size_t i = 0; i < sizes->size(); ++i) {
      body += std::string(i ? "," : "") + "{\"name\":\"" + CheckpointFileName((*sizes)[i]) +
              "\",\"tree_size\":" + std::to_string((*sizes)[i]) + "}";
    }
    body += "]}";
  }
  return JsonResponse(200, std::move(body));
}

HttpResponse Api::GetDataFile(const HttpRequest& req, const std::string& who, bool segment) {
  const std::string_view prefix = segment ? kSegmentsPrefix : kCheckpointsPrefix;
  const std::string name = req.path.substr(prefix.size());
  uint64_t number = 0;
  if (segment ? !format::ParseSegmentFileName(name, &number) : !ParseCheckpointFileName(name, &number)) {
    return RejectPath(req, "key", who,
                      segment ? "a segment name is 20 digits and \".seg\" (GET /v1/segments lists them)"
                              : "a checkpoint name is 20 digits and \".cp\" (GET /v1/checkpoints lists them)");
  }
  ConfinedEnv env(dir_);
  const std::string path = dir_ + "/" + std::string(segment ? format::kSegmentsDir : "checkpoints") + "/" + name;
  std::shared_ptr<RandomAccessFile> file;
  uint64_t size = 0;
  if (segment) {
    auto reader = SegmentReader::Open(&env, path, number);
    if (!reader.ok()) {
      if (reader.status().code() == StatusCode::kNotFound) return JsonError(404, "not_found", "no segment " + name);
      return FromStatus(reader.status());
    }
    if (!(*reader)->sealed()) {
      return JsonError(409, "not_sealed", "segment " + name + " is the active one; only sealed segments are served");
    }
    size = (*reader)->file_size();
  }
  auto f = env.OpenReadable(path);
  if (!f.ok() && f.status().code() == StatusCode::kPermissionDenied) {
    // A symlink planted in the data directory: someone with write access there.
    log_->ReportSecurityIncident("security.path_rejected", "key", who, "planted symlink: " + name, "path");
  }
  if (!f.ok()) {
    if (f.status().code() == StatusCode::kNotFound) return JsonError(404, "not_found", "no " + std::string(segment ? "segment " : "checkpoint ") + name);
    return FromStatus(f.status());
  }
  if (!segment) {
    auto s = (*f)->Size();
    if (!s.ok()) return FromStatus(s.status());
    size = *s;
  }
  file = std::move(f).value();
  HttpResponse r;
  r.content_type = segment ? "application/octet-stream" : "text/plain; charset=utf-8";
  r.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + name + "\"");
  r.headers.emplace_back("X-Stele-File-Bytes", std::to_string(size));
  // Streamed in 1 MiB chunks; the open descriptor keeps the bytes readable
  // even if retention removes the segment meanwhile.
  auto offset = std::make_shared<uint64_t>(0);
  r.stream = [file, offset, size](std::string* out, bool) {
    if (*offset >= size) return StreamStep::kEnd;
    const size_t n = static_cast<size_t>(std::min<uint64_t>(size - *offset, 1u << 20));
    const size_t at = out->size();
    out->resize(at + n);
    size_t got = 0;
    if (!file->Read(*offset, n, out->data() + at, &got).ok() || got == 0) {
      out->resize(at);
      return StreamStep::kEnd;  // the client sees a short body against X-Stele-File-Bytes
    }
    out->resize(at + got);
    *offset += got;
    return StreamStep::kData;
  };
  return r;
}

}  // namespace stele
