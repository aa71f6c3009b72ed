#include "http/router.h"

namespace appointd::http {
namespace {

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool percent_decode(std::string_view in, std::string& out, bool plus_is_space) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int h = hex(in[i + 1]);
      int l = hex(in[i + 2]);
      if (h < 0 || l < 0) return false;
      out += static_cast<char>(h * 16 + l);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return true;
}

std::optional<std::int64_t> parse_positive_id(std::string_view s) {
  if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string_view::npos)
    return std::nullopt;
  std::int64_t v = 0;
  for (char ch : s) v = v * 10 + (ch - '0');
  if (v <= 0) return std::nullopt;
  return v;
}

bool parse_target(std::string_view target, std::string& path,
                  std::map<std::string, std::string, std::less<>>& query) {
  size_t q = target.find('?');
  path = std::string(target.substr(0, q));
  std::string scratch;
  if (!percent_decode(path, scratch)) return false;
  if (q == std::string_view::npos) return true;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string k, v;
    if (!percent_decode(pair.substr(0, eq), k, true)) return false;
    if (eq != std::string_view::npos && !percent_decode(pair.substr(eq + 1), v, true)) return false;
    // A parameter given twice is ambiguous (which one counts?): refused like a broken one.
    if (!query.emplace(std::move(k), std::move(v)).second) return false;
  }
  return true;
}

}  // namespace appointd::http
