// Retell's X-Retell-Signature (src/intake/retell_signature.h): a signed body verifies under its
// key within 5 minutes either way and nothing else does; every header the parser refuses is
// named; and, against Retell's official SDK (npm retell-sdk, run by tests/fakes/retell_sign.mjs
// under node), the SDK's signatures verify here, ours verify there, our sign() is the SDK's byte
// for byte, and both give the same verdict on every header variant below.
#include "intake/retell_signature.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

using appointd::intake::kRetellSignatureWindow;
using appointd::intake::sign_retell;
using appointd::intake::SignatureCheck;
using appointd::intake::verify_retell_signature;
using std::chrono::milliseconds;

namespace fs = std::filesystem;

namespace {

constexpr const char* kKey = "key_8c3e1f0a9b2d4e6f7a8b9c0d1e2f";
constexpr const char* kBody =
    R"({"name":"check_availability","call":{"call_id":"call_1","from_number":"+4930123456"},)"
    R"("args":{"service":"Herrenschnitt","date":"2026-12-08"}})";
constexpr std::int64_t kT = 1'796'000'000'000;  // 2026-11-30T00:53:20Z, in Unix ms
constexpr std::int64_t kFiveMin = 5 * 60 * 1000;
constexpr std::int64_t kMaxSafe = (1LL << 53) - 1;

SignatureCheck check(std::string_view header, std::int64_t now = kT, std::string_view body = kBody,
                     std::string_view key = kKey) {
  return verify_retell_signature(key, body, header, milliseconds(now));
}

std::string digest_of(const std::string& header) {
  return header.substr(header.find(",d=") + 3);
}

std::string upper(std::string s) {
  for (char& c : s)
    if (c >= 'a' && c <= 'f') c = static_cast<char>(c - 'a' + 'A');
  return s;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// ---- the scheme --------------------------------------------------------------------------------

TEST(RetellSignature, RoundTrip) {
  const std::string h = sign_retell(kKey, kBody, kT);
  EXPECT_EQ(h.rfind("v=1796000000000,d=", 0), 0u) << h;
  EXPECT_EQ(digest_of(h).size(), 64u);
  EXPECT_EQ(check(h), SignatureCheck::kOk);
  EXPECT_EQ(check(h, kT + 1000), SignatureCheck::kOk);
  EXPECT_EQ(check(h, kT - 1000), SignatureCheck::kOk);
  // Any bytes: an empty body, a NUL inside, non-ASCII UTF-8.
  for (const std::string& body :
       {std::string(), std::string("a\0b", 3), std::string(R"({"name":"Jürgen Müller 😀"})")}) {
    EXPECT_EQ(check(sign_retell(kKey, body, kT), kT, body), SignatureCheck::kOk);
  }
  // Deterministic, and the timestamp is part of what is signed.
  EXPECT_EQ(sign_retell(kKey, kBody, kT), h);
  EXPECT_NE(digest_of(sign_retell(kKey, kBody, kT + 1)), digest_of(h));
}

// An independent vector: Python's hmac.new(b"key_test", b'{"a":1}1700000000000',
// hashlib.sha256).hexdigest(), which retell-sdk 5.66.1 also prints for
// `symmetric.sign('{"a":1}', 'key_test', 1700000000000)`: the MAC is over body then timestamp.
TEST(RetellSignature, KnownVector) {
  const std::string want =
      "v=1700000000000,d=d0c8330e80341a21f6315e3a64165c948ab9794b28cdaec1f6149fb005fea6b1";
  EXPECT_EQ(sign_retell("key_test", R"({"a":1})", 1'700'000'000'000), want);
  EXPECT_EQ(
      verify_retell_signature("key_test", R"({"a":1})", want, milliseconds(1'700'000'000'000)),
      SignatureCheck::kOk);
}

TEST(RetellSignature, TamperedBodyIsAMismatch) {
  const std::string h = sign_retell(kKey, kBody, kT);
  std::string body = kBody;
  for (std::size_t i = 0; i < body.size(); i += 13) {
    std::string bad = body;
    bad[i] ^= 0x01;
    EXPECT_EQ(check(h, kT, bad), SignatureCheck::kMismatch) << i;
  }
  EXPECT_EQ(check(h, kT, body + " "), SignatureCheck::kMismatch);
  EXPECT_EQ(check(h, kT, body + "\n"), SignatureCheck::kMismatch);
  EXPECT_EQ(check(h, kT, body.substr(0, body.size() - 1)), SignatureCheck::kMismatch);
  EXPECT_EQ(check(h, kT, ""), SignatureCheck::kMismatch);
}

// Nothing separates the body from the timestamp in what is signed, so "x" at 1796000000000 and
// "x1" at 796000000000 have one MAC. Moving digits from the timestamp into the body always makes
// the timestamp at least ten times smaller: decades stale, refused before the MAC.
TEST(RetellSignature, DigitsMovedFromTheTimestampIntoTheBodyAreStale) {
  const std::string d = digest_of(sign_retell(kKey, "x", kT));
  EXPECT_EQ(d, digest_of(sign_retell(kKey, "x1", 796'000'000'000)));
  EXPECT_EQ(check("v=" + std::to_string(kT) + ",d=" + d, kT, "x"), SignatureCheck::kOk);
  EXPECT_EQ(check("v=796000000000,d=" + d, kT, "x1"), SignatureCheck::kStale);
  EXPECT_EQ(check("v=0796000000000,d=" + d, kT, "x1"), SignatureCheck::kStale);
  EXPECT_EQ(check("v=96000000000,d=" + d, kT, "x17"), SignatureCheck::kStale);
}

TEST(RetellSignature, WrongKeyIsAMismatch) {
  const std::string h = sign_retell(kKey, kBody, kT);
  EXPECT_EQ(check(h, kT, kBody, "key_8c3e1f0a9b2d4e6f7a8b9c0d1e2e"), SignatureCheck::kMismatch);
  EXPECT_EQ(check(h, kT, kBody, std::string(kKey) + " "), SignatureCheck::kMismatch);
  EXPECT_EQ(check(h, kT, kBody, "KEY_8C3E1F0A9B2D4E6F7A8B9C0D1E2F"), SignatureCheck::kMismatch);
  // No key configured: nothing passes, not even a signature made with the empty key.
  EXPECT_EQ(check(sign_retell("", kBody, kT), kT, kBody, ""), SignatureCheck::kMismatch);
  EXPECT_EQ(check(h, kT, kBody, ""), SignatureCheck::kMismatch);
}

TEST(RetellSignature, TamperedTimestampOrDigestIsAMismatch) {
  const std::string h = sign_retell(kKey, kBody, kT);
  const std::string d = digest_of(h);
  EXPECT_EQ(check("v=" + std::to_string(kT + 1) + ",d=" + d), SignatureCheck::kMismatch);
  EXPECT_EQ(check("v=" + std::to_string(kT - 60'000) + ",d=" + d), SignatureCheck::kMismatch);
  for (std::size_t i = 0; i < d.size(); i += 5) {
    std::string bad = d;
    bad[i] = bad[i] == '0' ? '1' : '0';
    EXPECT_EQ(check("v=" + std::to_string(kT) + ",d=" + bad), SignatureCheck::kMismatch) << i;
  }
}

TEST(RetellSignature, StaleBeyondFiveMinutesEitherWay) {
  ASSERT_EQ(kRetellSignatureWindow, milliseconds(kFiveMin));
  const std::string h = sign_retell(kKey, kBody, kT);
  // The boundary is inclusive, as the SDK's `Math.abs(now - v) > timeout`.
  EXPECT_EQ(check(h, kT + kFiveMin), SignatureCheck::kOk);
  EXPECT_EQ(check(h, kT - kFiveMin), SignatureCheck::kOk);
  EXPECT_EQ(check(h, kT + kFiveMin + 1), SignatureCheck::kStale);  // signed too long ago
  EXPECT_EQ(check(h, kT - kFiveMin - 1), SignatureCheck::kStale);  // signed in the future
  EXPECT_EQ(check(h, kT + 3'600'000), SignatureCheck::kStale);
  EXPECT_EQ(check(h, kT - 3'600'000), SignatureCheck::kStale);
  EXPECT_EQ(check(h, 0), SignatureCheck::kStale);
  // Stale comes before the MAC: a stale header with a wrong key or body is still "stale".
  EXPECT_EQ(check(h, kT + kFiveMin + 1, "other body", "other key"), SignatureCheck::kStale);
  // Extreme clocks and timestamps overflow nothing.
  EXPECT_EQ(check(h, std::numeric_limits<std::int64_t>::max()), SignatureCheck::kStale);
  EXPECT_EQ(check(h, std::numeric_limits<std::int64_t>::min()), SignatureCheck::kStale);
  EXPECT_EQ(check(sign_retell(kKey, kBody, kMaxSafe), std::numeric_limits<std::int64_t>::min()),
            SignatureCheck::kStale);
  EXPECT_EQ(check(sign_retell(kKey, kBody, kMaxSafe), kMaxSafe), SignatureCheck::kOk);
  EXPECT_EQ(check(sign_retell(kKey, kBody, 0), 0), SignatureCheck::kOk);
  // Another window.
  const auto at = [&](std::int64_t now, milliseconds w) {
    return verify_retell_signature(kKey, kBody, h, milliseconds(now), w);
  };
  EXPECT_EQ(at(kT + 1000, milliseconds(1000)), SignatureCheck::kOk);
  EXPECT_EQ(at(kT + 1001, milliseconds(1000)), SignatureCheck::kStale);
  EXPECT_EQ(at(kT, milliseconds(0)), SignatureCheck::kOk);
  EXPECT_EQ(at(kT + 1, milliseconds(0)), SignatureCheck::kStale);
  EXPECT_EQ(at(kT, milliseconds(-1)), SignatureCheck::kStale);
}

TEST(RetellSignature, MissingHeader) {
  EXPECT_EQ(check(""), SignatureCheck::kMissing);
}

TEST(RetellSignature, MalformedHeaders) {
  const std::string h = sign_retell(kKey, kBody, kT);
  const std::string v = std::to_string(kT), d = digest_of(h);
  const std::vector<std::string> bad = {
      " ",
      "garbage",
      d,                                      // a bare digest
      "sha256=" + d,                          // Cal.com's form
      "d=" + d + ",v=" + v,                   // fields swapped
      "v=" + v,                               // no d=
      "v=" + v + ",",                         //
      "v=" + v + ",d=",                       // empty digest
      "d=" + d,                               // no v=
      "v=,d=" + d,                            // empty timestamp
      "v=abc,d=" + d,                         // non-numeric timestamp
      "v=" + v + "x,d=" + d,                  //
      "v=-" + v + ",d=" + d,                  // signed
      "v=+" + v + ",d=" + d,                  //
      "v=1.796e12,d=" + d,                    // not an integer
      "v=0x1A2B,d=" + d,                      //
      "v=" + v + ",d=" + d.substr(1),         // 63 hex digits
      "v=" + v + ",d=" + d + "0",             // 65
      "v=" + v + ",d=" + d.substr(2) + "zz",  // not hex
      "v=" + v + ",d=" + d.substr(1) + "g",   //
      "v=" + v + ", d=" + d,                  // whitespace anywhere
      " v=" + v + ",d=" + d,                  //
      "v=" + v + ",d=" + d + " ",             //
      "v=" + v + ",d=" + d + "\n",            //
      "v=" + v + ";d=" + d,                   // another separator
      "v=" + v + ",d=" + d + ",x=1",          // extra fields
      "x=1,v=" + v + ",d=" + d,               //
      h + "," + h,                            // two signatures
      "t=" + v + ",v1=" + d,                  // Stripe's form
      "v=9007199254740992,d=" + d,            // 2^53: not a safe integer in the SDK
      "v=99999999999999999999999999,d=" + d,  // overflows int64
      std::string("v=") + v + ",d=" + d.substr(0, 10) + std::string("\0", 1) + d.substr(11),
  };
  for (const auto& b : bad) EXPECT_EQ(check(b), SignatureCheck::kMalformed) << "[" << b << "]";
  // 2^53 - 1 is still a timestamp (a stale one).
  EXPECT_EQ(check("v=9007199254740991,d=" + d), SignatureCheck::kStale);
}

// What retell-sdk 5.66.1's /^v=(\d+),d=([0-9a-f]+)$/i accepts, and Number(v) canonicalises.
TEST(RetellSignature, CaseAndLeadingZerosAsTheSdk) {
  const std::string h = sign_retell(kKey, kBody, kT);
  const std::string v = std::to_string(kT), d = digest_of(h);
  EXPECT_EQ(check("v=" + v + ",d=" + upper(d)), SignatureCheck::kOk);
  EXPECT_EQ(check("V=" + v + ",D=" + d), SignatureCheck::kOk);
  EXPECT_EQ(check("V=" + v + ",d=" + upper(d)), SignatureCheck::kOk);
  // "v=000…" is the timestamp's value, and the MAC is over its canonical decimal.
  EXPECT_EQ(check("v=000" + v + ",d=" + d), SignatureCheck::kOk);
  EXPECT_EQ(check("v=0000000000000000000000000000" + v + ",d=" + d), SignatureCheck::kOk);
  EXPECT_EQ(check("v=" + v + "0,d=" + d, kT * 10), SignatureCheck::kMismatch);
}

TEST(RetellSignature, NamesEveryOutcome) {
  using appointd::intake::to_string;
  EXPECT_EQ(to_string(SignatureCheck::kOk), "ok");
  EXPECT_EQ(to_string(SignatureCheck::kMissing), "missing");
  EXPECT_EQ(to_string(SignatureCheck::kMalformed), "malformed");
  EXPECT_EQ(to_string(SignatureCheck::kStale), "stale");
  EXPECT_EQ(to_string(SignatureCheck::kMismatch), "mismatch");
}

// ---- against Retell's SDK
// ------------------------------------------------------------------------

namespace {

using nlohmann::json;

std::optional<fs::path> find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream ss(path ? path : "");
  for (std::string dir; std::getline(ss, dir, ':');) {
    if (dir.empty()) continue;
    const fs::path p = fs::path(dir) / name;
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return std::nullopt;
}

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class RetellSignatureSdk : public ::testing::Test {
 protected:
  void SetUp() override {
    const fs::path fakes = fs::path(APPOINTD_SOURCE_DIR) / "tests/fakes";
    script_ = fakes / "retell_sign.mjs";
    ASSERT_TRUE(fs::exists(script_)) << script_;
    auto node = find_on_path("node");
    if (!node)
      GTEST_SKIP() << "node is not on the PATH: the cross-check against Retell's SDK needs it "
                      "(./test.sh installs nodejs and npm retell-sdk)";
    node_ = *node;
    if (!fs::exists(fakes / "node_modules/retell-sdk/package.json"))
      GTEST_SKIP() << "npm retell-sdk is not installed in " << (fakes / "node_modules").string()
                   << ": ./test.sh installs it (or: npm ci --prefix tests/fakes)";
    char tmpl[] = "/tmp/appointd-retell-XXXXXX";
    const char* d = ::mkdtemp(tmpl);
    ASSERT_NE(d, nullptr);
    dir_ = d;
  }

  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // Runs the cases through retell_sign.mjs; one result object per case.
  json run_sdk(const json& cases) {
    const fs::path in = dir_ / "cases.json", err = dir_ / "stderr.txt";
    std::ofstream(in, std::ios::binary) << cases.dump();
    const std::string cmd = quote(node_.string()) + " " + quote(script_.string()) + " " +
                            quote(in.string()) + " 2>" + quote(err.string());
    std::string out;
    FILE* p = ::popen(cmd.c_str(), "r");
    if (p == nullptr) {
      ADD_FAILURE() << "popen: " << cmd;
      return json::array();
    }
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
    const int status = ::pclose(p);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      ADD_FAILURE() << cmd << " failed (status " << status << "): " << slurp(err);
      return json::array();
    }
    const json r = json::parse(out, nullptr, false);
    if (r.is_discarded() || !r.contains("results") || r["results"].size() != cases.size()) {
      ADD_FAILURE() << "unexpected output of " << cmd << ": " << out << slurp(err);
      return json::array();
    }
    EXPECT_EQ(r.value("sdk_version", ""), "5.66.1") << "tests/fakes/package.json pins 5.66.1";
    for (const auto& x : r["results"]) EXPECT_FALSE(x.contains("error")) << x.dump();
    return r["results"];
  }

  // Bodies as Retell sends them (UTF-8 JSON), and some edge cases.
  static std::vector<std::string> bodies() {
    return {
        kBody,
        R"({"event":"call_inbound","call_inbound":{"agent_id":"agent_1","from_number":"+4915112345678","to_number":"+49301234567"}})",
        R"({"name":"book_appointment","args":{"name":"Jürgen Müller-Lüdenscheidt","notes":"Bitte »pünktlich« 😀 — danke"}})",
        "",
        "{\n  \"pretty\": true,\n  \"tab\": \"\\t\"\n}\n",
        std::string(70'000, 'x'),
    };
  }

  fs::path node_, script_, dir_;
};

}  // namespace

// The SDK's exported `sign(body, apiKey)` (timestamp: its clock, now) verifies here, and
// `symmetric.sign(body, apiKey, t)` is exactly our sign_retell(apiKey, body, t).
TEST_F(RetellSignatureSdk, SdkSignaturesVerifyAndOurSignIsTheSdks) {
  json cases = json::array();
  for (const auto& b : bodies())
    cases.push_back({{"api_key", kKey}, {"body", b}, {"timestamp", kT}});
  cases.push_back(
      {{"api_key", "key_test"}, {"body", R"({"a":1})"}, {"timestamp", 1'700'000'000'000}});
  cases.push_back({{"api_key", kKey}, {"body", kBody}, {"timestamp", 0}});
  cases.push_back({{"api_key", kKey}, {"body", kBody}, {"timestamp", kMaxSafe}});
  const json r = run_sdk(cases);
  ASSERT_EQ(r.size(), cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const std::string key = cases[i]["api_key"], body = cases[i]["body"];
    const std::int64_t t = cases[i]["timestamp"];
    const std::string sdk_now = r[i].value("sign_now", ""), sdk_at = r[i].value("sign_at", "");
    EXPECT_EQ(verify_retell_signature(key, body, sdk_now, milliseconds(now_ms())),
              SignatureCheck::kOk)
        << i << ": " << sdk_now;
    EXPECT_EQ(verify_retell_signature("key_other", body, sdk_now, milliseconds(now_ms())),
              SignatureCheck::kMismatch)
        << i;
    EXPECT_EQ(verify_retell_signature(key, body + "!", sdk_now, milliseconds(now_ms())),
              SignatureCheck::kMismatch)
        << i;
    EXPECT_EQ(sdk_at, sign_retell(key, body, t)) << i;
    EXPECT_EQ(verify_retell_signature(key, body, sdk_at, milliseconds(t)), SignatureCheck::kOk)
        << i;
  }
}

// The SDK's exported `verify(body, apiKey, signature)` (its clock) accepts what we sign now.
TEST_F(RetellSignatureSdk, SdkVerifiesOurSignatures) {
  json cases = json::array();
  const std::int64_t now = now_ms();
  for (const auto& b : bodies()) {
    cases.push_back({{"api_key", kKey}, {"body", b}, {"header", sign_retell(kKey, b, now)}});
    cases.push_back({{"api_key", "key_other"}, {"body", b}, {"header", sign_retell(kKey, b, now)}});
  }
  const json r = run_sdk(cases);
  ASSERT_EQ(r.size(), cases.size());
  for (std::size_t i = 0; i < cases.size(); i += 2) {
    EXPECT_EQ(r[i].value("verify", false), true) << i << ": " << cases[i]["header"];
    EXPECT_EQ(r[i + 1].value("verify", true), false) << i + 1;
  }
}

// Same verdict as the SDK's `symmetric.verify(body, key, header, {timestamp: now})` for every
// variant: accepted here (kOk) exactly when the SDK says true.
TEST_F(RetellSignatureSdk, SameVerdictAsTheSdkOnEveryVariant) {
  const std::string h = sign_retell(kKey, kBody, kT);
  const std::string v = std::to_string(kT), d = digest_of(h);
  struct Case {
    std::string header;
    std::int64_t now;
    std::string body = kBody;
    std::string key = kKey;
  };
  const std::vector<Case> variants = {
      {h, kT},
      {h, kT + kFiveMin},
      {h, kT - kFiveMin},
      {h, kT + kFiveMin + 1},
      {h, kT - kFiveMin - 1},
      {h, kT, std::string(kBody) + " "},
      {h, kT, kBody, "key_other"},
      {"v=" + v + ",d=" + upper(d), kT},
      {"V=" + v + ",D=" + d, kT},
      {"v=000" + v + ",d=" + d, kT},
      {"v=" + std::to_string(kT + 1) + ",d=" + d, kT},
      {"v=" + v + ",d=" + d.substr(1), kT},
      {"v=" + v + ",d=" + d + "0", kT},
      {"v=" + v + ",d=" + d.substr(2) + "zz", kT},
      {"v=" + v + ", d=" + d, kT},
      {" v=" + v + ",d=" + d, kT},
      {"v=" + v + ",d=" + d + " ", kT},
      {"v=" + v + ",d=" + d + ",x=1", kT},
      {"d=" + d + ",v=" + v, kT},
      {"v=" + v, kT},
      {"v=abc,d=" + d, kT},
      {"v=-" + v + ",d=" + d, kT},
      {"v=9007199254740992,d=" + d, kT},
      {sign_retell(kKey, kBody, kMaxSafe), kMaxSafe},
      {"sha256=" + d, kT},
      {h + "," + h, kT},
  };
  json cases = json::array();
  for (const auto& c : variants)
    cases.push_back({{"api_key", c.key}, {"body", c.body}, {"header", c.header}, {"now", c.now}});
  const json r = run_sdk(cases);
  ASSERT_EQ(r.size(), cases.size());
  for (std::size_t i = 0; i < variants.size(); ++i) {
    const auto& c = variants[i];
    const SignatureCheck ours =
        verify_retell_signature(c.key, c.body, c.header, milliseconds(c.now));
    EXPECT_EQ(ours == SignatureCheck::kOk, r[i].value("verify_at", !(ours == SignatureCheck::kOk)))
        << i << ": [" << c.header << "] ours: " << appointd::intake::to_string(ours);
  }
}
