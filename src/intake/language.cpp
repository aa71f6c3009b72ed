#include "intake/language.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>

namespace appointd::intake {
namespace {

constexpr std::array<const char*, 7> kWeekdaysDe = {"Sonntag",    "Montag",  "Dienstag", "Mittwoch",
                                                    "Donnerstag", "Freitag", "Samstag"};
constexpr std::array<const char*, 7> kWeekdaysEn = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                    "Thursday", "Friday", "Saturday"};
constexpr std::array<const char*, 12> kMonthsDe = {"Januar",    "Februar", "M\u00e4rz", "April",
                                                   "Mai",       "Juni",    "Juli",      "August",
                                                   "September", "Oktober", "November",  "Dezember"};
constexpr std::array<const char*, 12> kMonthsEn = {"January",   "February", "March",    "April",
                                                   "May",       "June",     "July",     "August",
                                                   "September", "October",  "November", "December"};

std::string two_digits(unsigned v) {
  return {static_cast<char>('0' + v / 10 % 10), static_cast<char>('0' + v % 10)};
}

// --- fold_name ---

// What a code point of Latin-1 Supplement or Latin Extended-A stands for: a lower-case base
// letter (or two), "" for a combining accent (dropped), " " for anything else (a separator).
struct Fold {
  char32_t first;
  char32_t last;
  const char* to;
};

constexpr Fold kFolds[] = {
    // Latin-1 Supplement (U+00C0..U+00FF; U+0080..U+00BF are controls and punctuation).
    {0xC0, 0xC5, "a"},
    {0xC6, 0xC6, "ae"},
    {0xC7, 0xC7, "c"},
    {0xC8, 0xCB, "e"},
    {0xCC, 0xCF, "i"},
    {0xD0, 0xD0, "d"},
    {0xD1, 0xD1, "n"},
    {0xD2, 0xD6, "o"},
    {0xD7, 0xD7, " "},
    {0xD8, 0xD8, "o"},
    {0xD9, 0xDC, "u"},
    {0xDD, 0xDD, "y"},
    {0xDE, 0xDE, "th"},
    {0xDF, 0xDF, "ss"},
    {0xE0, 0xE5, "a"},
    {0xE6, 0xE6, "ae"},
    {0xE7, 0xE7, "c"},
    {0xE8, 0xEB, "e"},
    {0xEC, 0xEF, "i"},
    {0xF0, 0xF0, "d"},
    {0xF1, 0xF1, "n"},
    {0xF2, 0xF6, "o"},
    {0xF7, 0xF7, " "},
    {0xF8, 0xF8, "o"},
    {0xF9, 0xFC, "u"},
    {0xFD, 0xFD, "y"},
    {0xFE, 0xFE, "th"},
    {0xFF, 0xFF, "y"},
    // Latin Extended-A (U+0100..U+017F): upper and lower case side by side.
    {0x100, 0x105, "a"},
    {0x106, 0x10D, "c"},
    {0x10E, 0x111, "d"},
    {0x112, 0x11B, "e"},
    {0x11C, 0x123, "g"},
    {0x124, 0x127, "h"},
    {0x128, 0x131, "i"},
    {0x132, 0x133, "ij"},
    {0x134, 0x135, "j"},
    {0x136, 0x138, "k"},
    {0x139, 0x142, "l"},
    {0x143, 0x14B, "n"},
    {0x14C, 0x151, "o"},
    {0x152, 0x153, "oe"},
    {0x154, 0x159, "r"},
    {0x15A, 0x161, "s"},
    {0x162, 0x167, "t"},
    {0x168, 0x173, "u"},
    {0x174, 0x175, "w"},
    {0x176, 0x178, "y"},
    {0x179, 0x17E, "z"},
    {0x17F, 0x17F, "s"},
    // Combining diacritical marks: "a" + U+0308 is "ä" decomposed.
    {0x300, 0x36F, ""},
    // General Punctuation (dashes, typographic quotes, spaces).
    {0x2000, 0x206F, " "},
};

// The folded form of code point `cp` above ASCII; nullptr to keep it as it is (a letter of
// another script).
const char* fold_code_point(char32_t cp) {
  if (cp < 0xC0) return " ";  // C1 controls and Latin-1 punctuation
  for (const Fold& f : kFolds)
    if (cp >= f.first && cp <= f.last) return f.to;
  return nullptr;
}

// Decodes the UTF-8 sequence at s[i]; returns its length, or 0 when it is invalid (overlong,
// surrogate, above U+10FFFF or truncated).
std::size_t decode_utf8(std::string_view s, std::size_t i, char32_t& cp) {
  const auto b = static_cast<unsigned char>(s[i]);
  std::size_t n = 0;
  char32_t min = 0;
  if (b >= 0xC2 && b <= 0xDF) {
    n = 2, cp = b & 0x1F, min = 0x80;
  } else if (b >= 0xE0 && b <= 0xEF) {
    n = 3, cp = b & 0x0F, min = 0x800;
  } else if (b >= 0xF0 && b <= 0xF4) {
    n = 4, cp = b & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    const auto c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (c & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

bool is_ascii_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// Builds a folded name: separators collapse into one space between words, and the German
// transcriptions fold as they are appended (an 'e' after 'a', 'o' or 'u' is dropped, so that
// folding twice changes nothing: "aee" -> "a").
class Folder {
 public:
  void separator() { space_ = !out_.empty(); }
  void letters(std::string_view s) {
    for (char c : s) letter(c);
  }
  void letter(char c) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (space_)
      out_ += ' ';
    else if (c == 'e' && !out_.empty() &&
             (out_.back() == 'a' || out_.back() == 'o' || out_.back() == 'u'))
      return;
    space_ = false;
    out_ += c;
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
  bool space_ = false;
};

std::vector<std::string> words_of(const std::string& folded) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < folded.size()) {
    std::size_t j = folded.find(' ', i);
    if (j == std::string::npos) j = folded.size();
    out.push_back(folded.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

// Rule 2 of match_name: every query word is the start of (or is) some word of the candidate.
bool words_fit(const std::vector<std::string>& query_words,
               const std::vector<std::string>& candidate_words) {
  return std::all_of(query_words.begin(), query_words.end(), [&](const std::string& q) {
    return std::any_of(candidate_words.begin(), candidate_words.end(),
                       [&](const std::string& w) { return w.starts_with(q); });
  });
}

NameMatch from_hits(const std::vector<std::size_t>& hits) {
  NameMatch m;
  if (hits.size() == 1)
    m.found = hits[0];
  else
    m.ambiguous = hits;
  return m;
}

// Rule 4: the smallest distance between the query (or one of its words) and the candidate (or
// one of its words), counting only pairs within max(1, length / 3) of the query side's length;
// nullopt when no pair is that near.
std::optional<int> near_distance(const std::vector<std::string>& query_forms,
                                 const std::vector<std::string>& candidate_forms) {
  std::optional<int> best;
  for (const auto& q : query_forms) {
    const int cap = std::max(1, static_cast<int>(q.size()) / 3);
    for (const auto& c : candidate_forms) {
      const int d = edit_distance(q, c, cap);
      if (d <= cap && (!best || d < *best)) best = d;
    }
  }
  return best;
}

// The whole folded name followed by its words (the words only when there are several).
std::vector<std::string> forms_of(const std::string& folded) {
  std::vector<std::string> forms{folded};
  auto words = words_of(folded);
  if (words.size() > 1) forms.insert(forms.end(), words.begin(), words.end());
  return forms;
}

}  // namespace

const char* to_string(Language l) {
  return l == Language::kDe ? "de" : "en";
}

std::optional<Language> parse_language(std::string_view s) {
  if (s == "de") return Language::kDe;
  if (s == "en") return Language::kEn;
  return std::nullopt;
}

std::string spoken_date_time(Language l, date::local_seconds t) {
  return spoken_date(l, date::floor<date::days>(t)) + ", " + spoken_time(l, t);
}

std::string spoken_date(Language l, date::local_days d, bool with_year) {
  const date::year_month_day ymd{d};
  const unsigned wd = date::weekday{d}.c_encoding();
  const unsigned m = unsigned(ymd.month()) - 1;
  const std::string day = std::to_string(unsigned(ymd.day()));
  const std::string year = std::to_string(int(ymd.year()));
  if (l == Language::kDe) {
    std::string s = std::string(kWeekdaysDe[wd]) + ", " + day + ". " + kMonthsDe[m];
    return with_year ? s + " " + year : s;
  }
  std::string s = std::string(kWeekdaysEn[wd]) + ", " + kMonthsEn[m] + " " + day;
  return with_year ? s + ", " + year : s;
}

std::string spoken_time(Language l, date::local_seconds t) {
  const auto since_midnight = t - date::floor<date::days>(t);
  const auto minutes = date::floor<std::chrono::minutes>(since_midnight).count();
  const auto h = static_cast<unsigned>(minutes / 60);
  const auto m = static_cast<unsigned>(minutes % 60);
  // German: the 24-hour clock without a leading zero ("9:05", "14:30").
  if (l == Language::kDe) return std::to_string(h) + ":" + two_digits(m);
  // English: 12-hour clock; full hours without minutes ("2 PM"); 0:xx is 12 AM, 12:xx is 12 PM.
  const unsigned h12 = h % 12 == 0 ? 12 : h % 12;
  std::string s = std::to_string(h12);
  if (m != 0) s += ":" + two_digits(m);
  return s + (h < 12 ? " AM" : " PM");
}

std::string spoken_duration(Language l, int minutes) {
  const bool de = l == Language::kDe;
  if (minutes >= 60 && minutes % 60 == 0) {
    const int hours = minutes / 60;
    const char* unit = hours == 1 ? (de ? " Stunde" : " hour") : (de ? " Stunden" : " hours");
    return std::to_string(hours) + unit;
  }
  const char* unit = minutes == 1 ? (de ? " Minute" : " minute") : (de ? " Minuten" : " minutes");
  return std::to_string(minutes) + unit;
}

std::string spoken_list(Language l, const std::vector<std::string>& items, bool alternative) {
  const char* last_joint = alternative ? (l == Language::kDe ? " oder " : " or ")
                                       : (l == Language::kDe ? " und " : " and ");
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += i + 1 == items.size() ? last_joint : ", ";
    out += items[i];
  }
  return out;
}

std::string fold_name(std::string_view utf8) {
  Folder f;
  std::size_t i = 0;
  while (i < utf8.size()) {
    const char c = utf8[i];
    if (static_cast<unsigned char>(c) < 0x80) {
      if (is_ascii_alnum(c))
        f.letter(c);
      else
        f.separator();
      ++i;
      continue;
    }
    char32_t cp = 0;
    const std::size_t n = decode_utf8(utf8, i, cp);
    if (n == 0) {  // an invalid byte: dropped, as if it were not there
      ++i;
      continue;
    }
    const char* to = fold_code_point(cp);
    if (to == nullptr)
      f.letters(utf8.substr(i, n));  // bytes >= 0x80: never case-folded
    else if (std::string_view(to) == " ")
      f.separator();
    else
      f.letters(to);
    i += n;
  }
  return f.take();
}

int edit_distance(std::string_view a, std::string_view b, int cap) {
  if (cap < 0) return cap + 1;  // every distance is above a negative cap
  const auto la = static_cast<int>(a.size());
  const auto lb = static_cast<int>(b.size());
  if (std::abs(la - lb) > cap) return cap + 1;
  std::vector<int> prev(lb + 1), cur(lb + 1);
  for (int j = 0; j <= lb; ++j) prev[j] = j;
  for (int i = 1; i <= la; ++i) {
    cur[0] = i;
    int row_min = cur[0];
    for (int j = 1; j <= lb; ++j) {
      const int sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({sub, prev[j] + 1, cur[j - 1] + 1});
      row_min = std::min(row_min, cur[j]);
    }
    if (row_min > cap) return cap + 1;  // the distance only grows from here
    std::swap(prev, cur);
  }
  return std::min(prev[lb], cap + 1);
}

NameMatch match_name(std::string_view query, const std::vector<std::string>& candidates) {
  const std::string q = fold_name(query);
  if (q.empty()) return {};
  std::vector<std::string> folded;
  folded.reserve(candidates.size());
  for (const auto& c : candidates) folded.push_back(fold_name(c));

  std::vector<std::size_t> exact, by_words, by_substring;
  const auto query_words = words_of(q);
  for (std::size_t i = 0; i < folded.size(); ++i) {
    if (folded[i].empty()) continue;
    if (folded[i] == q) exact.push_back(i);
    if (words_fit(query_words, words_of(folded[i]))) by_words.push_back(i);
    if (folded[i].find(q) != std::string::npos) by_substring.push_back(i);
  }
  if (exact.size() == 1) return from_hits(exact);
  if (!by_words.empty()) return from_hits(by_words);
  if (!by_substring.empty()) return from_hits(by_substring);

  NameMatch m;
  std::optional<int> best;
  const auto query_forms = forms_of(q);
  for (std::size_t i = 0; i < folded.size(); ++i) {
    if (folded[i].empty()) continue;
    const auto d = near_distance(query_forms, forms_of(folded[i]));
    if (d && (!best || *d < *best)) {  // strictly nearer: ties stay with the lower index
      best = d;
      m.suggestion = i;
    }
  }
  return m;
}

}  // namespace appointd::intake
