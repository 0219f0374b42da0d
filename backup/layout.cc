#include "backup/layout.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "base/clock.h"

namespace zlh::backup {
namespace {

namespace json = boost::json;

Status Errno(const std::string& what) {
  return Status(Code::kIOError, what + ": " + std::strerror(errno));
}

std::optional<Origin> OriginNamed(std::string_view name) {
  for (Origin o : {Origin::kScheduled, Origin::kApi, Origin::kTool}) {
    if (OriginName(o) == name) return o;
  }
  return std::nullopt;
}

Status WriteAll(int fd, const char* data, size_t size, const std::string& path) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::write(fd, data + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("cannot write " + path);
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

// Writes `text` to the file `path` (created or truncated) with `mode` and fsyncs it.
Status WriteDurably(const std::string& path, const std::string& text, unsigned mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Errno("cannot create " + path);
  Status s = WriteAll(fd, text.data(), text.size(), path);
  if (s.ok() && ::fsync(fd) != 0) s = Errno("cannot fsync " + path);
  ::close(fd);
  return s;
}

// Copies what is left to read of `in` to `out`, in pieces (a journal's table files are large).
Status CopyContent(int in, int out, const std::string& from, const std::string& to) {
  std::vector<char> buffer(1 << 20);
  for (;;) {
    ssize_t n = ::read(in, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("cannot read " + from);
    if (n == 0) return Status::Ok();
    if (Status s = WriteAll(out, buffer.data(), static_cast<size_t>(n), to); !s.ok()) return s;
  }
}

}  // namespace

std::string_view OriginName(Origin origin) {
  switch (origin) {
    case Origin::kScheduled:
      return "scheduled";
    case Origin::kApi:
      return "api";
    case Origin::kTool:
      return "zlh-journal";
  }
  return "";
}

std::optional<Marker> ReadMarker(const std::string& dir) {
  std::ifstream in(dir + "/" + kMarkerFile);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  json::value v = json::parse(text.str(), ec);
  if (ec || !v.is_object()) return std::nullopt;
  const json::object& o = v.as_object();
  const json::value* origin = o.if_contains("origin");
  const json::value* taken = o.if_contains("takenMs");
  if (!origin || !origin->is_string() || !taken || !taken->is_int64()) return std::nullopt;
  auto named = OriginNamed(origin->as_string());
  if (!named) return std::nullopt;
  Marker m{*named, taken->as_int64()};
  auto flag = [&o](const char* name) {
    const json::value* v = o.if_contains(name);
    return v && v->is_bool() && v->as_bool();
  };
  m.complete = flag("complete");
  m.tokens = flag("tokens");
  m.verified = flag("verified");
  return m;
}

Status WriteMarker(const std::string& dir, const Marker& marker) {
  json::object o{{"origin", OriginName(marker.origin)},
                 {"takenMs", marker.taken_ms},
                 {"takenAt", FormatRfc3339(marker.taken_ms)},
                 {"complete", marker.complete},
                 {"tokens", marker.tokens},
                 {"verified", marker.verified}};
  std::string path = dir + "/" + kMarkerFile;
  std::string tmp = path + ".tmp";
  ZLH_RETURN_IF_ERROR(WriteDurably(tmp, json::serialize(o) + "\n", 0644));
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return Errno("cannot rename " + tmp);
  return SyncDir(dir);
}

std::string ScheduledName(int64_t unix_ms) { return FormatUtc(unix_ms, "%Y%m%dT%H%M%SZ"); }

bool IsScheduledName(std::string_view name) {
  if (name.size() != 16 || name[8] != 'T' || name[15] != 'Z') return false;
  for (size_t i = 0; i < 15; ++i) {
    if (i != 8 && (name[i] < '0' || name[i] > '9')) return false;
  }
  return true;
}

Status CopyFileDurably(const std::string& from, const std::string& to, unsigned mode) {
  int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return Errno("cannot read " + from);
  int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (out < 0) {
    Status s = errno == EEXIST ? Status(Code::kAlreadyExists, to + " exists already")
                               : Errno("cannot create " + to);
    ::close(in);
    return s;
  }
  Status s = CopyContent(in, out, from, to);
  // The umask may have taken bits away at creation; `mode` is what was asked for.
  if (s.ok() && ::fchmod(out, mode) != 0) s = Errno("cannot chmod " + to);
  if (s.ok() && ::fsync(out) != 0) s = Errno("cannot fsync " + to);
  ::close(in);
  ::close(out);
  return s;
}

Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open " + dir);
  Status s = ::fsync(fd) == 0 ? Status::Ok() : Errno("cannot fsync " + dir);
  ::close(fd);
  return s;
}

std::string ParentDir(const std::string& path) {
  std::filesystem::path p = std::filesystem::absolute(path).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  return p.parent_path().string();
}

}  // namespace zlh::backup
