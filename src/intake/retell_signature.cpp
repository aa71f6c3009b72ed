#include "intake/retell_signature.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <array>
#include <charconv>
#include <memory>
#include <optional>
#include <stdexcept>

namespace appointd::intake {
namespace {

constexpr std::size_t kMacSize = 32;                       // SHA-256
constexpr std::int64_t kMaxSafeInteger = (1LL << 53) - 1;  // JavaScript's Number.MAX_SAFE_INTEGER

using Mac = std::array<unsigned char, kMacSize>;

struct Parsed {
  std::int64_t unix_ms = 0;
  Mac digest{};
};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool starts_with_key(std::string_view s, char key) {
  return s.size() >= 2 && (s[0] == key || s[0] == key - ('a' - 'A')) && s[1] == '=';
}

// retell-sdk 5.66.1: /^v=(\d+),d=([0-9a-f]+)$/i, then Number.isSafeInteger(v) and exactly 64
// hex digits. Anything else is malformed.
std::optional<Parsed> parse(std::string_view h) {
  if (!starts_with_key(h, 'v')) return std::nullopt;
  h.remove_prefix(2);
  std::size_t n = 0;
  std::int64_t v = 0;
  for (; n < h.size() && is_digit(h[n]); ++n) {
    v = v * 10 + (h[n] - '0');
    if (v > kMaxSafeInteger) return std::nullopt;  // leading zeros never get here
  }
  if (n == 0 || n == h.size() || h[n] != ',') return std::nullopt;
  h.remove_prefix(n + 1);
  if (!starts_with_key(h, 'd')) return std::nullopt;
  h.remove_prefix(2);
  if (h.size() != 2 * kMacSize) return std::nullopt;
  Parsed p;
  p.unix_ms = v;
  for (std::size_t i = 0; i < kMacSize; ++i) {
    const int hi = hex_value(h[2 * i]), lo = hex_value(h[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    p.digest[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return p;
}

// Canonical decimal, as JavaScript prints an integer Number below 2^53.
std::string decimal(std::int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, end);
}

struct MacCtxFree {
  void operator()(EVP_MAC_CTX* c) const { EVP_MAC_CTX_free(c); }
};

// HMAC-SHA256(key, body || timestamp), streamed so the body is not copied. The EVP_MAC is
// fetched once (thread-safe static initialisation) and shared: it is reference-counted and
// immutable; each call has its own context.
Mac hmac(std::string_view key, std::string_view body, std::string_view timestamp) {
  static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_HMAC, nullptr);
  if (mac == nullptr) throw std::runtime_error("OpenSSL: HMAC unavailable");
  std::unique_ptr<EVP_MAC_CTX, MacCtxFree> ctx(EVP_MAC_CTX_new(mac));
  char digest_name[] = "SHA256";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
      OSSL_PARAM_construct_end()};
  // A null key means "keep the previous key" to EVP_MAC_init; an empty key is a valid HMAC key.
  static const unsigned char kEmpty = 0;
  const auto* k = key.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(key.data());
  Mac out{};
  std::size_t len = 0;
  if (!ctx || EVP_MAC_init(ctx.get(), k, key.size(), params) != 1 ||
      EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(body.data()), body.size()) !=
          1 ||
      EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(timestamp.data()),
                     timestamp.size()) != 1 ||
      EVP_MAC_final(ctx.get(), out.data(), &len, out.size()) != 1 || len != out.size())
    throw std::runtime_error("OpenSSL: HMAC-SHA256 failed");
  return out;
}

}  // namespace

std::string_view to_string(SignatureCheck c) {
  switch (c) {
    case SignatureCheck::kOk:
      return "ok";
    case SignatureCheck::kMissing:
      return "missing";
    case SignatureCheck::kMalformed:
      return "malformed";
    case SignatureCheck::kStale:
      return "stale";
    case SignatureCheck::kMismatch:
      return "mismatch";
  }
  return "unknown";
}

SignatureCheck verify_retell_signature(std::string_view api_key, std::string_view raw_body,
                                       std::string_view header,
                                       std::chrono::milliseconds now_unix_ms,
                                       std::chrono::milliseconds window) {
  if (header.empty()) return SignatureCheck::kMissing;
  const auto p = parse(header);
  if (!p) return SignatureCheck::kMalformed;
  // |now - v| > window, without overflow whatever `now` is (v is in [0, 2^53)).
  const std::int64_t now = now_unix_ms.count(), w = window.count();
  if (w < 0) return SignatureCheck::kStale;
  const auto now_u = static_cast<std::uint64_t>(now), v_u = static_cast<std::uint64_t>(p->unix_ms);
  const std::uint64_t diff = now >= p->unix_ms ? now_u - v_u : v_u - now_u;  // modulo 2^64
  if (diff > static_cast<std::uint64_t>(w)) return SignatureCheck::kStale;
  if (api_key.empty()) return SignatureCheck::kMismatch;
  const Mac want = hmac(api_key, raw_body, decimal(p->unix_ms));
  return CRYPTO_memcmp(want.data(), p->digest.data(), kMacSize) == 0 ? SignatureCheck::kOk
                                                                     : SignatureCheck::kMismatch;
}

std::string sign_retell(std::string_view api_key, std::string_view body, std::int64_t unix_ms) {
  const std::string ts = decimal(unix_ms);
  const Mac m = hmac(api_key, body, ts);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "v=" + ts + ",d=";
  out.reserve(out.size() + 2 * kMacSize);
  for (unsigned char b : m) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

}  // namespace appointd::intake
