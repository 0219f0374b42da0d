// URL pieces: percent-decoding and form/query parsing. Pure functions, thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace zlh {

// Percent-decoding of a URL component ("a%20b+c" → "a b c" when `plus_is_space`). A malformed
// escape is kept as it is.
std::string UrlDecode(std::string_view text, bool plus_is_space);

// "a=1&b=x%20y" → {a: "1", b: "x y"} (a query string or an x-www-form-urlencoded body).
std::map<std::string, std::string> ParseForm(std::string_view text);

}  // namespace zlh
