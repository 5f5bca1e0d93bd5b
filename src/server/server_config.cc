#include "server/server_config.h"

#include <toml++/toml.h>

#include <charconv>
#include <functional>
#include <map>

#include "util/units.h"

namespace stele {

Status ParseListen(std::string_view text, std::string* host, uint16_t* port) {
  auto bad = [&] { return Status::InvalidArgument("--listen \"" + std::string(text) + "\": want HOST:PORT"); };
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return bad();
  std::string_view h = text.substr(0, colon), p = text.substr(colon + 1);
  if (h.front() == '[') {
    if (h.back() != ']') return bad();
    h = h.substr(1, h.size() - 2);
  }
  unsigned v = 0;
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
  if (ec != std::errc() || end != p.data() + p.size() || v > 65535) return bad();
  *host = std::string(h);
  *port = static_cast<uint16_t>(v);
  return Status::Ok();
}

bool IsLoopback(const std::string& host) {
  return host == "::1" || host == "localhost" || host.rfind("127.", 0) == 0;
}

Status LoadServerConfig(const std::string& path, Options* options, ServerConfig* config) {
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument(path + ": " + std::string(e.description()) + " at line " +
                                   std::to_string(e.source().begin.line));
  }
  // Each known key: how to apply its value.  Values may be numbers or
  // strings with units ("64M", "15s").
  using Apply = std::function<Status(const toml::node&)>;
  auto bad = [&](const std::string& key, const std::string& why) {
    return Status::InvalidArgument(path + ": \"" + key + "\": " + why);
  };
  std::string current;
  auto uint_of = [&](const toml::node& n, uint64_t* out) -> Status {
    if (auto v = n.value<int64_t>(); v && *v >= 0 && n.is_integer()) {
      *out = static_cast<uint64_t>(*v);
      return Status::Ok();
    }
    if (auto s = n.value<std::string>()) {
      auto b = ParseByteSize(*s);
      if (!b.ok()) return bad(current, b.status().message());
      *out = *b;
      return Status::Ok();
    }
    return bad(current, "want a non-negative integer or a size like \"64M\"");
  };
  auto duration_of = [&](const toml::node& n, std::chrono::nanoseconds* out) -> Status {
    if (auto s = n.value<std::string>()) {
      auto d = ParseDuration(*s);
      if (!d.ok()) return bad(current, d.status().message());
      *out = *d;
      return Status::Ok();
    }
    if (auto v = n.value<int64_t>(); v && *v >= 0 && n.is_integer()) {
      *out = std::chrono::seconds(*v);
      return Status::Ok();
    }
    return bad(current, "want a duration like \"15s\"");
  };
  auto number_of = [&](const toml::node& n, double* out) -> Status {
    if (auto v = n.value<double>(); v && *v >= 0) {
      *out = *v;
      return Status::Ok();
    }
    return bad(current, "want a non-negative number");
  };
  auto size_into = [&](auto* field) {
    return Apply([&, field](const toml::node& n) {
      uint64_t v = 0;
      STELE_RETURN_IF_ERROR(uint_of(n, &v));
      *field = static_cast<std::remove_pointer_t<decltype(field)>>(v);
      return Status::Ok();
    });
  };
  auto ms_into = [&](std::chrono::milliseconds* field) {
    return Apply([&, field](const toml::node& n) {
      std::chrono::nanoseconds d{};
      STELE_RETURN_IF_ERROR(duration_of(n, &d));
      *field = std::chrono::duration_cast<std::chrono::milliseconds>(d);
      return Status::Ok();
    });
  };
  auto number_into = [&](double* field) { return Apply([&, field](const toml::node& n) { return number_of(n, field); }); };
  std::chrono::milliseconds retention_age{options->retention_max_age};
  std::map<std::string, Apply> keys = {
      {"server.listen", [&](const toml::node& n) -> Status {
         auto s = n.value<std::string>();
         if (!s) return bad(current, "want \"HOST:PORT\"");
         return ParseListen(*s, &config->host, &config->port);
       }},
      {"server.workers", size_into(&config->workers)},
      {"server.io_threads", size_into(&config->io_threads)},
      {"server.drain_timeout", ms_into(&config->drain_timeout)},
      {"server.stream_poll", ms_into(&config->http.stream_poll)},
      {"limits.max_header_bytes", size_into(&config->http.max_header_bytes)},
      {"limits.max_headers", size_into(&config->http.max_headers)},
      {"limits.max_target_bytes", size_into(&config->http.max_target_bytes)},
      {"limits.max_body_bytes", size_into(&config->http.max_body_bytes)},
      {"limits.max_connections", size_into(&config->http.max_connections)},
      {"limits.max_lines_per_request", size_into(&config->max_lines_per_request)},
      {"limits.max_event_bytes", size_into(&options->max_event_bytes)},
      {"limits.max_depth", size_into(&options->max_depth)},
      {"limits.max_object_keys", size_into(&options->max_object_keys)},
      {"limits.max_string_bytes", size_into(&options->max_string_bytes)},
      {"limits.max_regex_bytes", size_into(&config->max_regex_bytes)},
      {"limits.max_regex_program_bytes", size_into(&config->max_regex_program_bytes)},
      {"limits.header_timeout", ms_into(&config->http.header_timeout)},
      {"limits.body_timeout", ms_into(&config->http.body_timeout)},
      {"limits.write_timeout", ms_into(&config->http.write_timeout)},
      {"rate_limits.key_rate", number_into(&config->key_rate)},
      {"rate_limits.key_burst", number_into(&config->key_burst)},
      {"rate_limits.source_rate", number_into(&options->source_rate)},
      {"rate_limits.source_burst", number_into(&options->source_burst)},
      {"log.sync", [&](const toml::node& n) -> Status {
         auto s = n.value<std::string>();
         if (!s || !ParseSyncMode(*s, &options->sync)) return bad(current, "want always, batch or none");
         return Status::Ok();
       }},
      {"log.queue_bytes", size_into(&options->queue_bytes)},
      {"log.signing_key_path", [&](const toml::node& n) -> Status {
         auto s = n.value<std::string>();
         if (!s || s->empty()) return bad(current, "want the path of a signed-note key file");
         options->signing_key_path = *s;
         return Status::Ok();
       }},
      {"log.segment_max_bytes", size_into(&options->segment_max_bytes)},
      {"log.segment_max_index_bytes", size_into(&options->segment_max_index_bytes)},
      {"log.lead_run_min_events", size_into(&options->lead_run_min_events)},
      {"log.zstd_level", size_into(&options->zstd_level)},
      {"log.retention_max_age", ms_into(&retention_age)},
      {"log.retention_max_bytes", size_into(&options->retention_max_bytes)},
      {"log.security_interval", ms_into(&options->security_interval)},
      {"log.checkpoint_interval", ms_into(&options->checkpoint_interval)},
      {"webhooks.allow", [&](const toml::node& n) -> Status {
         const auto* arr = n.as_array();
         if (arr == nullptr) return bad(current, "want a list of \"host\" or \"host:port\"");
         for (const auto& v : *arr) {
           auto s = v.value<std::string>();
           if (!s) return bad(current, "want a list of \"host\" or \"host:port\"");
           config->alerts.allow.push_back(*s);
         }
         return Status::Ok();
       }},
      {"webhooks.connect_timeout", ms_into(&config->alerts.webhook.connect_timeout)},
      {"webhooks.timeout", ms_into(&config->alerts.webhook.io_timeout)},
      {"webhooks.retries", size_into(&config->alerts.webhook.retries)},
      {"webhooks.backoff", ms_into(&config->alerts.webhook.backoff)},
      {"webhooks.poll", ms_into(&config->alerts.poll)},
      {"log.batch_commit_delay", [&](const toml::node& n) -> Status {
         std::chrono::nanoseconds d{};
         STELE_RETURN_IF_ERROR(duration_of(n, &d));
         options->batch_commit_delay = std::chrono::duration_cast<std::chrono::microseconds>(d);
         return Status::Ok();
       }},
  };
  // [[alerts]]: an array of rule tables, each key checked like the rest.
  AlertRule* rule = nullptr;
  std::map<std::string, Apply> rule_keys = {
      {"name", [&](const toml::node& n) -> Status {
         auto s = n.value<std::string>();
         if (!s || s->empty()) return bad(current, "want a non-empty string");
         rule->name = *s;
         return Status::Ok();
       }},
      {"type", [&](const toml::node& n) -> Status {
         auto s = n.value<std::string>();
         if (!s || s->empty()) return bad(current, "want an event type, \"prefix.*\" or \"*\"");
         rule->type = *s;
         return Status::Ok();
       }},
      {"url", [&](const toml::node& n) -> Status {
         auto s = n.value<std::string>();
         if (!s) return bad(current, "want an http(s) URL");
         rule->url = *s;
         return Status::Ok();
       }},
      {"threshold", Apply([&](const toml::node& n) { return uint_of(n, &rule->threshold); })},
      {"window", Apply([&](const toml::node& n) -> Status {
         std::chrono::nanoseconds d{};
         STELE_RETURN_IF_ERROR(duration_of(n, &d));
         rule->window = std::chrono::duration_cast<std::chrono::milliseconds>(d);
         return Status::Ok();
       })},
      {"max_events", Apply([&](const toml::node& n) {
         uint64_t v = 0;
         STELE_RETURN_IF_ERROR(uint_of(n, &v));
         rule->max_events = static_cast<size_t>(v);
         return Status::Ok();
       })},
  };
  Status status;
  root.for_each([&](const toml::key& section, const toml::node& node) {
    if (!status.ok()) return;
    if (section.str() == "alerts") {
      const auto* arr = node.as_array();
      if (arr == nullptr || !arr->is_array_of_tables()) {
        status = bad("alerts", "want [[alerts]] tables");
        return;
      }
      for (size_t i = 0; i < arr->size() && status.ok(); ++i) {
        rule = &config->alerts.rules.emplace_back();
        rule->name = "alerts[" + std::to_string(i) + "]";
        arr->get(i)->as_table()->for_each([&](const toml::key& key, const toml::node& value) {
          if (!status.ok()) return;
          current = "alerts[" + std::to_string(i) + "]." + std::string(key.str());
          auto it = rule_keys.find(std::string(key.str()));
          status = it == rule_keys.end() ? bad(current, "unknown setting") : it->second(value);
        });
        if (status.ok() && (rule->type.empty() || rule->url.empty())) {
          status = bad("alerts[" + std::to_string(i) + "]", "needs both type and url");
        }
      }
      return;
    }
    const auto* table = node.as_table();
    if (table == nullptr) {
      status = bad(std::string(section.str()), "want a [section]");
      return;
    }
    table->for_each([&](const toml::key& key, const toml::node& value) {
      if (!status.ok()) return;
      current = std::string(section.str()) + "." + std::string(key.str());
      auto it = keys.find(current);
      status = it == keys.end() ? bad(current, "unknown setting") : it->second(value);
    });
  });
  STELE_RETURN_IF_ERROR(status);
  options->retention_max_age = std::chrono::duration_cast<std::chrono::seconds>(retention_age);
  return Status::Ok();
}

}  // namespace stele
