#pragma once
// What the phone agent says, in the company's language: spoken dates and times, lists, and the
// matching of what a caller said against names (services, staff). Pure functions, thread-safe.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <date/date.h>

namespace appointd::intake {

enum class Language { kDe, kEn };

// "de" / "en"
const char* to_string(Language l);
// "de" or "en" (exactly, lower case); nullopt otherwise.
std::optional<Language> parse_language(std::string_view s);

// --- spoken forms (what a voice agent reads out; no ids, no zones) ---

// de "Dienstag, 8. Dezember, 14:30"; en "Tuesday, December 8, 2:30 PM" (12:00 is "12 PM",
// 14:00 is "2 PM", 14:05 is "2:05 PM", midnight "12 AM").
std::string spoken_date_time(Language l, date::local_seconds t);
// de "Dienstag, 8. Dezember" (+ " 2026" with the year); en "Tuesday, December 8" (+ ", 2026").
std::string spoken_date(Language l, date::local_days d, bool with_year = false);
// de "14:30"; en "2:30 PM" / "2 PM".
std::string spoken_time(Language l, date::local_seconds t);
// de "30 Minuten", "1 Stunde", "90 Minuten", "2 Stunden"; en "30 minutes", "1 hour",
// "90 minutes", "2 hours" (whole hours from 60 only when divisible by 60).
std::string spoken_duration(Language l, int minutes);
// Joins items for speech: {} -> "", {a} -> "a", {a,b} -> "a und b" / "a and b",
// {a,b,c} -> "a, b und c" / "a, b and c"; with `alternative` "oder" / "or" instead.
std::string spoken_list(Language l, const std::vector<std::string>& items,
                        bool alternative = false);

// --- names ---

// The form names are compared in: lower case (ASCII and the Latin-1/Latin Extended-A letters),
// accents removed (é -> e, ä -> a, ß -> ss, ...), German transcriptions folded the same way
// (ae -> a, oe -> o, ue -> u, so "Faerben" == "Färben" == "Farben"), every run of characters that
// are not letters or digits turned into one space, trimmed. Invalid UTF-8 bytes are dropped.
std::string fold_name(std::string_view utf8);

// Edit distance (Levenshtein, insert/delete/substitute cost 1) between two folded names, in
// bytes; stops counting above `cap` and returns cap + 1.
int edit_distance(std::string_view a, std::string_view b, int cap);

struct NameMatch {
  std::optional<std::size_t> found;       // index of the candidate meant
  std::vector<std::size_t> ambiguous;     // several fit equally well (found is empty)
  std::optional<std::size_t> suggestion;  // nothing fits; the nearest candidate, when near
};

// Which of `candidates` (display names) `query` (what the caller said) means, in this order:
//   1. the folded query equals exactly one folded candidate -> found;
//   2. the folded query's words are each a whole word, or the start of a word, of exactly one
//      candidate ("anna" -> "Anna Schmidt", "herren" -> "Herrenschnitt") -> found; of several
//      -> ambiguous (all of them, ascending);
//   3. the folded query is a substring of exactly one candidate ("schnitt" in
//      "Herrenschnitt" alone) -> found; of several -> ambiguous;
//   4. otherwise the candidate with the smallest edit distance to the query (or to one of its
//      words), when that distance is at most max(1, length / 3) -> suggestion (never found: the
//      caller must confirm), ties to the lower index.
// An empty (after folding) query finds nothing and suggests nothing.
NameMatch match_name(std::string_view query, const std::vector<std::string>& candidates);

}  // namespace appointd::intake
