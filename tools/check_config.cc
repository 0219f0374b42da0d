// CheckServices and FormatCheck (check_config.h).
#include "tools/check_config.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <algorithm>
#include <map>

#include "activities/probes.h"
#include "activities/smtp_mailer.h"
#include "flows/outside.h"

namespace zlh::tools {
namespace {

namespace asio = boost::asio;
using activities::Task;

Check Of(std::string service, const Result<std::string>& outcome) {
  if (outcome.ok()) return {std::move(service), true, *outcome};
  return {std::move(service), false, outcome.status().message()};
}

// One line per configured template: a guest flagged template, at its VMID, on its node.
Task<void> CheckTemplates(const config::Settings& s, const activities::Probes& probes,
                          std::vector<Check>& out) {
  auto templates = co_await probes.ProxmoxTemplates();
  if (!templates.ok()) {
    out.push_back({"proxmox", false, "templates: " + templates.status().message()});
    co_return;
  }
  for (int i = 0; i < s.file.templates_size(); ++i) {
    const auto& t = s.file.templates(i);
    std::string where = "VMID " + std::to_string(t.template_vmid()) + " on " + t.template_node();
    bool found = std::any_of(templates->begin(), templates->end(), [&](const auto& g) {
      return g.vmid == t.template_vmid() && g.node == t.template_node();
    });
    if (found) {
      out.push_back({"proxmox", true, "template " + t.name() + ": " + where});
    } else {
      out.push_back({"proxmox", false, "template " + t.name() + ": no template at " + where +
                                           " (templates[" + std::to_string(i) + "])"});
    }
  }
}

// The mail server, as a delivery would use it, sending nothing (SPEC §10).
Task<void> CheckEmail(const config::Settings& s, std::vector<Check>& out) {
  if (!s.HasEmail()) {
    out.push_back({"email", true, "not configured: messages that ping go to Discord only"});
    co_return;
  }
  activities::SmtpMailer mailer(flows::SmtpOptionsOf(s));
  Status probed = co_await mailer.Probe();
  if (!probed.ok()) {
    out.push_back({"email", false, probed.message()});
    co_return;
  }
  const auto& e = s.file.email();
  std::string how = e.smtp_url().rfind("smtps://", 0) == 0 ? "TLS"
                    : s.email_password.empty()            ? "STARTTLS when offered"
                                                          : "STARTTLS";
  out.push_back({"email", true, e.smtp_url() + ": answers (" + how +
                                    (e.username().empty() ? "" : ", AUTH as " + e.username()) +
                                    "), to " + std::to_string(e.to_size()) + " recipient(s)"});
}

Task<std::vector<Check>> Probe(const config::Settings& s, const activities::Probes& probes) {
  std::vector<Check> out;
  out.push_back(Of("proxmox", co_await probes.ProxmoxVersion()));
  out.push_back(Of("proxmox", co_await probes.ProxmoxPrivileges()));
  co_await CheckTemplates(s, probes, out);
  out.push_back(Of("dns", co_await probes.DnsToken()));
  out.push_back(Of("dns", co_await probes.DnsZone(s.file.dns().zone())));
  out.push_back(Of("proxy", co_await probes.ProxyServers()));
  const auto& agent = s.file.agent();
  if (agent.token().empty()) {
    out.push_back({"agent", false, "agent.token is empty"});
  } else {
    out.push_back({"agent", true, agent.url_template() +
                                      " with a token (each agent is probed once its container runs)"});
  }
  out.push_back(Of("billing", co_await probes.Billing()));
  const auto& hooks = s.file.discord().webhooks();
  if (hooks.empty()) out.push_back({"discord", true, "no webhooks: notifications are logged"});
  std::map<std::string, std::string> sorted(hooks.begin(), hooks.end());
  for (const auto& [channel, url] : sorted) {
    auto hook = co_await probes.DiscordWebhook(channel, url);
    Check c = Of("discord", hook);
    c.text = channel + ": " + c.text;
    out.push_back(std::move(c));
  }
  co_await CheckEmail(s, out);
  co_return out;
}

}  // namespace

std::string FormatCheck(const Check& check) {
  std::string text;  // on one line: a parser's message may hold several
  for (char c : check.text) {
    if (c != '\n' && c != '\r') {
      text += c;
    } else if (!text.empty() && text.back() != ' ') {
      text += ' ';
    }
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return (check.ok ? "ok   " : "FAIL ") + check.service + ": " + text;
}

std::vector<Check> CheckServices(const config::Settings& settings) {
  asio::io_context io(1);
  activities::HttpClient http(2);
  activities::Probes probes(http, flows::ProbeOptionsOf(settings));
  auto checks = asio::co_spawn(io, Probe(settings, probes), asio::use_future);
  io.run();
  return checks.get();
}

}  // namespace zlh::tools
