// POST /api/workflows/{id}/retry over a workflow whose at-most-once step was interrupted: refused
// (409, naming the step) unless the body confirms it, and the body is read strictly.
#include <gtest/gtest.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>

#include "api/api_fixture.h"

namespace zlh::api {
namespace {

using namespace std::chrono_literals;
using WorkflowRetryTest = ApiFixture;

TEST_F(WorkflowRetryTest, AnInterruptedAtMostOnceStepRunsAgainOnlyWhenTheBodyConfirmsIt) {
  int calls = 0;
  ASSERT_TRUE(registry_
                  .Register("destroy", "operation",
                            [&](workflows::Context& ctx) -> workflows::Task<Result<std::string>> {
                              co_return co_await ctx.Step(
                                  "rebuild_container",
                                  [&](const workflows::StepInfo&) -> workflows::Task<Result<std::string>> {
                                    if (++calls == 1) {  // the first run never returns
                                      boost::asio::steady_timer t(
                                          co_await boost::asio::this_coro::executor, 1h);
                                      co_await t.async_wait(boost::asio::use_awaitable);
                                    }
                                    co_return "rebuilt";
                                  },
                                  workflows::RetryPolicy::AtMostOnce());
                            })
                  .ok());
  std::string id = StartOk("destroy");
  ASSERT_TRUE(RunUntil([&] { return calls == 1; }));
  Restart();  // a crash in the middle of the step
  ASSERT_EQ(AwaitEnd(id).error().code(), "interrupted");

  auto api = MakeApi();
  auto retry = [&](const std::string& body) {
    Request r;
    r.method = "POST";
    r.path = "/api/workflows/" + id + "/retry";
    r.headers = {{"authorization", "Bearer " + tokens_.TokenOf(Role::kAdmin)},
                 {"content-type", "application/json"}};
    r.body = body;
    return Await(api->Handle(r));
  };
  Response refused = retry("");
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_NE(refused.body.find("step 1 'rebuild_container'"), std::string::npos) << refused.body;
  EXPECT_EQ(retry(R"({"confirmAtMostOnce":false})").status, 409);
  EXPECT_EQ(retry(R"({"confirmAtMostOnce":"yes"})").status, 400);
  EXPECT_EQ(retry(R"({"force":true})").status, 400);
  EXPECT_EQ(retry("{bad").status, 400);
  EXPECT_EQ(calls, 1);

  Response confirmed = retry(R"({"confirmAtMostOnce":true})");
  EXPECT_EQ(confirmed.status, 200) << confirmed.body;
  EXPECT_EQ(AwaitEnd(id).result(), "rebuilt");
  EXPECT_EQ(calls, 2);
}

}  // namespace
}  // namespace zlh::api
