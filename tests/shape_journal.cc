// zlh-journal linked with the crash tests' workflow, so that tests can replay journals the worker
// wrote. ZLH_SHAPE_RENAMED=1 links a deliberately different version of the code (every step
// renamed), which replay must catch.
#include <cstdlib>

#include "tests/shape_workflow.h"
#include "tools/journal_cli.h"

int main(int argc, char** argv) {
  if (const char* renamed = std::getenv("ZLH_SHAPE_RENAMED"); renamed && *renamed == '1') {
    zlh::crash::UseRenamedSteps();
  }
  zlh::workflows::Registry registry;
  (void)registry.Register("shape", "crash", zlh::crash::RunShape);
  return zlh::tools::JournalMain(argc, argv, registry);
}
