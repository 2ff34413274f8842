// Loopback ports for tests. Prefer binding servers to port 0 and asking them
// for the port; use free_loopback_port() only when a port must be known before
// a process starts (a child process given --http=127.0.0.1:<port>). The port
// is free when returned; another process could in theory take it before use.
#pragma once

#include <cstdint>

namespace cocktail::testing {

// A TCP port on 127.0.0.1 that nothing listens on right now.
std::uint16_t free_loopback_port();

}  // namespace cocktail::testing
