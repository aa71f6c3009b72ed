#pragma once
// Text measures. Limits on names, notes and the like are counted in characters (Unicode code
// points), not bytes, so "Zoë" is as long in a limit as "Zoe".
#include <cstddef>
#include <string_view>

namespace appointd {

// Code points of UTF-8 text (bytes that do not start a code point are not counted; the JSON
// parser has already refused invalid UTF-8).
inline std::size_t utf8_length(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// At most `max` characters.
inline bool fits_chars(std::string_view s, std::size_t max) {
  return s.size() <= max || utf8_length(s) <= max;
}

}  // namespace appointd
