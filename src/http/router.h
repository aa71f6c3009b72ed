#pragma once
// Method + path-pattern routing ("/v1/appointments/{id}/cancel"). Patterns are matched segment
// by segment; `{name}` captures one segment. A request path is split at its literal slashes
// first and each segment percent-decoded after, so an encoded slash ("%2F") stays inside its
// segment and can never create a route. Immutable after start-up, so thread-safe to use.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace appointd::http {

using Params = std::map<std::string, std::string, std::less<>>;

// Decodes "%XX" escapes (and "+" as a space when plus_is_space) into out; false when an
// escape is broken.
bool percent_decode(std::string_view in, std::string& out, bool plus_is_space = false);

template <class Target>
class Router {
 public:
  void add(std::string method, std::string pattern, Target target) {
    routes_.push_back({std::move(method), pattern, split(pattern), std::move(target)});
  }

  struct Match {
    const Target* target = nullptr;  // null: no route
    const std::string* pattern = nullptr;
    bool path_known = false;  // some route has this path (for 405 vs 404)
    Params params;
  };

  // `path` as received (still percent-encoded); a segment with broken encoding matches nothing.
  Match match(std::string_view method, std::string_view path) const {
    Match m;
    std::vector<std::string> parts;
    for (auto& raw : split(path)) {
      std::string seg;
      if (!percent_decode(raw, seg)) return m;
      parts.push_back(std::move(seg));
    }
    for (const auto& r : routes_) {
      Params p;
      if (!matches(r.parts, parts, p)) continue;
      m.path_known = true;
      if (r.method == method) {
        m.target = &r.target;
        m.pattern = &r.pattern;
        m.params = std::move(p);
        return m;
      }
    }
    return m;
  }

  std::vector<std::string> patterns() const {
    std::vector<std::string> out;
    for (const auto& r : routes_) out.push_back(r.pattern);
    return out;
  }

 private:
  struct Route {
    std::string method, pattern;
    std::vector<std::string> parts;
    Target target;
  };

  static std::vector<std::string> split(std::string_view path) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < path.size()) {
      if (path[i] == '/') {
        ++i;
        continue;
      }
      size_t j = path.find('/', i);
      if (j == std::string_view::npos) j = path.size();
      out.emplace_back(path.substr(i, j - i));
      i = j;
    }
    return out;
  }

  static bool matches(const std::vector<std::string>& pat, const std::vector<std::string>& parts,
                      Params& p) {
    if (pat.size() != parts.size()) return false;
    for (size_t i = 0; i < pat.size(); ++i) {
      const auto& s = pat[i];
      if (s.size() > 2 && s.front() == '{' && s.back() == '}') {
        if (parts[i].find('/') != std::string::npos) return false;  // was "%2F": not a name
        p.emplace(s.substr(1, s.size() - 2), parts[i]);
      } else if (s != parts[i])
        return false;
    }
    return true;
  }

  std::vector<Route> routes_;
};

// A path or query value as a positive 64-bit id ("42"), or nullopt.
std::optional<std::int64_t> parse_positive_id(std::string_view s);

// Splits a request target into its path (left percent-encoded: Router::match decodes each
// segment after splitting) and decoded query parameters ("%20" and "+" decoded). Returns false
// when the percent-encoding of the path or the query is broken, or a query parameter repeats.
bool parse_target(std::string_view target, std::string& path,
                  std::map<std::string, std::string, std::less<>>& query);

}  // namespace appointd::http
