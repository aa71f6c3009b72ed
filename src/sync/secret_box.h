#pragma once
// Provider secrets at rest (Cal.com API keys, webhook secrets, Retell keys): AES-256-GCM under a
// 32-byte key that lives in a file outside the database, so a copied database leaks nothing.
//
// A sealed value is "v1:" followed by the hex of nonce (12 bytes) | ciphertext | tag (16 bytes).
// Each value is sealed with a `context` (e.g. "calcom.api_key:company:7") as additional
// authenticated data: a value moved to another row or company no longer opens.
//
// Thread-safe: a SecretBox is immutable after construction.
#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace appointd::sync {

class SecretBox {
 public:
  static constexpr std::size_t kKeyBytes = 32;
  using Key = std::array<unsigned char, kKeyBytes>;

  explicit SecretBox(const Key& key) : key_(key) {}

  // The key of `path`: 64 hex digits (optionally followed by a newline). Throws
  // std::runtime_error naming the file and what is wrong with it.
  static SecretBox load(const std::string& path);
  // As load(); when the file does not exist, creates it first (mode 0600, O_EXCL, fsync'd) with
  // a fresh random key and sets *created. Throws when it can be neither read nor created.
  static SecretBox load_or_create(const std::string& path, bool* created);

  // Seals `plaintext` under a fresh random nonce. Throws only when OpenSSL fails.
  std::string seal(std::string_view plaintext, std::string_view context) const;
  // The plaintext, or nullopt when the value was sealed under another key or context, was
  // altered, or is not a sealed value.
  std::optional<std::string> open(std::string_view sealed, std::string_view context) const;

  // Names the key without revealing it (hex HMAC-SHA256 of a fixed label under the key). Stored
  // beside sealed values, it turns a wrong key file into a clear start-up error instead of
  // secrets that silently fail to open.
  std::string fingerprint() const;

 private:
  Key key_;
};

// The last 4 characters of a secret behind a mask ("••••abcd"), for GET replies.
std::string mask_secret(std::string_view secret);

}  // namespace appointd::sync
