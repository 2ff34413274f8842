#include "cocktail/core/shutdown.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>

namespace cocktail::core {
namespace {

TEST(ShutdownSignals, SigtermRunsCallbacksOnce) {
  ShutdownSignals signals;
  std::atomic<int> calls{0};
  signals.on_shutdown([&] { calls++; });
  ::kill(::getpid(), SIGTERM);
  ASSERT_TRUE(signals.wait_for(std::chrono::seconds(5)));
  EXPECT_TRUE(signals.requested());
  EXPECT_EQ(signals.signal_number(), SIGTERM);
  signals.request();
  EXPECT_EQ(calls.load(), 1);
}

TEST(ShutdownSignals, RequestWithoutSignal) {
  ShutdownSignals signals;
  bool called = false;
  signals.on_shutdown([&] { called = true; });
  EXPECT_FALSE(signals.wait_for(std::chrono::milliseconds(10)));
  signals.request();
  signals.wait();
  EXPECT_TRUE(called);
  EXPECT_EQ(signals.signal_number(), 0);
}

}  // namespace
}  // namespace cocktail::core
