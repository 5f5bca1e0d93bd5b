// Fuzz target: the webhook URL guard (SPEC §7).  Any string: never
// crashes, and whatever it admits has only addresses the classifier allows
// (names resolve through a stub to a fixed public address, or to the
// address spelled in the name's first label, so DNS is never used).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "security/url_guard.h"

namespace {

class FixedResolver final : public stele::Resolver {
 public:
  stele::Result<std::vector<stele::IpAddress>> Resolve(const std::string& host) override {
    // "10-0-0-1.example" resolves to 10.0.0.1, a rebinding-style name.
    std::string first = host.substr(0, host.find('.'));
    for (char& c : first) c = c == '-' ? '.' : c;
    if (auto a = stele::ParseIpLiteral(first)) return std::vector<stele::IpAddress>{*a};
    return std::vector<stele::IpAddress>{*stele::ParseIpLiteral("93.184.216.34")};
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static FixedResolver resolver;
  static const stele::UrlGuard guard({}, &resolver);
  const std::string url(reinterpret_cast<const char*>(data), size);
  auto t = guard.Check(url);
  if (t.ok()) {
    if (t->addresses.empty()) std::abort();
    for (const auto& a : t->addresses) {
      if (stele::BlockedAddressReason(a)) std::abort();
    }
    if (t->url.scheme != "http" && t->url.scheme != "https") std::abort();
  }
  (void)stele::ParseIpLiteral(url);
  return 0;
}
