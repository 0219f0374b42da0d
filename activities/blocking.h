// Off the event loop, for the activities that call blocking libraries (libcurl's easy interface):
// base/off_loop.h's OffLoop, under the activities' namespace.
//
// Thread-safety: as zlh::OffLoop.
#pragma once

#include "base/off_loop.h"

namespace zlh::activities {

using zlh::OffLoop;

}  // namespace zlh::activities
