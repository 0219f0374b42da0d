// The Prometheus text exposition format's escaping, shared by every writer of /metrics text.
// Thread-safety: a pure function.
#pragma once

#include <string>

namespace zlh {

// A label value as it goes between the quotes: backslash, double quote and line feed escaped.
inline std::string PrometheusLabelValue(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    if (c == '\\' || c == '"') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

}  // namespace zlh
