// Strict reading of a JSON request body (SPEC §7.1): an object whose every field is known and of
// the right type; each error names the field ("requestNonce: required").
//
// Thread-compatible: a plain value.
#pragma once

#include <boost/json.hpp>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace zlh::api {

class JsonBody {
 public:
  // kInvalidArgument when `text` is not a JSON object, or has a field not in `known`.
  static Result<JsonBody> Parse(std::string_view text, std::initializer_list<std::string_view> known);

  // The string field `name`: kInvalidArgument "NAME: required" when absent (and `required`),
  // "NAME: must be a string" for another type. nullopt when absent and optional.
  Result<std::optional<std::string>> String(std::string_view name, bool required) const;
  Result<std::optional<bool>> Bool(std::string_view name, bool required) const;

 private:
  explicit JsonBody(boost::json::object o) : object_(std::move(o)) {}
  boost::json::object object_;
};

// 1–128 of [A-Za-z0-9_-] (customerId, requestNonce); kInvalidArgument naming `field`.
Status CheckIdentifier(std::string_view field, const std::string& value);
// A DNS label of 3–32 of [a-z0-9-] (server names).
Status CheckDnsLabel(std::string_view field, const std::string& value);

}  // namespace zlh::api
