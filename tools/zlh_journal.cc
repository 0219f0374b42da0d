// zlh-journal: see tools/journal_cli.h.
#include "tools/journal_cli.h"

int main(int argc, char** argv) {
  // The registry of the workflows this build runs (replay re-runs their code).
  zlh::workflows::Registry registry;
  return zlh::tools::JournalMain(argc, argv, registry);
}
