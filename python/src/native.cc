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
#include <vector>

#include "stele/integrity.h"
#include "stele/stats.h"
#include "stele/stele.h"
#include "util/json_escape.h"
#include "util/malloc_tuning.h"
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

// Where a converter is inside `data`: kept as borrowed keys and indexes, and
// spelled out as a JSON pointer only for an error message.
struct PathPart {
  PyObject* key = nullptr;  // a dict key (str), or nullptr for a list index
  Py_ssize_t index = 0;
};
using PyPath = std::vector<PathPart>;

std::string Spell(const char* root, const PyPath& path) {
  std::string s = root;
  for (const PathPart& p : path) {
    s.push_back('/');
    if (p.key == nullptr) {
      s += std::to_string(p.index);
    } else if (const char* k = PyUnicode_AsUTF8(p.key)) {
      s += k;
    } else {
      PyErr_Clear();
      s += "?";
    }
  }
  return s;
}

[[noreturn]] void Invalid(const char* root, const PyPath& path, const std::string& reason) {
  ThrowValidation(Spell(root, path), reason);
}

void AppendPyString(PyObject* o, std::string* out, const char* root, const PyPath& path) {
  Py_ssize_t n = 0;
  const char* s = PyUnicode_AsUTF8AndSize(o, &n);
  if (s == nullptr) {
    PyErr_Clear();
    Invalid(root, path, "a string that is not valid Unicode (a lone surrogate?)");
  }
  AppendJsonString(std::string_view(s, static_cast<size_t>(n)), out);
}

void AppendPyString(PyObject* o, std::string* out, const char* field) { AppendPyString(o, out, field, PyPath{}); }

// Shortest digits that read back as the same double (what repr() gives,
// though not always in the same notation), with ".0" added where the text
// would otherwise read back as an int.
void AppendFloat(double d, std::string* out) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  std::string_view text(buf, static_cast<size_t>(end - buf));
  out->append(text);
  if (text.find_first_of(".en") == std::string_view::npos) out->append(".0");
}

void AppendPyJson(PyObject* o, std::string* out, const char* root, PyPath* path) {
  if (path->size() > kMaxNesting) Invalid(root, *path, "nesting deeper than " + std::to_string(kMaxNesting));
  if (o == Py_None) {
    out->append("null");
  } else if (o == Py_True) {
    out->append("true");
  } else if (o == Py_False) {
    out->append("false");
  } else if (PyUnicode_Check(o)) {
    AppendPyString(o, out, root, *path);
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
    if (!std::isfinite(d)) Invalid(root, *path, "NaN and Infinity are not JSON numbers");
    AppendFloat(d, out);
  } else if (PyDict_Check(o)) {
    out->push_back('{');
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    bool first = true;
    path->emplace_back();
    while (PyDict_Next(o, &pos, &key, &value)) {
      if (!PyUnicode_Check(key)) {
        path->pop_back();
        Invalid(root, *path, std::string("keys must be strings, not ") + Py_TYPE(key)->tp_name);
      }
      if (!first) out->push_back(',');
      first = false;
      path->back().key = key;
      AppendPyString(key, out, root, *path);
      out->push_back(':');
      AppendPyJson(value, out, root, path);
    }
    path->pop_back();
    out->push_back('}');
  } else if (PyList_Check(o) || PyTuple_Check(o)) {
    out->push_back('[');
    const Py_ssize_t n = PySequence_Fast_GET_SIZE(o);
    PyObject** items = PySequence_Fast_ITEMS(o);
    path->emplace_back();
    for (Py_ssize_t i = 0; i < n; ++i) {
      if (i > 0) out->push_back(',');
      path->back().index = i;
      AppendPyJson(items[i], out, root, path);
    }
    path->pop_back();
    out->push_back(']');
  } else {
    Invalid(root, *path, std::string("a ") + Py_TYPE(o)->tp_name +
                             " is not JSON (use dict, list, str, int, float, bool or None)");
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

void AppendOptionalField(std::string* out, const char* name, PyObject* v) {
  if (v == nullptr || v == Py_None) return;
  if (!PyUnicode_Check(v)) ThrowValidation(name, std::string("must be a str, not ") + Py_TYPE(v)->tp_name);
  out->append(",\"");
  out->append(name);
  out->append("\":");
  AppendPyString(v, out, name);
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
  auto seconds = [&] {
    const double s = v.cast<double>();
    if (s < 0) ThrowValidation(key, "must be >= 0 seconds");
    return s;
  };
  if (key == "queue_bytes") o->queue_bytes = v.cast<size_t>();
  else if (key == "enqueue_deadline") o->enqueue_deadline = std::chrono::milliseconds(static_cast<int64_t>(seconds() * 1000));
  else if (key == "max_event_bytes") o->max_event_bytes = v.cast<size_t>();
  else if (key == "max_depth") o->max_depth = v.cast<int>();
  else if (key == "max_object_keys") o->max_object_keys = v.cast<size_t>();
  else if (key == "max_string_bytes") o->max_string_bytes = v.cast<size_t>();
  else if (key == "segment_max_bytes") o->segment_max_bytes = v.cast<uint64_t>();
  else if (key == "segment_max_index_bytes") o->segment_max_index_bytes = v.cast<uint64_t>();
  else if (key == "lead_run_min_events") o->lead_run_min_events = v.cast<uint64_t>();
  else if (key == "frame_target_bytes") o->frame_target_bytes = v.cast<size_t>();
  else if (key == "zstd_level") o->zstd_level = v.cast<int>();
  else if (key == "batch_commit_delay") o->batch_commit_delay = std::chrono::microseconds(static_cast<int64_t>(seconds() * 1e6));
  else if (key == "retention_max_age") o->retention_max_age = std::chrono::seconds(static_cast<int64_t>(seconds()));
  else if (key == "retention_max_bytes") o->retention_max_bytes = v.cast<uint64_t>();
  else if (key == "source_rate") o->source_rate = v.cast<double>();
  else if (key == "source_burst") o->source_burst = v.cast<double>();
  else if (key == "checkpoint_every_events") o->checkpoint_every_events = v.cast<uint64_t>();
  else if (key == "checkpoint_interval") o->checkpoint_interval = std::chrono::milliseconds(static_cast<int64_t>(seconds() * 1000));
  else if (key == "security_interval") o->security_interval = std::chrono::milliseconds(static_cast<int64_t>(seconds() * 1000));
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

  // Arguments are borrowed; nullptr or None means absent.
  // Returns the event's seq.  `queued` returns once the event is queued,
  // whatever the sync mode (WaitDurable() then waits for it).
  uint64_t LogEvent(PyObject* event_type, PyObject* data, PyObject* actor, PyObject* source, PyObject* lead_id,
                    PyObject* workflow_id, PyObject* ts, bool queued) {
    std::string& json = Buffer();
    json.assign("{\"type\":");
    if (!PyUnicode_Check(event_type)) ThrowValidation("type", "must be a str");
    AppendPyString(event_type, &json, "type");
    if (ts != nullptr && ts != Py_None) {
      json.append(",\"ts\":");
      if (PyLong_Check(ts) && !PyBool_Check(ts)) AppendPyJson(ts, &json, "ts", &Path());
      else json.append(std::to_string(TimeArg(py::handle(ts), "ts")));
    }
    AppendOptionalField(&json, "actor", actor);
    AppendOptionalField(&json, "source", source);
    AppendOptionalField(&json, "lead_id", lead_id);
    AppendOptionalField(&json, "workflow_id", workflow_id);
    if (data != nullptr && data != Py_None) {
      json.append(",\"data\":");
      if (PyUnicode_Check(data)) {  // ready JSON text
        Py_ssize_t n = 0;
        const char* s = PyUnicode_AsUTF8AndSize(data, &n);
        if (s == nullptr) throw py::error_already_set();
        json.append(s, static_cast<size_t>(n));
      } else if (PyDict_Check(data)) {
        AppendPyJson(data, &json, "data", &Path());
      } else {
        ThrowValidation("data", std::string("must be a dict or a JSON object string, not ") + Py_TYPE(data)->tp_name);
      }
    }
    json.push_back('}');
    // An append is cheap unless the queue is full or it waits for the disk
    // (sync "always", not queued): only then is the GIL handed to other
    // threads (a release costs as much as an append, and per call it would
    // make threads take turns).
    Log* log = Get();
    Result<uint64_t> r = queued ? log->TryAppendQueued(json) : log->TryAppend(json);
    if (!r.ok() && r.status().code() == StatusCode::kBusy) {
      py::gil_scoped_release nogil;
      r = queued ? log->AppendQueued(json) : log->Append(json);
    }
    if (!r.ok()) Throw(r.status());
    return *r;
  }

  void WaitDurable(uint64_t seq) {
    Log* log = Get();
    Status s;
    {
      py::gil_scoped_release nogil;
      s = log->WaitDurable(seq);
    }
    if (!s.ok()) Throw(s);
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
  static PyPath& Path() {
    thread_local PyPath path;
    path.clear();
    return path;
  }

  Options options_;
  std::mutex mu_;  // guards log_ against a concurrent shutdown()
  std::unique_ptr<Log> log_;
  bool closed_ = false;
};

// log_event as a METH_FASTCALL method: pybind11's general argument handling
// costs more than the append itself (about 0.4 µs per keyword argument),
// and this is the call a Python producer makes millions of times.
PyObject* LogEventFast(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  try {
    NativeLog* log = py::handle(self).cast<NativeLog*>();
    static const char* const kNames[] = {"event_type", "data",        "actor", "source",
                                         "lead_id",    "workflow_id", "ts",    "queued"};
    constexpr int kSlots = 8;
    PyObject* a[kSlots] = {};
    if (nargs < 1 || nargs > 2) {
      PyErr_SetString(PyExc_TypeError,
                      "log_event(event_type, data=None, *, actor, source, lead_id, workflow_id, ts, queued)");
      return nullptr;
    }
    for (Py_ssize_t i = 0; i < nargs; ++i) a[i] = args[i];
    const Py_ssize_t nkw = kwnames == nullptr ? 0 : PyTuple_GET_SIZE(kwnames);
    for (Py_ssize_t k = 0; k < nkw; ++k) {
      PyObject* name = PyTuple_GET_ITEM(kwnames, k);
      int slot = -1;
      for (int j = 0; j < kSlots && slot < 0; ++j) {
        if (PyUnicode_CompareWithASCIIString(name, kNames[j]) == 0) slot = j;
      }
      if (slot < 0 || a[slot] != nullptr) {
        PyErr_Format(PyExc_TypeError, slot < 0 ? "log_event() got an unexpected keyword argument '%U'"
                                               : "log_event() got multiple values for argument '%U'", name);
        return nullptr;
      }
      a[slot] = args[nargs + k];
    }
    if (a[0] == nullptr) {
      PyErr_SetString(PyExc_TypeError, "log_event() missing required argument 'event_type'");
      return nullptr;
    }
    bool queued = false;
    if (a[7] != nullptr) {
      const int truth = PyObject_IsTrue(a[7]);
      if (truth < 0) return nullptr;
      queued = truth == 1;
    }
    return PyLong_FromUnsignedLongLong(log->LogEvent(a[0], a[1], a[2], a[3], a[4], a[5], a[6], queued));
  } catch (py::error_already_set& e) {
    e.restore();
    return nullptr;
  } catch (const py::cast_error&) {
    PyErr_SetString(PyExc_TypeError, "log_event() needs a stele Log");
    return nullptr;
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
    return nullptr;
  }
}

PyMethodDef kLogEventDef = {
    "log_event", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(LogEventFast)), METH_FASTCALL | METH_KEYWORDS,
    "log_event(event_type, data=None, *, actor=None, source=None, lead_id=None, workflow_id=None, ts=None, "
    "queued=False)\n"
    "Validate and enqueue one event and return its seq; durable after flush() or wait_durable(seq), or at once "
    "under sync='always' unless queued=True (which returns once the event is queued, whatever the sync mode)."};

}  // namespace
}  // namespace stele::python

PYBIND11_MODULE(_native, m) {
  stele::UseFixedMmapThreshold();  // flat RSS in a long-lived logging process
  using namespace stele::python;
  m.doc() = "The stele audit log engine (C++), bound for Python. Use the `stele` package, not this module.";

  py::class_<EventIter>(m, "EventIterator", "A lazy iterator of stored events, as dicts, in query order.")
      .def("__iter__", [](EventIter& self) -> EventIter& { return self; })
      .def("__next__", &EventIter::Next);

  py::class_<NativeLog>(m, "NativeLog", "One open stele log (the writer of its directory).")
      .def(py::init<const std::string&, const std::string&, const py::object&, const py::dict&>(), py::arg("path"),
           py::arg("sync") = "batch", py::arg("profile") = py::none(), py::arg("options") = py::dict())
      .def("flush", &NativeLog::Flush, "Return once every event logged before the call is durable.")
      .def("wait_durable", &NativeLog::WaitDurable, py::arg("seq"),
           "Return once event `seq` (a seq log_event returned) and every event before it are durable.")
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
  PyObject* log_type = m.attr("NativeLog").ptr();
  PyObject* descr = PyDescr_NewMethod(reinterpret_cast<PyTypeObject*>(log_type), &kLogEventDef);
  if (descr == nullptr || PyObject_SetAttrString(log_type, "log_event", descr) != 0) throw py::error_already_set();
  Py_DECREF(descr);
}
