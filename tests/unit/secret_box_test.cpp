// Provider secrets at rest: sealed values open only under their key and context, a key file is
// created once with mode 0600, and a wrong or broken key file is a clear error.
#include "sync/secret_box.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

using appointd::sync::mask_secret;
using appointd::sync::SecretBox;

namespace {

std::string temp_dir() {
  char tmpl[] = "/tmp/appointd-secretbox-XXXXXX";
  const char* d = ::mkdtemp(tmpl);
  EXPECT_NE(d, nullptr);
  return d ? d : "/tmp";
}

SecretBox::Key key_of(unsigned char fill) {
  SecretBox::Key k;
  k.fill(fill);
  return k;
}

}  // namespace

TEST(SecretBox, SealsAndOpensUnderItsKeyAndContextOnly) {
  const SecretBox box(key_of(1)), other(key_of(2));
  const std::string secret = "cal_live_0123456789abcdef";
  const std::string sealed = box.seal(secret, "calcom.api_key:company:7");
  EXPECT_EQ(sealed.rfind("v1:", 0), 0u);
  EXPECT_EQ(sealed.find(secret), std::string::npos);
  EXPECT_EQ(box.open(sealed, "calcom.api_key:company:7").value_or("?"), secret);
  // Two seals of one secret differ (fresh nonce), both open.
  const std::string again = box.seal(secret, "calcom.api_key:company:7");
  EXPECT_NE(again, sealed);
  EXPECT_EQ(box.open(again, "calcom.api_key:company:7").value_or("?"), secret);
  // Another key, another context (another company's row), any altered byte: nothing.
  EXPECT_FALSE(other.open(sealed, "calcom.api_key:company:7"));
  EXPECT_FALSE(box.open(sealed, "calcom.api_key:company:8"));
  for (std::size_t i = 3; i < sealed.size(); i += 7) {
    std::string bad = sealed;
    bad[i] = bad[i] == '0' ? '1' : '0';
    EXPECT_FALSE(box.open(bad, "calcom.api_key:company:7")) << i;
  }
  EXPECT_FALSE(box.open(sealed.substr(0, sealed.size() - 2), "calcom.api_key:company:7"));
  EXPECT_FALSE(box.open("v2:00", "x"));
  EXPECT_FALSE(box.open("", "x"));
  EXPECT_EQ(box.open(box.seal("", "c"), "c").value_or("?"), "");
}

TEST(SecretBox, FingerprintNamesTheKeyWithoutRevealingIt) {
  const SecretBox a(key_of(1)), b(key_of(2));
  EXPECT_EQ(a.fingerprint(), SecretBox(key_of(1)).fingerprint());
  EXPECT_NE(a.fingerprint(), b.fingerprint());
  EXPECT_EQ(a.fingerprint().size(), 64u);
  EXPECT_EQ(a.fingerprint().find("0101010101"), std::string::npos);
}

TEST(SecretBox, KeyFileIsCreatedOnceWithMode0600) {
  const std::string dir = temp_dir();
  const std::string path = dir + "/secrets.key";
  bool created = false;
  const SecretBox first = SecretBox::load_or_create(path, &created);
  EXPECT_TRUE(created);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const std::string sealed = first.seal("s", "c");
  const SecretBox second = SecretBox::load_or_create(path, &created);
  EXPECT_FALSE(created);
  EXPECT_EQ(second.fingerprint(), first.fingerprint());
  EXPECT_EQ(second.open(sealed, "c").value_or("?"), "s");
  EXPECT_EQ(SecretBox::load(path).fingerprint(), first.fingerprint());
  ::unlink(path.c_str());
  ::rmdir(dir.c_str());
}

TEST(SecretBox, BrokenOrMissingKeyFileIsAClearError) {
  const std::string dir = temp_dir();
  const std::string path = dir + "/bad.key";
  EXPECT_THROW(SecretBox::load(dir + "/missing.key"), std::runtime_error);
  for (const char* content : {"", "abc", "zz", "0011"}) {
    std::ofstream(path) << content;
    try {
      SecretBox::load(path);
      ADD_FAILURE() << "accepted: " << content;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  }
  std::ofstream(path) << std::string(64, 'a') << "\n";
  EXPECT_NO_THROW(SecretBox::load(path));
  EXPECT_THROW(SecretBox::load_or_create(dir + "/no/such/dir/k", nullptr), std::runtime_error);
  ::unlink(path.c_str());
  ::rmdir(dir.c_str());
}

TEST(SecretBox, MaskShowsOnlyTheLastFour) {
  EXPECT_EQ(mask_secret("cal_live_abcd1234"), "\u2022\u2022\u2022\u20221234");
  EXPECT_EQ(mask_secret("short"), "\u2022\u2022\u2022\u2022");  // short secrets show nothing
}
