#include "server/http_request.h"

#include <cctype>

namespace stele {

namespace beast = boost::beast;
namespace http = beast::http;

bool ParseQueryString(std::string_view qs, QueryParams* out, std::string* bad) {
  while (!qs.empty()) {
    const size_t amp = qs.find('&');
    std::string_view part = qs.substr(0, amp);
    qs.remove_prefix(amp == std::string_view::npos ? qs.size() : amp + 1);
    if (part.empty()) continue;
    const size_t eq = part.find('=');
    std::string name, value;
    if (!PercentDecode(part.substr(0, eq), true, &name) ||
        !PercentDecode(eq == std::string_view::npos ? "" : part.substr(eq + 1), true, &value)) {
      *bad = std::string(part.substr(0, 64));
      return false;
    }
    out->emplace_back(std::move(name), std::move(value));
  }
  return true;
}

namespace {

const char* ReasonCode(int status) {
  switch (status) {
    case 400: return "bad_request";
    case 408: return "timeout";
    case 413: return "too_large";
    case 414: return "uri_too_long";
    case 431: return "headers_too_large";
    case 503: return "unavailable";
    default: return "error";
  }
}

}  // namespace

void ConfigureParser(const HttpLimits& limits, HttpParser* parser) {
  parser->header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
  parser->body_limit(limits.max_body_bytes);
}

std::optional<HttpRefusal> CheckRequestHead(const HttpParser& parser, const HttpLimits& limits) {
  const auto& header = parser.get();
  size_t count = 0;
  for (auto it = header.begin(); it != header.end(); ++it) ++count;
  if (count > limits.max_headers) {
    return HttpRefusal{431, "more than " + std::to_string(limits.max_headers) + " request headers"};
  }
  if (header.target().size() > limits.max_target_bytes) {
    return HttpRefusal{414, "request target is over " + std::to_string(limits.max_target_bytes) + " bytes"};
  }
  if (auto len = parser.content_length(); len && *len > limits.max_body_bytes) {
    return HttpRefusal{413, "request body is over " + std::to_string(limits.max_body_bytes) + " bytes"};
  }
  return std::nullopt;
}

std::optional<HttpRefusal> RefusalForReadError(const beast::error_code& ec, const HttpLimits& limits) {
  namespace net = boost::asio;
  if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == net::error::eof ||
      ec == net::error::connection_reset || ec == net::error::operation_aborted || ec == http::error::partial_message) {
    return std::nullopt;
  }
  if (ec == http::error::body_limit) {
    return HttpRefusal{413, "request body is over " + std::to_string(limits.max_body_bytes) + " bytes"};
  }
  if (ec == http::error::header_limit) {
    return HttpRefusal{431, "request headers are over " + std::to_string(limits.max_header_bytes) + " bytes"};
  }
  return HttpRefusal{400, "malformed HTTP request: " + ec.message()};
}

std::optional<HttpRefusal> BuildRequest(http::request<http::string_body>&& req, const std::string& peer,
                                        HttpRequest* r) {
  r->method = std::string(req.method_string());
  r->target = std::string(req.target());
  r->peer = peer;
  for (const auto& f : req) {
    std::string name(f.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r->headers.emplace_back(std::move(name), std::string(f.value()));
  }
  r->body = std::move(req.body());
  const std::string_view target = r->target;
  const size_t q = target.find('?');
  std::string bad;
  if (!PercentDecode(target.substr(0, q), false, &r->path)) {
    return HttpRefusal{400, "request path has a bad %-escape"};
  }
  if (q != std::string_view::npos && !ParseQueryString(target.substr(q + 1), &r->params, &bad)) {
    return HttpRefusal{400, "query parameter \"" + bad + "\" has a bad %-escape"};
  }
  return std::nullopt;
}

HttpResponse RefusalResponse(const HttpRefusal& refusal) {
  return JsonError(refusal.status, ReasonCode(refusal.status), refusal.message);
}

}  // namespace stele
