// zlhd's test hooks: behaviour that only tests ask for, each off unless its environment variable
// is set. Never set them on a real node.
//   ZLHD_TEST_STALL_ON_SIGUSR2=N  SIGUSR2 blocks the event loop for N seconds (a handler on the
//                                 loop that sleeps), so that a test can watch the systemd watchdog
//                                 pings stop while the loop is wedged and resume after.
//   ZLHD_TEST_NEXT_FORMAT=1        the journal's format is the test-only one after this build's
//                                 (journal::TestNextFormat), so that a test can refuse and
//                                 migrate a journal of this build's format with zlhd --migrate.
//
// Thread-safety: install on the event loop's thread before it runs.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <memory>

#include "journal/migrate.h"

namespace zlh::tools {

// The stall hook when ZLHD_TEST_STALL_ON_SIGUSR2 asks for it (keep it for as long as the loop
// runs), else nullptr.
std::unique_ptr<boost::asio::signal_set> InstallStallHook(boost::asio::io_context& io);

// The journal format zlhd opens with: the test-only next one when ZLHD_TEST_NEXT_FORMAT=1 asks for
// it, else nullptr (this build's).
const journal::FormatPlan* JournalFormatUnderTest();

}  // namespace zlh::tools
