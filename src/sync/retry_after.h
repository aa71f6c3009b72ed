#pragma once
// Retry-After (RFC 9110 §10.2.3): how long a server asks a client to wait before trying again.
#include <chrono>
#include <optional>
#include <string_view>

#include "domain/time.h"

namespace appointd::sync {

// Parses a Retry-After value: delay-seconds ("120") or an HTTP-date in IMF-fixdate form
// ("Wed, 21 Oct 2015 07:28:00 GMT"), or the obsolete RFC 850 ("Wednesday, 21-Oct-15 07:28:00
// GMT") and asctime ("Wed Oct 21 07:28:00 2015") forms, which recipients must accept. A date is
// turned into a delay from `now`; a date not after `now` is a delay of 0. Delays are capped at
// one day. Returns nullopt for anything else (the header is then ignored).
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value, Instant now);

// Parses an HTTP-date in any of the three forms above; nullopt if it is none of them.
std::optional<Instant> parse_http_date(std::string_view value);

}  // namespace appointd::sync
