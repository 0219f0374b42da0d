// ReadPasswordFile (password_file.h).
#include "config/password_file.h"

#include <fstream>

namespace zlh::config {

Result<std::string> ReadPasswordFile(std::string_view field, const std::string& path) {
  std::ifstream in(path);
  if (!in) return InvalidArgument(std::string(field) + ": '" + path + "' cannot be read");
  std::string password;
  std::getline(in, password);
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (password.empty()) return InvalidArgument(std::string(field) + ": '" + path + "' is empty");
  return password;
}

}  // namespace zlh::config
