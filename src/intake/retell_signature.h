#pragma once
// Retell's request signature, `X-Retell-Signature` (DESIGN.md "Phone intake"; docs/retell.md).
// Pure functions over their arguments (the clock is passed in), thread-safe.
//
// The scheme, as Retell's official SDKs implement it:
//   header  = "v=" <timestamp> ",d=" <digest>
//   digest  = lower-case hex HMAC-SHA256, keyed with the Retell API key (its UTF-8 bytes), of the
//             raw request body followed by the timestamp in decimal (no separator)
//   timestamp: Unix time in milliseconds; refused when more than 5 minutes from now, either way
//             (exactly 5 minutes is still accepted: the SDK refuses `|now - v| > timeout`).
// Sources: npm `retell-sdk` 5.66.1 (the version tests/fakes/package.json pins), lib/webhook_auth.ts
// (`symmetric.sign` / `symmetric.verify`; exported as `sign(body, apiKey)` and
// `verify(body, apiKey, signature)`, both async); github.com/RetellAI/retell-typescript-sdk
// src/lib/webhook_auth.ts; the Python SDK's src/retell/lib/webhook_auth.py (same message and
// window); docs.retellai.com/features/secure-webhook.
//
// What this parser accepts is what retell-sdk 5.66.1's `verify` accepts, so that anything the SDK
// signs passes and anything it refuses is refused:
//   - the whole header matches /^v=(\d+),d=([0-9a-f]+)$/i: no whitespace, no other fields, in
//     this order; `V=`/`D=` and upper-case hex digits are accepted (the `i` flag);
//   - the digest is exactly 64 hex digits (32 bytes), compared as bytes in constant time
//     (CRYPTO_memcmp);
//   - the timestamp is at most 2^53 - 1 (the SDK's Number.isSafeInteger) and is signed in its
//     canonical decimal form, so `v=007` checks the MAC of body + "7", as the SDK does.
// The Python SDK and earlier, synchronous versions of the Node SDK match the header unanchored
// (/v=(\d+),d=(.*)/) and compare the hex digest as a string, so they refuse upper-case hex and
// accept text around the header; Retell itself sends exactly `v=<ms>,d=<lower-case hex>`, on
// which all of them agree.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace appointd::intake {

// The outcome of checking one request. Every value but kOk answers 401 with nothing changed.
enum class SignatureCheck {
  kOk,
  kMissing,    // no header, or an empty one
  kMalformed,  // not `v=<digits>,d=<64 hex digits>`, or a timestamp beyond 2^53 - 1
  kStale,      // the timestamp is more than `window` away from now, in the past or the future
  kMismatch,   // well-formed and fresh, but not this body signed with this key (or no key)
};

// "ok", "missing", "malformed", "stale", "mismatch": for logs and metrics labels.
std::string_view to_string(SignatureCheck c);

// How far a signature's timestamp may be from now (Retell's SDKs: FIVE_MINUTES).
inline constexpr std::chrono::milliseconds kRetellSignatureWindow = std::chrono::minutes(5);

// Checks `header` (the value of X-Retell-Signature; empty when the request has none) against
// `raw_body` (the request body exactly as received: its bytes, before any JSON parsing) and the
// company's Retell `api_key`, at `now_unix_ms` (milliseconds since the Unix epoch). The header's
// form and freshness are checked before the MAC is computed, so a malformed or stale header costs
// no HMAC. An empty `api_key` matches nothing (kMismatch), so a company
// without a configured key never accepts a request. A negative `window` refuses every timestamp.
SignatureCheck verify_retell_signature(std::string_view api_key, std::string_view raw_body,
                                       std::string_view header,
                                       std::chrono::milliseconds now_unix_ms,
                                       std::chrono::milliseconds window = kRetellSignatureWindow);

// The X-Retell-Signature value Retell sends for `body` at `unix_ms`:
// "v=<unix_ms>,d=<64 lower-case hex digits>". Byte for byte what retell-sdk's
// `symmetric.sign(body, apiKey, unix_ms)` returns (tests/unit/retell_signature_test.cpp checks
// this against the SDK). For tests, fakes and benchmarks; `unix_ms` must not be negative.
std::string sign_retell(std::string_view api_key, std::string_view body, std::int64_t unix_ms);

}  // namespace appointd::intake
