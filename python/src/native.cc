// stele._native: the pybind11 binding of stele::Log for Python (issue 8).
//
// What it owns: one stele::Log per NativeLog, and per query iterator the
// engine's EventIterator.  What it promises:
//  * every call that can block (append on a full queue, flush, shutdown,
//    query steps, verify, stats) releases the GIL;
//  * every object may be used from many threads (the Log is thread-safe; an
//    iterator serializes its own steps);
//  * Python values cross as JSON built here in C++, never through
//    json.dumps/json.loads: ints of any size and floats keep their exact
//    values (floats are written with repr's shortest round-trip digits and
//    read back with Python's own float parser), str stays UTF-8.
// Errors are the exception classes of stele._errors: ValidationError (with
// .field and .reason), RateLimited, Busy, Closed, StoreError.
#include <pybind11/pybind11.h>

#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "stele/integrity.h"
#include "stele/stats.h"
#include "stele/stele.h"
#include "util/json_escape.h"
#include "util/time.h"

namespace py = pybind11;

namespace stele::python {
namespace {

// ---------------------------------------------------------------- errors

struct Errors {
  py::object validation, rate_limited, busy, closed, store;
};
Errors& Err() {
  static Errors* e = [] {
    py::module_ m = py::module_::import("stele._errors");
    return new Errors{m.attr("ValidationError"), m.attr("RateLimited"), m.attr("Busy"), m.attr("Closed"),
                      m.attr("StoreError")};
  }();
  return *e;
}

// A Python exception already set (PyErr_SetObject) is carried out by this.
[[noreturn]] void ThrowValidation(const std::string& field, const std::string& reason) {
  py::object exc = Err().validation("field \"" + field + "\": " + reason, field, reason);
  PyErr_SetObject(Err().validation.ptr(), exc.ptr());
  throw py::error_already_set();
}

[[noreturn]] void Throw(const Status& s) {
  if (s.code() == StatusCode::kInvalidArgument) {
    // "field \"data/x\": reason" or "event: reason" (the validator's forms).
    const std::string& m = s.message();
    std::string field = "event", reason = m;
    if (m.rfind("field \"", 0) == 0) {
      const size_t end = m.find("\": ", 7);
      if (end != std::string::npos) {
        field = m.substr(7, end - 7);
        reason = m.substr(end + 3);
      }
    } else if (const size_t colon = m.find(": "); colon != std::string::npos && colon < 40) {
      field = m.substr(0, colon);
      reason = m.substr(colon + 2);
    }
    ThrowValidation(field, reason);
  }
  py::object cls = s.code() == StatusCode::kRateLimited ? Err().rate_limited
                   : s.code() == StatusCode::kBusy      ? Err().busy
                   : s.code() == StatusCode::kClosed    ? Err().closed
                                                        : Err().store;
  PyErr_SetString(cls.ptr(), s.ToString().c_str());
  throw py::error_already_set();
}

template <typename T>
T Unwrap(Result<T>&& r) {
  if (!r.ok()) Throw(r.status());
  return std::move(r).value();
}

// ------------------------------------------------------- Python -> JSON

constexpr int kMaxNesting = 200;  // deeper than the engine accepts; stops self-referencing containers

void AppendPyJson(PyObject* o, std::string* out, std::string* path, int depth);

void AppendPyString(PyObject* o, std::string* out, const std::string& path) {
  Py_ssize_t n = 0;
  const char* s = PyUnicode_AsUTF8AndSize(o, &n);
  if (s == nullptr) {
    PyErr_Clear();
    ThrowValidation(path, "a string that is not valid Unicode (a lone surrogate?)");
  }
  AppendJsonString(std::string_view(s, static_cast<size_t>(n)), out);
}

void AppendPyJson(PyObject* o, std::string* out, std::string* path, int depth) {
  if (depth > kMaxNesting) ThrowValidation(*path, "nesting deeper than " + std::to_string(kMaxNesting));
  if (o == Py_None) {
    out->append("null");
  } else if (o == Py_True) {
    out->append("true");
  } else if (o == Py_False) {
    out->append("false");
  } else if (PyLong_Check(o)) {
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow == 0) {
      char buf[24];
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
      out->append(buf, static_cast<size_t>(end - buf));
    } else {  // a big int: its exact decimal digits
      PyObject* text = PyObject_Str(o);
      if (text == nullptr) throw py::error_already_set();
      Py_ssize_t n = 0;
      const char* s = PyUnicode_AsUTF8AndSize(text, &n);
      out->append(s, static_cast<size_t>(n));
      Py_DECREF(text);
    }
  } else if (PyFloat_Check(o)) {
    const double d = PyFloat_AS_DOUBLE(o);
    if (!std::isfinite(d)) ThrowValidation(*path, "NaN and Infinity are not JSON numbers");
    char* text = PyOS_double_to_string(d, 'r', 0, Py_DTSF_ADD_DOT_0, nullptr);
    if (text == nullptr) throw py::error_already_set();
    out->append(text);
    PyMem_Free(text);
  } else if (PyUnicode_Check(o)) {
    AppendPyString(o, out, *path);
  } else if (PyDict_Check(o)) {
    out->push_back('{');
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    bool first = true;
    const size_t path_len = path->size();
    while (PyDict_Next(o, &pos, &key, &value)) {
      if (!PyUnicode_Check(key)) {
        ThrowValidation(*path, std::string("keys must be strings, not ") + Py_TYPE(key)->tp_name);
      }
      if (!first) out->push_back(',');
      first = false;
      Py_ssize_t n = 0;
      const char* k = PyUnicode_AsUTF8AndSize(key, &n);
      if (k == nullptr) {
        PyErr_Clear();
        ThrowValidation(*path, "a key that is not valid Unicode");
      }
      AppendJsonString(std::string_view(k, static_cast<size_t>(n)), out);
      out->push_back(':');
      path->push_back('/');
      path->append(k, static_cast<size_t>(n));
      AppendPyJson(value, out, path, depth + 1);
      path->resize(path_len);
    }
    out->push_back('}');
  } else if (PyList_Check(o) || PyTuple_Check(o)) {
    out->push_back('[');
    const Py_ssize_t n = PySequence_Fast_GET_SIZE(o);
    PyObject** items = PySequence_Fast_ITEMS(o);
    const size_t path_len = path->size();
    for (Py_ssize_t i = 0; i < n; ++i) {
      if (i > 0) out->push_back(',');
      path->push_back('/');
      path->append(std::to_string(i));
      AppendPyJson(items[i], out, path, depth + 1);
      path->resize(path_len);
    }
    out->push_back(']');
  } else {
    ThrowValidation(*path, std::string("a ") + Py_TYPE(o)->tp_name + " is not JSON (use dict, list, str, int, float, bool or None)");
  }
}

// A timestamp argument: int ns, an RFC 3339 str, or an aware datetime.
int64_t TimeArg(const py::handle& v, const char* name) {
  if (PyLong_Check(v.ptr()) && !PyBool_Check(v.ptr())) return v.cast<int64_t>();
  if (PyUnicode_Check(v.ptr())) {
    std::string why;
    auto ns = ParseRfc3339(v.cast<std::string>(), &why);
    if (!ns) ThrowValidation(name, why);
    return *ns;
  }
  if (py::hasattr(v, "utcoffset") && py::hasattr(v, "isoformat")) {
    if (v.attr("utcoffset")().is_none()) ThrowValidation(name, "a naive datetime; give it a timezone");
    std::string why;
    auto ns = ParseRfc3339(v.attr("isoformat")().cast<std::string>(), &why);
    if (!ns) ThrowValidation(name, why);
    return *ns;
  }
  ThrowValidation(name, "want a datetime, nanoseconds since the epoch, or an RFC 3339 string");
}

void AppendOptionalField(std::string* out, const char* name, const py::object& v) {
  if (v.is_none()) return;
  if (!PyUnicode_Check(v.ptr())) ThrowValidation(name, std::string("must be a str, not ") + Py_TYPE(v.ptr())->tp_name);
  out->append(",\"");
  out->append(name);
  out->append("\":");
  AppendPyString(v.ptr(), out, name);
}

// ------------------------------------------------------- JSON -> Python

py::object ToPy(simdjson::ondemand::value v);

py::object NumberToPy(std::string_view token) {
  while (!token.empty() && (token.back() == ' ' || token.back() == '\n' || token.back() == '\r' || token.back() == '\t')) {
    token.remove_suffix(1);
  }
  const std::string text(token);
  PyObject* o = text.find_first_of(".eE") == std::string::npos ? PyLong_FromString(text.c_str(), nullptr, 10)
                                                              : PyFloat_FromString(py::str(text).ptr());
  if (o == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(o);
}

py::object ToPy(simdjson::ondemand::value v) {
  switch (v.type().value()) {
    case simdjson::ondemand::json_type::object: {
      py::dict d;
      for (auto field : v.get_object()) {
        std::string_view key = field.unescaped_key().value();
        d[py::str(key.data(), key.size())] = ToPy(field.value().value());
      }
      return d;
    }
    case simdjson::ondemand::json_type::array: {
      py::list l;
      for (auto element : v.get_array()) l.append(ToPy(element.value()));
      return l;
    }
    case simdjson::ondemand::json_type::string: {
      std::string_view s = v.get_string().value();
      return py::str(s.data(), s.size());
    }
    case simdjson::ondemand::json_type::number: return NumberToPy(v.raw_json_token());
    case simdjson::ondemand::json_type::boolean: return py::bool_(v.get_bool().value());
    case simdjson::ondemand::json_type::null: return py::none();
  }
  return py::none();
}

// Stored data is validated JSON: parsing it cannot fail but on corruption,
// which the reader reports before handing it out.
py::object DataToPy(std::string_view data, simdjson::ondemand::parser* parser, std::string* scratch) {
  scratch->assign(data);
  scratch->append(simdjson::SIMDJSON_PADDING, '\0');
  auto doc = parser->iterate(scratch->data(), data.size(), scratch->size());
  return ToPy(doc.get_value().value());
}

py::dict EventToPy(const EventView& e, simdjson::ondemand::parser* parser, std::string* scratch) {
  py::dict d;
  d["seq"] = py::int_(e.seq);
  d["ts"] = py::str(FormatRfc3339(e.ts_ns));
  d["type"] = py::str(e.type.data(), e.type.size());
  auto opt = [&](const char* name, std::string_view v) {
    if (!v.empty()) d[name] = py::str(v.data(), v.size());
  };
  opt("actor", e.actor);
  opt("source", e.source);
  opt("lead_id", e.lead_id);
  opt("workflow_id", e.workflow_id);
  if (!e.data.empty()) d["data"] = DataToPy(e.data, parser, scratch);
  return d;
}

// ------------------------------------------------------------- queries

Query QueryFromKwargs(const py::object& event_type, const py::kwargs& kw) {
  Query q;
  if (!event_type.is_none()) q.type = event_type.cast<std::string>();
  for (auto [k, v] : kw) {
    const std::string key = k.cast<std::string>();
    if (v.is_none()) continue;
    if (key == "actor") q.actor = v.cast<std::string>();
    else if (key == "source") q.source = v.cast<std::string>();
    else if (key == "lead_id") q.lead_id = v.cast<std::string>();
    else if (key == "workflow_id") q.workflow_id = v.cast<std::string>();
    else if (key == "since") q.since_ns = TimeArg(v, "since");
    else if (key == "until") q.until_ns = TimeArg(v, "until");
    else if (key == "regex") q.regex = v.cast<std::string>();
    else if (key == "regex_field") q.regex_field = v.cast<std::string>();
    else if (key == "limit") q.limit = v.cast<uint64_t>();
    else if (key == "desc") q.descending = v.cast<bool>();
    else if (key == "after") q.after = v.cast<uint64_t>();
    else if (key == "seq_from") q.seq_from = v.cast<uint64_t>();
    else if (key == "seq_to") q.seq_to = v.cast<uint64_t>();
    else if (key == "where") {
      // {"/status": "failed"}, or an iterable of "/ptr=value" or (ptr, value).
      if (py::isinstance<py::dict>(v)) {
        for (auto [p, val] : v.cast<py::dict>()) {
          q.where.emplace_back(p.cast<std::string>(), py::isinstance<py::str>(val) ? val.cast<std::string>()
                                                                                   : py::str(val).cast<std::string>());
        }
      } else {
        for (auto item : v) {
          if (py::isinstance<py::str>(item)) {
            const std::string s = item.cast<std::string>();
            const size_t eq = s.find('=');
            if (eq == std::string::npos) ThrowValidation("where", "\"" + s + "\": want /pointer=value");
            q.where.emplace_back(s.substr(0, eq), s.substr(eq + 1));
          } else {
            auto t = item.cast<py::tuple>();
            q.where.emplace_back(t[0].cast<std::string>(), t[1].cast<std::string>());
          }
        }
      }
    } else {
      PyErr_SetString(PyExc_TypeError, ("unexpected query argument \"" + key + "\"").c_str());
      throw py::error_already_set();
    }
  }
  return q;
}

// A lazy iterator of event dicts.  One step at a time (a mutex), the GIL
// released while the engine reads and decompresses.
class EventIter {
 public:
  explicit EventIter(std::unique_ptr<EventIterator> it) : it_(std::move(it)) {}
  py::dict Next() {
    std::unique_lock<std::mutex> lock(mu_, std::defer_lock);
    bool got;
    {
      py::gil_scoped_release nogil;
      lock.lock();
      got = it_ && it_->Next(&event_);
    }
    if (!got) {
      if (it_ && !it_->status().ok()) Throw(it_->status());
      it_.reset();  // frees the frame it held
      throw py::stop_iteration();
    }
    return EventToPy(event_, &parser_, &scratch_);
  }

 private:
  std::mutex mu_;
  std::unique_ptr<EventIterator> it_;
  EventView event_;
  simdjson::ondemand::parser parser_;
  std::string scratch_;
};

// ------------------------------------------------------------------ Log

void ApplyOption(Options* o, const std::string& key, const py::handle& v) {
  auto ms = [&](const char* what) {
    const double s = v.cast<double>();
    if (s < 0) ThrowValidation(key, std::string("must be >= 0 ") + what);
    return s;
  };
  if (key == "queue_bytes") o->queue_bytes = v.cast<size_t>();
  else if (key == "enqueue_deadline") o->enqueue_deadline = std::chrono::milliseconds(static_cast<int64_t>(ms("seconds") * 1000));
  else if (key == "max_event_bytes") o->max_event_bytes = v.cast<size_t>();
  else if (key == "max_depth") o->max_depth = v.cast<int>();
  else if (key == "max_object_keys") o->max_object_keys = v.cast<size_t>();
  else if (key == "max_string_bytes") o->max_string_bytes = v.cast<size_t>();
  else if (key == "segment_max_bytes") o->segment_max_bytes = v.cast<uint64_t>();
  else if (key == "frame_target_bytes") o->frame_target_bytes = v.cast<size_t>();
  else if (key == "zstd_level") o->zstd_level = v.cast<int>();
  else if (key == "batch_commit_delay") o->batch_commit_delay = std::chrono::microseconds(static_cast<int64_t>(ms("seconds") * 1e6));
  else if (key == "retention_max_age") o->retention_max_age = std::chrono::seconds(static_cast<int64_t>(ms("seconds")));
  else if (key == "retention_max_bytes") o->retention_max_bytes = v.cast<uint64_t>();
  else if (key == "source_rate") o->source_rate = v.cast<double>();
  else if (key == "source_burst") o->source_burst = v.cast<double>();
  else if (key == "checkpoint_every_events") o->checkpoint_every_events = v.cast<uint64_t>();
  else if (key == "checkpoint_interval") o->checkpoint_interval = std::chrono::milliseconds(static_cast<int64_t>(ms("seconds") * 1000));
  else if (key == "security_interval") o->security_interval = std::chrono::milliseconds(static_cast<int64_t>(ms("seconds") * 1000));
  else if (key == "query_cache_bytes") o->query_cache_bytes = v.cast<size_t>();
  else if (key == "frame_cache_bytes") o->frame_cache_bytes = v.cast<size_t>();
  else if (key == "signing_key_path") o->signing_key_path = v.cast<std::string>();
  else {
    PyErr_SetString(PyExc_TypeError, ("unknown option \"" + key + "\"").c_str());
    throw py::error_already_set();
  }
}

class NativeLog {
 public:
  NativeLog(const std::string& path, const std::string& sync, const py::object& profile, const py::dict& options) {
    options_.dir = path;
    if (!profile.is_none()) {
      Status s = ApplyProfile(profile.cast<std::string>(), &options_);
      if (!s.ok()) ThrowValidation("profile", s.message());
    }
    if (!ParseSyncMode(sync, &options_.sync)) ThrowValidation("sync", "want \"always\", \"batch\" or \"none\"");
    for (auto [k, v] : options) ApplyOption(&options_, k.cast<std::string>(), v);
    Result<std::unique_ptr<Log>> log = [&] {
      py::gil_scoped_release nogil;
      return Log::Open(options_);
    }();
    log_ = Unwrap(std::move(log));
  }

  void LogEvent(const py::object& event_type, const py::object& data, const py::object& actor, const py::object& source,
                const py::object& lead_id, const py::object& workflow_id, const py::object& ts) {
    std::string& json = Buffer();
    json.assign("{\"type\":");
    if (!PyUnicode_Check(event_type.ptr())) ThrowValidation("type", "must be a str");
    AppendPyString(event_type.ptr(), &json, "type");
    if (!ts.is_none()) {
      json.append(",\"ts\":");
      if (PyLong_Check(ts.ptr()) && !PyBool_Check(ts.ptr())) AppendPyJson(ts.ptr(), &json, &Path("ts"), 0);
      else json.append(std::to_string(TimeArg(ts, "ts")));
    }
    AppendOptionalField(&json, "actor", actor);
    AppendOptionalField(&json, "source", source);
    AppendOptionalField(&json, "lead_id", lead_id);
    AppendOptionalField(&json, "workflow_id", workflow_id);
    if (!data.is_none()) {
      json.append(",\"data\":");
      if (PyUnicode_Check(data.ptr())) {  // ready JSON text
        Py_ssize_t n = 0;
        const char* s = PyUnicode_AsUTF8AndSize(data.ptr(), &n);
        if (s == nullptr) throw py::error_already_set();
        json.append(s, static_cast<size_t>(n));
      } else if (PyDict_Check(data.ptr())) {
        AppendPyJson(data.ptr(), &json, &Path("data"), 1);
      } else {
        ThrowValidation("data", std::string("must be a dict or a JSON object string, not ") + Py_TYPE(data.ptr())->tp_name);
      }
    }
    json.push_back('}');
    // An append is cheap unless the queue is full or sync is "always": only
    // then is the GIL handed to other threads (a release costs as much as an
    // append, and per call it would make threads take turns).
    Log* log = Get();
    Result<uint64_t> r = log->TryAppend(json);
    if (!r.ok() && r.status().code() == StatusCode::kBusy) {
      py::gil_scoped_release nogil;
      r = log->Append(json);
    }
    if (!r.ok()) Throw(r.status());
  }

  void Flush() {
    Log* log = Get();
    Status s;
    {
      py::gil_scoped_release nogil;
      s = log->Flush();
    }
    if (!s.ok()) Throw(s);
  }

  void Shutdown() {
    std::unique_ptr<Log> log;
    {
      std::lock_guard<std::mutex> g(mu_);
      if (!log_) return;
      log = std::move(log_);
      closed_ = true;
    }
    Status s;
    {
      py::gil_scoped_release nogil;
      s = log->Shutdown();
      log.reset();
    }
    if (!s.ok() && s.code() != StatusCode::kClosed) Throw(s);
  }

  EventIter* QueryEvents(const py::object& event_type, const py::kwargs& kw) {
    Query q = QueryFromKwargs(event_type, kw);
    Log* log = Get();
    Result<std::unique_ptr<EventIterator>> it = [&] {
      py::gil_scoped_release nogil;
      return log->Query(q);
    }();
    return new EventIter(Unwrap(std::move(it)));
  }

  py::dict Stats(const std::string& by, size_t top, const py::object& event_type, const py::kwargs& kw) {
    StatsBy grouping;
    if (!ParseStatsBy(by, &grouping)) ThrowValidation("by", "want type, actor, source, workflow, lead, minute, hour or day");
    Query q = QueryFromKwargs(event_type, kw);
    Flush();  // the counts read the files: make everything appended visible
    Result<StatsResult> r = [&] {
      py::gil_scoped_release nogil;
      return StatsDirectory(options_.dir, q, grouping, top);
    }();
    StatsResult s = Unwrap(std::move(r));
    py::dict groups;
    for (const StatsRow& row : s.rows) groups[py::str(row.key)] = row.count;
    py::dict d;
    d["by"] = by;
    d["total"] = s.total;
    d["without"] = s.without;
    d["groups"] = groups;
    d["distinct"] = s.groups;
    d["exact"] = s.groups_exact;
    return d;
  }

  py::dict EngineStats() {
    const LogStats s = Get()->stats();
    py::dict d;
    d["appended"] = s.appended;
    d["written_seq"] = s.written_seq;
    d["durable_seq"] = s.durable_seq;
    d["queue_bytes"] = s.queue_bytes;
    d["queue_events"] = s.queue_events;
    d["queue_peak_bytes"] = s.queue_peak_bytes;
    d["batches"] = s.batches;
    d["syncs"] = s.syncs;
    d["busy_rejects"] = s.busy_rejects;
    d["invalid_rejects"] = s.invalid_rejects;
    d["rate_limited_rejects"] = s.rate_limited_rejects;
    d["security_events"] = s.security_events;
    d["segments_sealed"] = s.segments_sealed;
    d["cache_hits"] = s.cache_hits;
    d["cache_misses"] = s.cache_misses;
    return d;
  }

  py::dict RateLimitStats() {
    const LogStats s = Get()->stats();
    py::dict d;
    d["source_rate"] = options_.source_rate;
    d["source_burst"] = options_.source_burst > 0 ? options_.source_burst : options_.source_rate;
    d["rate_limited"] = s.rate_limited_rejects;
    d["busy"] = s.busy_rejects;
    d["queue_bytes"] = s.queue_bytes;
    d["queue_limit_bytes"] = options_.queue_bytes;
    return d;
  }

  uint64_t QueueDepth() { return Get()->stats().queue_events; }

  py::dict Verify() {
    Flush();
    Result<VerifyReport> r = [&] {
      py::gil_scoped_release nogil;
      return VerifyLog(options_.dir, {});
    }();
    VerifyReport v = Unwrap(std::move(r));
    py::dict d;
    d["ok"] = v.ok;
    d["events"] = v.events;
    d["first_seq"] = v.first_seq;
    d["checkpoints"] = v.checkpoints;
    d["root"] = v.root_hex;
    d["seconds"] = v.seconds;
    if (!v.ok) {
      d["first_bad_seq"] = v.first_bad_seq;
      d["reason"] = v.reason;
    }
    return d;
  }

  py::dict Checkpoint() {
    Log* log = Get();
    Result<uint64_t> size = [&] {
      py::gil_scoped_release nogil;
      return log->Checkpoint();
    }();
    const uint64_t n = Unwrap(std::move(size));
    py::dict d;
    d["tree_size"] = n;
    d["note"] = Unwrap(LatestCheckpointNote(options_.dir));
    return d;
  }

  std::string ProveInclusionJson(uint64_t seq) {
    Flush();
    (void)Unwrap(Get()->Checkpoint());  // the proof is against a signed size covering seq
    Result<std::string> r = [&] {
      py::gil_scoped_release nogil;
      return stele::ProveInclusionJson(options_.dir, seq, 0);
    }();
    return Unwrap(std::move(r));
  }

  const std::string& path() const { return options_.dir; }
  bool closed() {
    std::lock_guard<std::mutex> g(mu_);
    return closed_;
  }

 private:
  Log* Get() {
    std::lock_guard<std::mutex> g(mu_);
    if (!log_) {
      PyErr_SetString(Err().closed.ptr(), ("the log at " + options_.dir + " was shut down").c_str());
      throw py::error_already_set();
    }
    return log_.get();
  }
  static std::string& Buffer() {
    thread_local std::string buffer;
    return buffer;
  }
  static std::string& Path(const char* root) {
    thread_local std::string path;
    path.assign(root);
    return path;
  }

  Options options_;
  std::mutex mu_;  // guards log_ against a concurrent shutdown()
  std::unique_ptr<Log> log_;
  bool closed_ = false;
};

}  // namespace
}  // namespace stele::python

PYBIND11_MODULE(_native, m) {
  using namespace stele::python;
  m.doc() = "The stele audit log engine (C++), bound for Python. Use the `stele` package, not this module.";

  py::class_<EventIter>(m, "EventIterator", "A lazy iterator of stored events, as dicts, in query order.")
      .def("__iter__", [](EventIter& self) -> EventIter& { return self; })
      .def("__next__", &EventIter::Next);

  py::class_<NativeLog>(m, "NativeLog", "One open stele log (the writer of its directory).")
      .def(py::init<const std::string&, const std::string&, const py::object&, const py::dict&>(), py::arg("path"),
           py::arg("sync") = "batch", py::arg("profile") = py::none(), py::arg("options") = py::dict())
      .def("log_event", &NativeLog::LogEvent, py::arg("event_type"), py::arg("data") = py::none(), py::kw_only(),
           py::arg("actor") = py::none(), py::arg("source") = py::none(), py::arg("lead_id") = py::none(),
           py::arg("workflow_id") = py::none(), py::arg("ts") = py::none(),
           "Validate and enqueue one event; durable after flush() (or at once under sync='always').")
      .def("flush", &NativeLog::Flush, "Return once every event logged before the call is durable.")
      .def("shutdown", &NativeLog::Shutdown, "Drain, flush, write a final checkpoint and close. Idempotent.")
      .def("query_events", &NativeLog::QueryEvents, py::arg("event_type") = py::none(),
           py::return_value_policy::take_ownership, "Stored events matching the filters, lazily, as dicts.")
      .def("stats", &NativeLog::Stats, py::arg("by") = "type", py::arg("top") = 20, py::arg("event_type") = py::none(),
           "Exact counts grouped by a field or a time bucket, over the filters.")
      .def("engine_stats", &NativeLog::EngineStats, "The engine's counters (appended, durable_seq, queue...).")
      .def("get_rate_limit_stats", &NativeLog::RateLimitStats, "Rate-limit and backpressure counters.")
      .def("queue_depth", &NativeLog::QueueDepth, "Events logged but not yet written.")
      .def("verify", &NativeLog::Verify, "Re-derive every hash and check every signed checkpoint.")
      .def("checkpoint", &NativeLog::Checkpoint, "Sign a checkpoint covering everything logged so far.")
      .def("_prove_inclusion_json", &NativeLog::ProveInclusionJson, py::arg("seq"))
      .def_property_readonly("path", &NativeLog::path)
      .def_property_readonly("closed", &NativeLog::closed);
}
