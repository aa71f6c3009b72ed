#include "sync/secret_box.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <vector>

namespace appointd::sync {
namespace {

constexpr std::size_t kNonceBytes = 12;
constexpr std::size_t kTagBytes = 16;
constexpr std::string_view kPrefix = "v1:";

std::string to_hex(const unsigned char* p, std::size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = kHex[p[i] >> 4];
    out[2 * i + 1] = kHex[p[i] & 0xF];
  }
  return out;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::vector<unsigned char>> from_hex(std::string_view s) {
  if (s.size() % 2 != 0) return std::nullopt;
  std::vector<unsigned char> out(s.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int h = hex_digit(s[2 * i]), l = hex_digit(s[2 * i + 1]);
    if (h < 0 || l < 0) return std::nullopt;
    out[i] = static_cast<unsigned char>(h * 16 + l);
  }
  return out;
}

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using Ctx = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

Ctx new_ctx() {
  Ctx c(EVP_CIPHER_CTX_new());
  if (!c) throw std::runtime_error("EVP_CIPHER_CTX_new failed");
  return c;
}

int len_of(std::size_t n) {
  return static_cast<int>(n);
}

SecretBox::Key parse_key(const std::string& path, const std::string& text) {
  std::string_view s = text;
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' '))
    s.remove_suffix(1);
  auto bytes = from_hex(s);
  if (!bytes || bytes->size() != SecretBox::kKeyBytes)
    throw std::runtime_error("secrets key file " + path + " must hold " +
                             std::to_string(2 * SecretBox::kKeyBytes) + " hex digits");
  SecretBox::Key key;
  std::copy(bytes->begin(), bytes->end(), key.begin());
  return key;
}

}  // namespace

SecretBox SecretBox::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read secrets key file " + path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() > 256) throw std::runtime_error("secrets key file " + path + " is too large");
  return SecretBox(parse_key(path, text));
}

SecretBox SecretBox::load_or_create(const std::string& path, bool* created) {
  if (created) *created = false;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return load(path);
    throw std::runtime_error("cannot create secrets key file " + path + ": " +
                             std::strerror(errno));
  }
  Key key;
  if (RAND_bytes(key.data(), len_of(key.size())) != 1) {
    ::close(fd);
    ::unlink(path.c_str());
    throw std::runtime_error("RAND_bytes failed");
  }
  const std::string text = to_hex(key.data(), key.size()) + "\n";
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    throw std::runtime_error("cannot write secrets key file " + path);
  }
  if (created) *created = true;
  return SecretBox(key);
}

std::string SecretBox::seal(std::string_view plaintext, std::string_view context) const {
  std::vector<unsigned char> out(kNonceBytes + plaintext.size() + kTagBytes);
  unsigned char* nonce = out.data();
  unsigned char* cipher = out.data() + kNonceBytes;
  if (RAND_bytes(nonce, len_of(kNonceBytes)) != 1) throw std::runtime_error("RAND_bytes failed");
  Ctx c = new_ctx();
  int n = 0;
  if (EVP_EncryptInit_ex(c.get(), EVP_aes_256_gcm(), nullptr, key_.data(), nonce) != 1 ||
      EVP_EncryptUpdate(c.get(), nullptr, &n,
                        reinterpret_cast<const unsigned char*>(context.data()),
                        len_of(context.size())) != 1 ||
      EVP_EncryptUpdate(c.get(), cipher, &n,
                        reinterpret_cast<const unsigned char*>(plaintext.data()),
                        len_of(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(c.get(), cipher + n, &n) != 1 ||
      EVP_CIPHER_CTX_ctrl(c.get(), EVP_CTRL_GCM_GET_TAG, len_of(kTagBytes),
                          cipher + plaintext.size()) != 1)
    throw std::runtime_error("AES-256-GCM encryption failed");
  return std::string(kPrefix) + to_hex(out.data(), out.size());
}

std::optional<std::string> SecretBox::open(std::string_view sealed,
                                           std::string_view context) const {
  if (sealed.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  auto bytes = from_hex(sealed.substr(kPrefix.size()));
  if (!bytes || bytes->size() < kNonceBytes + kTagBytes) return std::nullopt;
  const std::size_t len = bytes->size() - kNonceBytes - kTagBytes;
  const unsigned char* nonce = bytes->data();
  const unsigned char* cipher = bytes->data() + kNonceBytes;
  std::vector<unsigned char> tag(cipher + len, cipher + len + kTagBytes);
  std::string plain(len, '\0');
  Ctx c = new_ctx();
  int n = 0;
  if (EVP_DecryptInit_ex(c.get(), EVP_aes_256_gcm(), nullptr, key_.data(), nonce) != 1 ||
      EVP_DecryptUpdate(c.get(), nullptr, &n,
                        reinterpret_cast<const unsigned char*>(context.data()),
                        len_of(context.size())) != 1 ||
      EVP_DecryptUpdate(c.get(), reinterpret_cast<unsigned char*>(plain.data()), &n, cipher,
                        len_of(len)) != 1 ||
      EVP_CIPHER_CTX_ctrl(c.get(), EVP_CTRL_GCM_SET_TAG, len_of(kTagBytes), tag.data()) != 1)
    return std::nullopt;
  // The tag is checked here: a wrong key, context or any altered byte fails.
  if (EVP_DecryptFinal_ex(c.get(), reinterpret_cast<unsigned char*>(plain.data()) + n, &n) != 1)
    return std::nullopt;
  return plain;
}

std::string SecretBox::fingerprint() const {
  static constexpr std::string_view kLabel = "appointd secrets key check v1";
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), key_.data(), len_of(key_.size()),
            reinterpret_cast<const unsigned char*>(kLabel.data()), kLabel.size(), mac, &len))
    throw std::runtime_error("HMAC failed");
  return to_hex(mac, len);
}

std::string mask_secret(std::string_view secret) {
  const std::size_t shown = secret.size() >= 8 ? 4 : 0;
  return "\u2022\u2022\u2022\u2022" + std::string(secret.substr(secret.size() - shown));
}

}  // namespace appointd::sync
