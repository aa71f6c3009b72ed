#pragma once
// SHA-256 helpers (OpenSSL). Pure functions, thread-safe.
#include <string>
#include <string_view>

namespace appointd {

// Lower-case hex SHA-256 of the bytes.
std::string sha256_hex(std::string_view data);

// Constant-time equality of two strings of equal length (CRYPTO_memcmp).
bool constant_time_equal(std::string_view a, std::string_view b);

// n random bytes from OpenSSL's CSPRNG as lower-case hex (2n characters).
std::string random_hex(size_t n);

}  // namespace appointd
