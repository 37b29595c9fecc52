// The SIP thread's watchdog on real time: a thread that stops beating is
// reported stalled with what it was running (for /healthz and /metrics) and
// live again once it turns; a stop that does not finish in time ends the
// process.
#include "app/watchdog.h"

#include <gtest/gtest.h>

#include <Poco/AutoPtr.h>
#include <Poco/ConsoleChannel.h>
#include <Poco/Logger.h>

#include <iostream>
#include <thread>

#include "admin/stats_registry.h"
#include "pipeline/activity.h"

namespace sipwarden::app {
namespace {

using std::chrono::milliseconds;

Poco::Logger& quietLog() {
  Poco::Logger& log = Poco::Logger::get("watchdog-test");
  log.setLevel("none");
  return log;
}

// Polls `condition` for up to ten seconds (a loaded machine is slow, never
// faster): what a watchdog does is only ever late.
// What /metrics shows of the watchdog (its families are read live).
std::string metricsOf(const Watchdog& watchdog) {
  admin::StatsRegistry registry;
  watchdog.declareMetrics(registry);
  return registry.render();
}

template <typename Condition>
bool eventually(Condition condition) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return true;
}

TEST(Watchdog, ASilentThreadIsStalledUntilItTurnsAgain) {
  const std::atomic<bool> stop{false};
  pipeline::noteActivity("plugins[0] (probe)");
  Watchdog watchdog(milliseconds(50), milliseconds(60000), stop, quietLog());
  std::string why;
  ASSERT_TRUE(eventually([&] { return !watchdog.live(why); }));
  EXPECT_EQ(why.rfind("SIP thread stalled for ", 0), 0u) << why;
  EXPECT_NE(why.find(" ms in plugins[0] (probe)"), std::string::npos) << why;
  EXPECT_EQ(watchdog.stalls(), 1u);
  EXPECT_NE(metricsOf(watchdog).find("\nsipwarden_sip_thread_stalls_total 1\n"), std::string::npos);
  EXPECT_NE(metricsOf(watchdog).find("\nsipwarden_sip_thread_stalled 1\n"), std::string::npos);

  ASSERT_TRUE(eventually([&] {
    watchdog.beat();
    return watchdog.live(why);
  }));
  EXPECT_EQ(watchdog.stalls(), 1u) << "one stall, counted once however long it lasted";
  EXPECT_NE(metricsOf(watchdog).find("\nsipwarden_sip_thread_stalled 0\n"), std::string::npos);
  pipeline::noteActivity("");
}

TEST(Watchdog, AThreadThatBeatsStaysLive) {
  const std::atomic<bool> stop{false};
  Watchdog watchdog(milliseconds(2000), milliseconds(60000), stop, quietLog());
  std::string why;
  for (int i = 0; i < 30; ++i) {
    watchdog.beat();
    EXPECT_TRUE(watchdog.live(why)) << why;
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_EQ(watchdog.stalls(), 0u);
  EXPECT_NE(metricsOf(watchdog).find("\nsipwarden_sip_thread_stalls_total 0\n"), std::string::npos);
}

TEST(WatchdogDeathTest, AStopThatOutlivesItsGraceEndsTheProcess) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        Poco::Logger& log = Poco::Logger::get("watchdog-death-test");
        log.setChannel(Poco::AutoPtr<Poco::ConsoleChannel>(new Poco::ConsoleChannel(std::cerr)));
        const std::atomic<bool> stop{true};
        Watchdog watchdog(milliseconds(60000), milliseconds(20), stop, log);
        std::this_thread::sleep_for(std::chrono::seconds(30));
      },
      ::testing::ExitedWithCode(1), "did not stop within the shutdown grace");
}

}  // namespace
}  // namespace sipwarden::app
