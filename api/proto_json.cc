#include "api/proto_json.h"

#include <google/protobuf/descriptor.h>

#include <cctype>

#include "base/base64.h"

namespace zlh::api {
namespace {

namespace json = boost::json;
namespace pb = google::protobuf;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

json::value Scalar(const pb::Message& m, const pb::Reflection& r, const pb::FieldDescriptor& f,
                   int index) {
  bool repeated = index >= 0;
  switch (f.cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_INT32:
      return repeated ? r.GetRepeatedInt32(m, &f, index) : r.GetInt32(m, &f);
    case pb::FieldDescriptor::CPPTYPE_INT64:
      return repeated ? r.GetRepeatedInt64(m, &f, index) : r.GetInt64(m, &f);
    case pb::FieldDescriptor::CPPTYPE_UINT32:
      return repeated ? r.GetRepeatedUInt32(m, &f, index) : r.GetUInt32(m, &f);
    case pb::FieldDescriptor::CPPTYPE_UINT64:
      return repeated ? r.GetRepeatedUInt64(m, &f, index) : r.GetUInt64(m, &f);
    case pb::FieldDescriptor::CPPTYPE_DOUBLE:
      return repeated ? r.GetRepeatedDouble(m, &f, index) : r.GetDouble(m, &f);
    case pb::FieldDescriptor::CPPTYPE_FLOAT:
      return repeated ? r.GetRepeatedFloat(m, &f, index) : r.GetFloat(m, &f);
    case pb::FieldDescriptor::CPPTYPE_BOOL:
      return repeated ? r.GetRepeatedBool(m, &f, index) : r.GetBool(m, &f);
    case pb::FieldDescriptor::CPPTYPE_ENUM:
      return json::value(
          Lower(repeated ? r.GetRepeatedEnum(m, &f, index)->name() : r.GetEnum(m, &f)->name()));
    case pb::FieldDescriptor::CPPTYPE_STRING: {
      std::string v = repeated ? r.GetRepeatedString(m, &f, index) : r.GetString(m, &f);
      return json::value(f.type() == pb::FieldDescriptor::TYPE_BYTES ? Base64(v) : v);
    }
    case pb::FieldDescriptor::CPPTYPE_MESSAGE:
      return ProtoToJson(repeated ? r.GetRepeatedMessage(m, &f, index) : r.GetMessage(m, &f));
  }
  return nullptr;
}

}  // namespace

json::object ProtoToJson(const pb::Message& message) {
  json::object out;
  const pb::Descriptor* d = message.GetDescriptor();
  const pb::Reflection* r = message.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const pb::FieldDescriptor* f = d->field(i);
    // A oneof prints only its set member (the others are not "defaults" but absent choices).
    if (f->containing_oneof() && !r->HasField(message, f)) continue;
    if (f->is_repeated()) {
      json::array list;
      for (int k = 0; k < r->FieldSize(message, f); ++k) list.push_back(Scalar(message, *r, *f, k));
      out[f->json_name()] = std::move(list);
    } else if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE && !r->HasField(message, f)) {
      out[f->json_name()] = nullptr;
    } else {
      out[f->json_name()] = Scalar(message, *r, *f, -1);
    }
  }
  return out;
}

}  // namespace zlh::api
