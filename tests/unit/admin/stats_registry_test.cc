// The stats registry: families render in the order declared with their
// HELP and TYPE lines; SIP-thread families show what the last sample() read,
// live ones what their source holds now.
#include "admin/stats_registry.h"

#include <gtest/gtest.h>

namespace sipwarden::admin {
namespace {

TEST(StatsRegistry, RendersEveryFamilyInTheOrderDeclared) {
  StatsRegistry registry;
  registry.single("b_total", MetricType::Counter, "Second letter.", ReadOn::AnyThread, [] { return 2; });
  registry.labelled("a_total", "First letter, by key.", "key", ReadOn::AnyThread, [] {
    return std::map<std::string, std::uint64_t>{{"x", 1}, {"w", 3}};
  });
  registry.family("empty_total", MetricType::Counter, "No samples yet.", ReadOn::AnyThread,
                  [] { return MetricSamples{}; });
  EXPECT_EQ(registry.render(),
            "# HELP b_total Second letter.\n# TYPE b_total counter\nb_total 2\n"
            "# HELP a_total First letter, by key.\n# TYPE a_total counter\na_total{key=\"w\"} 3\na_total{key=\"x\"} 1\n"
            "# HELP empty_total No samples yet.\n# TYPE empty_total counter\n");
}

TEST(StatsRegistry, EscapesLabelValues) {
  StatsRegistry registry;
  registry.family("odd", MetricType::Gauge, "Odd labels.", ReadOn::AnyThread, [] {
    return MetricSamples{countSample({{"name", "a\\b\"c\nd"}, {"second", "e"}}, 7)};
  });
  EXPECT_NE(registry.render().find("odd{name=\"a\\\\b\\\"c\\nd\",second=\"e\"} 7\n"), std::string::npos)
      << registry.render();
}

TEST(StatsRegistry, SipThreadFamiliesShowTheLastSample) {
  std::uint64_t onSipThread = 1;
  std::uint64_t live = 1;
  StatsRegistry registry;
  registry.single("sampled_total", MetricType::Counter, "Read by sample().", ReadOn::OwnerThread,
                  [&onSipThread] { return onSipThread; });
  registry.single("live_total", MetricType::Counter, "Read by render().", ReadOn::AnyThread, [&live] { return live; });
  EXPECT_EQ(registry.render().find("sampled_total 1"), std::string::npos);  // never sampled: no sample line
  registry.sample();
  onSipThread = 5;
  live = 5;
  const std::string text = registry.render();
  EXPECT_NE(text.find("sampled_total 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("live_total 5\n"), std::string::npos) << text;
  registry.sample();
  EXPECT_NE(registry.render().find("sampled_total 5\n"), std::string::npos);
}

TEST(StatsRegistry, HistogramSuffixesAndSeconds) {
  StatsRegistry registry;
  registry.family("took_seconds", MetricType::Histogram, "Time taken.", ReadOn::AnyThread, [] {
    return MetricSamples{countSample({{"le", "+Inf"}}, 4, "_bucket"), secondsSample({}, 1.25, "_sum"),
                         countSample({}, 4, "_count")};
  });
  EXPECT_EQ(registry.render(),
            "# HELP took_seconds Time taken.\n# TYPE took_seconds histogram\n"
            "took_seconds_bucket{le=\"+Inf\"} 4\ntook_seconds_sum 1.250000000\ntook_seconds_count 4\n");
}

}  // namespace
}  // namespace sipwarden::admin
