#include "api/json_body.h"

#include <algorithm>

namespace zlh::api {

namespace json = boost::json;

Result<JsonBody> JsonBody::Parse(std::string_view text,
                                 std::initializer_list<std::string_view> known) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return InvalidArgument("body: malformed JSON (" + ec.message() + ")");
  if (!v.is_object()) return InvalidArgument("body: must be a JSON object");
  for (const auto& field : v.as_object()) {
    if (std::find(known.begin(), known.end(), std::string_view(field.key())) == known.end()) {
      return InvalidArgument(std::string(field.key()) + ": unknown field");
    }
  }
  return JsonBody(std::move(v.as_object()));
}

Result<std::optional<std::string>> JsonBody::String(std::string_view name, bool required) const {
  auto it = object_.find(name);
  if (it == object_.end() || it->value().is_null()) {
    if (required) return InvalidArgument(std::string(name) + ": required");
    return std::optional<std::string>();
  }
  if (!it->value().is_string()) return InvalidArgument(std::string(name) + ": must be a string");
  return std::optional<std::string>(std::string(it->value().as_string()));
}

Result<std::optional<bool>> JsonBody::Bool(std::string_view name, bool required) const {
  auto it = object_.find(name);
  if (it == object_.end() || it->value().is_null()) {
    if (required) return InvalidArgument(std::string(name) + ": required");
    return std::optional<bool>();
  }
  if (!it->value().is_bool()) return InvalidArgument(std::string(name) + ": must be true or false");
  return std::optional<bool>(it->value().as_bool());
}

Status CheckIdentifier(std::string_view field, const std::string& value) {
  bool ok = !value.empty() && value.size() <= 128 &&
            std::all_of(value.begin(), value.end(), [](char c) {
              return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
            });
  if (ok) return Status::Ok();
  return InvalidArgument(std::string(field) + ": must be 1-128 characters of A-Z a-z 0-9 _ -");
}

Status CheckDnsLabel(std::string_view field, const std::string& value) {
  bool ok = value.size() >= 3 && value.size() <= 32 && value.front() != '-' &&
            value.back() != '-' && std::all_of(value.begin(), value.end(), [](char c) {
              return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
            });
  if (ok) return Status::Ok();
  return InvalidArgument(std::string(field) +
                         ": must be a DNS label of 3-32 characters of a-z 0-9 - (not starting or "
                         "ending with -)");
}

}  // namespace zlh::api
