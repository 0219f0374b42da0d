// SmtpMailer (SPEC §10) against a real SMTP server (aiosmtpd): a message arrives as formatted, the
// same notification keeps its Message-ID, STARTTLS and SMTPS work with a trusted CA, a password is
// never sent where STARTTLS is not offered, and failures say what is wrong.
#include "activities/smtp_mailer.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "base/base64.h"
#include "tests/smtp_process.h"

namespace zlh::activities {
namespace {

namespace asio = boost::asio;

template <typename T>
T Await(asio::awaitable<T> task) {
  asio::io_context io;
  auto f = asio::co_spawn(io, std::move(task), asio::use_future);
  io.run();
  return f.get();
}

SmtpOptions To(const SmtpServer& server) {
  SmtpOptions o;
  o.url = server.url();
  o.from = "zlh@example.org";
  o.to = {"ops@example.org", "oncall@example.org"};
  o.timeout = Millis(10'000);
  return o;
}

// The value of header `name` in `message`, "" when absent.
std::string Header(const std::string& message, const std::string& name) {
  size_t at = message.find("\n" + name + ": ");
  if (at == std::string::npos) at = message.rfind(name + ": ", 0) == 0 ? 0 : std::string::npos;
  if (at == std::string::npos) return "";
  size_t start = message.find(": ", at) + 2;
  std::string value = message.substr(start, message.find('\n', start) - start);
  if (!value.empty() && value.back() == '\r') value.pop_back();
  return value;
}

TEST(SmtpMailerTest, AMessageArrivesAsFormattedAndARepeatKeepsItsMessageId) {
  SmtpServer server;
  ASSERT_TRUE(server.ready());
  SmtpMailer mailer(To(server));
  std::string text = "Drift on alpha: container gone\nIncident since tick 12.\n.a line with a dot";
  ASSERT_TRUE(Await(mailer.Send({"wf-1:alert", 0}, "alerts-critical", text)).ok());
  ASSERT_TRUE(Await(mailer.Send({"wf-1:alert", 0}, "alerts-critical", text)).ok());  // a repeat
  ASSERT_TRUE(Await(mailer.Send({"wf-2:alert", 0}, "alerts-critical", "another")).ok());
  std::vector<std::string> got = server.Messages();
  ASSERT_EQ(got.size(), 3u);
  std::map<std::string, int> ids;
  for (const auto& m : got) ++ids[Header(m, "Message-ID")];
  EXPECT_EQ(ids.size(), 2u) << "a repeat got a new Message-ID, or two notifications one";
  size_t drifts = 0;
  for (const auto& m : got) {
    if (Header(m, "Subject") != "[ZLH] alerts-critical: Drift on alpha: container gone") continue;
    ++drifts;
    EXPECT_EQ(Header(m, "From"), "zlh@example.org");
    EXPECT_EQ(Header(m, "To"), "ops@example.org, oncall@example.org");
    EXPECT_EQ(Header(m, "X-RcptTo"), "ops@example.org, oncall@example.org");  // the envelope
    EXPECT_EQ(Header(m, "X-ZLH-Channel"), "alerts-critical");
    EXPECT_NE(m.find("Incident since tick 12.\n.a line with a dot"), std::string::npos) << m;
  }
  EXPECT_EQ(drifts, 2u) << "the subject is not the channel and the first line";
}

TEST(SmtpMailerTest, ANonAsciiSubjectIsAnEncodedWord) {
  SmtpOptions o;
  o.from = "zlh@example.org";
  o.to = {"ops@example.org"};
  std::string m = FormatEmail(o, "k", 0, "alerts-critical", "Grüße → alpha\nmore");
  EXPECT_NE(m.find("Subject: =?UTF-8?B?" + Base64("[ZLH] alerts-critical: Grüße → alpha") + "?=\r\n"),
            std::string::npos) << m;
  EXPECT_NE(m.find("Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n"), std::string::npos);
  EXPECT_NE(m.find("\r\n\r\nGrüße → alpha\r\nmore\r\n"), std::string::npos);
}

TEST(SmtpMailerTest, StartTlsWhenOfferedWithATrustedCertificate) {
  SmtpServer server(SmtpServer::Tls::kStartTls);
  ASSERT_TRUE(server.ready());
  SmtpOptions o = To(server);
  Status untrusted = Await(SmtpMailer(o).Send({"wf:1", 0}, "alerts-critical", "hello"));
  EXPECT_EQ(untrusted.code(), Code::kFailedPrecondition) << untrusted.ToString();
  EXPECT_NE(untrusted.message().find("email.caFile"), std::string::npos) << untrusted.ToString();
  EXPECT_TRUE(server.Messages().empty());
  o.ca_file = server.cert();
  Status sent = Await(SmtpMailer(o).Send({"wf:1", 0}, "alerts-critical", "hello"));
  ASSERT_TRUE(sent.ok()) << sent.ToString();
  EXPECT_EQ(server.Messages().size(), 1u);
}

TEST(SmtpMailerTest, SmtpsWithATrustedCertificate) {
  SmtpServer server(SmtpServer::Tls::kSmtps);
  ASSERT_TRUE(server.ready());
  SmtpOptions o = To(server);
  o.ca_file = server.cert();
  Status sent = Await(SmtpMailer(o).Send({"wf:1", 0}, "alerts-billing", "payment failed"));
  ASSERT_TRUE(sent.ok()) << sent.ToString();
  ASSERT_EQ(server.Messages().size(), 1u);
  EXPECT_EQ(Header(server.Messages()[0], "Subject"), "[ZLH] alerts-billing: payment failed");
}

TEST(SmtpMailerTest, APasswordIsNeverSentWhereStartTlsIsNotOffered) {
  SmtpServer server;  // plain: no STARTTLS
  ASSERT_TRUE(server.ready());
  SmtpOptions o = To(server);
  o.username = "zlh";
  o.password = "secret";
  SmtpMailer mailer(o);
  Status s = Await(mailer.Send({"wf:1", 0}, "alerts-critical", "hello"));
  EXPECT_EQ(s.code(), Code::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find("STARTTLS"), std::string::npos) << s.ToString();
  EXPECT_EQ(Await(mailer.Probe()).code(), Code::kFailedPrecondition);
  EXPECT_TRUE(server.Messages().empty());
}

TEST(SmtpMailerTest, TheProbeSendsNothingAndAnAbsentServerIsUnavailable) {
  SmtpServer server;
  ASSERT_TRUE(server.ready());
  Status probed = Await(SmtpMailer(To(server)).Probe());
  EXPECT_TRUE(probed.ok()) << probed.ToString();
  EXPECT_TRUE(server.Messages().empty());
  SmtpOptions absent = To(server);
  absent.url = "smtp://127.0.0.1:" + std::to_string(FreeLoopbackPort());
  SmtpMailer nowhere(absent);
  EXPECT_EQ(Await(nowhere.Send({"wf:1", 0}, "alerts-critical", "x")).code(), Code::kUnavailable);
  EXPECT_EQ(Await(nowhere.Probe()).code(), Code::kUnavailable);
}

}  // namespace
}  // namespace zlh::activities
