// WebhookSender: POSTs a JSON body to a webhook URL that UrlGuard admits,
// and only there.  The URL is checked (one DNS resolution) once per Send();
// every attempt, retries included, connects to those checked addresses and
// nothing else, so DNS rebinding cannot move it; redirects are never
// followed (a 3xx is a failed send that names its Location); https verifies
// the certificate and the host name (OpenSSL, system trust store).
//
// Retries: a connection error, a timeout, 408, 429 or 5xx is retried up to
// `retries` times with exponential backoff; anything else is final.
// Thread-safe: Send() may run on many threads at once.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "security/url_guard.h"
#include "stele/status.h"

namespace stele {

struct WebhookOptions {
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds io_timeout{5000};  // each send and each receive
  int retries = 3;                             // attempts after the first
  std::chrono::milliseconds backoff{250};      // doubled after each failed attempt
  std::chrono::milliseconds max_backoff{10'000};
};

struct WebhookResult {
  bool delivered = false;  // a 2xx answer
  int status = 0;          // the last HTTP status (0: none)
  int attempts = 0;
  std::string address;     // the checked address last connected to, "ip:port"
  std::string error;       // why it was not delivered
};

class WebhookSender {
 public:
  WebhookSender(const UrlGuard* guard, WebhookOptions options) : guard_(guard), options_(options) {}

  // kPermissionDenied "blocked: ..." when the guard refuses the URL (the
  // caller records security.ssrf_blocked); otherwise the outcome.
  Result<WebhookResult> Send(std::string_view url, std::string_view json_body) const;

 private:
  // One request to one of the target's addresses.
  void Attempt(const UrlGuard::Target& target, std::string_view body, WebhookResult* result) const;

  const UrlGuard* guard_;
  WebhookOptions options_;
};

}  // namespace stele
