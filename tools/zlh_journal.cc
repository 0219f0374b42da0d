// zlh-journal: see tools/journal_cli.h.
#include "config/config.h"
#include "controller/controller.h"
#include "flows/flows.h"
#include "tools/journal_cli.h"

int main(int argc, char** argv) {
  // The registry of the workflows this build runs (replay re-runs their code). Replay returns
  // recorded outcomes and never calls an activity, so the workflows get no outside services.
  static const zlh::config::Settings settings = zlh::config::Defaults();
  zlh::flows::Deps deps;
  deps.settings = &settings;
  zlh::workflows::Registry registry;
  if (zlh::Status s = zlh::flows::Register(registry, deps); !s.ok()) return 3;
  if (zlh::Status s = zlh::controller::Register(registry, deps); !s.ok()) return 3;
  return zlh::tools::JournalMain(argc, argv, registry);
}
