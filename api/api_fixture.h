// ApiFixture: the Api over an EngineFixture's engine, with the default config and a fresh tokens
// file, for tests that call the routes in-process. Test-only.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <vector>

#include "api/api.h"
#include "api/tokens.h"
#include "backup/keeper.h"
#include "base/temp_dir.h"
#include "config/config.h"
#include "workflows/engine_fixture.h"

namespace zlh::api {

class ApiFixture : public workflows::EngineFixture {
 protected:
  void SetUp() override {
    EngineFixture::SetUp();
    bool created = false;
    auto tokens = Tokens::LoadOrCreate(tokens_dir_.Sub("tokens"), &created);
    ASSERT_TRUE(tokens.ok()) << tokens.status().ToString();
    tokens_ = std::move(*tokens);
  }
  // The Api over the current engine (make it again after a Restart); `adjust` may set more of its
  // deps.
  std::unique_ptr<Api> MakeApi(const std::function<void(ApiDeps&)>& adjust = nullptr) {
    ApiDeps deps{*engine_, *journal_, settings_, tokens_, nullptr};
    keepers_.push_back(std::make_unique<backup::Keeper>(
        *journal_, backup::Place{tokens_dir_.Sub("backups"), tokens_dir_.Sub("tokens")}));
    deps.backups = keepers_.back().get();
    if (adjust) adjust(deps);
    return std::make_unique<Api>(deps);
  }
  // Registers workflow types that do nothing: tests about the API, not the workflows.
  void RegisterNoOps(std::initializer_list<const char*> types) {
    for (const char* type : types) {
      std::string queue = type == std::string("provision") ? "provision" : "operation";
      ASSERT_TRUE(registry_
                      .Register(type, queue,
                                [](workflows::Context&) -> workflows::Task<Result<std::string>> {
                                  co_return "done";
                                })
                      .ok());
    }
  }

  config::Settings settings_ = config::Defaults();
  TempDir tokens_dir_;
  Tokens tokens_;
  // One per MakeApi: an Api may outlive the next one.
  std::vector<std::unique_ptr<backup::Keeper>> keepers_;
};

}  // namespace zlh::api
