// The parts of reading an HTTP request that do not need a socket, shared by
// HttpServer's connection loop and the HTTP fuzz target (fuzz/fuzz_http.cc),
// so what is fuzzed is what serves.  Internal to src/server.
#pragma once

#include <boost/beast/http.hpp>
#include <optional>
#include <string>

#include "server/http_server.h"

namespace stele {

using HttpParser = boost::beast::http::request_parser<boost::beast::http::string_body>;

// A request refused before it reaches the handler: the status and why.
struct HttpRefusal {
  int status = 400;
  std::string message;
};

// Splits and %-decodes a query string ('+' is a space) into *out; false on
// a bad escape, naming the part in *bad.
bool ParseQueryString(std::string_view qs, QueryParams* out, std::string* bad);

// A parser with the header and body limits applied.
void ConfigureParser(const HttpLimits& limits, HttpParser* parser);
// After the head is read: 431 for too many headers, 414 for a long target,
// 413 for a declared body over the limit; nullopt when the head is fine.
std::optional<HttpRefusal> CheckRequestHead(const HttpParser& parser, const HttpLimits& limits);
// The refusal for a Beast read error (413 body, 431 headers, 400
// malformed), or nullopt for the errors that only end the connection (the
// client left or idled out).
std::optional<HttpRefusal> RefusalForReadError(const boost::beast::error_code& ec, const HttpLimits& limits);
// Fills *out from a complete request: method, target, lower-cased headers,
// body, the %-decoded path and the query parameters.  A bad %-escape gives
// the 400 to answer (the connection may continue).
std::optional<HttpRefusal> BuildRequest(boost::beast::http::request<boost::beast::http::string_body>&& req,
                                        const std::string& peer, HttpRequest* out);
// {"error":{"code","message"}} with the code word of the status.
HttpResponse RefusalResponse(const HttpRefusal& refusal);

}  // namespace stele
