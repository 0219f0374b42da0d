// The reloadable parts of a config (reload.h): the rest is compared field by field with Protobuf's
// MessageDifferencer, whose reporter here keeps the path of each difference and none of its values.
#include "config/reload.h"

#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <set>

namespace zlh::config {
namespace {

namespace pc = proto::config;
using google::protobuf::Message;
using google::protobuf::util::MessageDifferencer;

// Collects the dotted JSON name of each differing field, down to the first repeated field or map
// (named as a whole), in the order they are met; a message is named by its fields that differ.
class FieldNames : public MessageDifferencer::Reporter {
 public:
  void ReportAdded(const Message&, const Message&,
                   const std::vector<MessageDifferencer::SpecificField>& path) override {
    Note(path);
  }
  void ReportDeleted(const Message&, const Message&,
                     const std::vector<MessageDifferencer::SpecificField>& path) override {
    Note(path);
  }
  void ReportModified(const Message&, const Message&,
                      const std::vector<MessageDifferencer::SpecificField>& path) override {
    // A message is reported modified after the fields inside it that differ: those say more.
    const auto* last = path.empty() ? nullptr : path.back().field;
    if (last && !last->is_repeated() &&
        last->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
      return;
    }
    Note(path);
  }
  std::vector<std::string> names;

 private:
  void Note(const std::vector<MessageDifferencer::SpecificField>& path) {
    std::string name;
    for (const auto& f : path) {
      if (!f.field) break;  // an unknown field: never in a parsed config
      name += (name.empty() ? "" : ".") + f.field->json_name();
      if (f.field->is_repeated()) break;
    }
    if (!name.empty() && std::find(names.begin(), names.end(), name) == names.end()) {
      names.push_back(name);
    }
  }
};

// `file` without what a reload takes.
pc::Config RestartOnly(const pc::Config& file) {
  pc::Config c = file;
  c.clear_discord();
  c.clear_email();
  c.clear_business_hours();
  c.mutable_api()->clear_tls();
  return c;
}

bool TlsFlips(const Settings& running, const Settings& next) {
  return running.HasApiTls() != next.HasApiTls();
}

}  // namespace

std::vector<std::string> NeedsRestart(const Settings& running, const Settings& next) {
  FieldNames fields;
  MessageDifferencer differ;
  differ.set_report_matches(false);
  differ.ReportDifferencesTo(&fields);
  differ.Compare(RestartOnly(running.file), RestartOnly(next.file));
  std::vector<std::string> names = std::move(fields.names);
  if (TlsFlips(running, next)) names.push_back("api.tls");
  // The daily digest's and backup's times of day are placed in the business hours' zone by
  // schedules made at the start.
  if (running.file.business_hours().time_zone() != next.file.business_hours().time_zone() &&
      (next.digest_minute || next.backup_minute)) {
    names.push_back("businessHours.timeZone (for controller.digestAt and backup.at)");
  }
  if (running.redis_password != next.redis_password &&
      std::find(names.begin(), names.end(), "redis.passwordFile") == names.end()) {
    names.push_back("redis.passwordFile");
  }
  return names;
}

void AdoptReloadable(Settings& running, const Settings& next) {
  *running.file.mutable_discord() = next.file.discord();
  *running.file.mutable_email() = next.file.email();
  running.email_password = next.email_password;
  running.email_fallback_after = next.email_fallback_after;
  running.email_timeout = next.email_timeout;
  *running.file.mutable_business_hours() = next.file.business_hours();
  running.business_hours = next.business_hours;
  if (!TlsFlips(running, next)) *running.file.mutable_api()->mutable_tls() = next.file.api().tls();
}

RouteChanges CompareRoutes(const Settings& running, const Settings& next) {
  RouteChanges changes;
  const pc::Discord& before = running.file.discord();
  const pc::Discord& after = next.file.discord();
  changes.discord_channels = after.webhooks_size();
  std::set<std::string> channels;
  for (const auto* map : {&before.webhooks(), &after.webhooks(), &before.roles(), &after.roles()}) {
    for (const auto& [channel, value] : *map) channels.insert(channel);
  }
  auto value_in = [](const google::protobuf::Map<std::string, std::string>& map,
                     const std::string& key) -> const std::string* {
    auto it = map.find(key);
    return it == map.end() ? nullptr : &it->second;
  };
  auto same = [](const std::string* a, const std::string* b) {
    return a == b || (a && b && *a == *b);
  };
  for (const std::string& channel : channels) {
    bool changed =
        !same(value_in(before.webhooks(), channel), value_in(after.webhooks(), channel)) ||
        !same(value_in(before.roles(), channel), value_in(after.roles(), channel));
    changes.discord_changed += changed;
  }
  changes.email_changed = !MessageDifferencer::Equals(running.file.email(), next.file.email()) ||
                          running.email_password != next.email_password;
  changes.business_hours_changed =
      !MessageDifferencer::Equals(running.file.business_hours(), next.file.business_hours());
  return changes;
}

}  // namespace zlh::config
