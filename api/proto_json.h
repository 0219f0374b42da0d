// Protobuf messages as the API's JSON (SPEC §7.1): the Protobuf JSON mapping's field names
// (lowerCamelCase) and bytes as base64, but numbers printed as numbers (64-bit ones too), enum
// values in lower case and every field present, defaults included.
//
// Thread-safety: pure function.
#pragma once

#include <google/protobuf/message.h>

#include <boost/json.hpp>

namespace zlh::api {

boost::json::object ProtoToJson(const google::protobuf::Message& message);

}  // namespace zlh::api
