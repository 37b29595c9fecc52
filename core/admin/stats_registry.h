#pragma once
// The one list of what /metrics exposes. Each metric family is declared once,
// with its Prometheus name, type, help and how to read its samples, and
// render() writes every declared family in declaration order (the text
// exposition format 0.0.4).
//
// Two kinds of reader, because the counters live on different threads:
// - ReadOn::OwnerThread: the source is plain fields of the SIP thread (the
//   proxy's, the transport's, the filter chain it holds). sample(), called on
//   that thread about once a second, reads them into a copy that render()
//   shows, so the hot path keeps its unlocked plain increments.
// - ReadOn::AnyThread: the source is atomics (the archive writer, the
//   watchdog, the admin server), read live by render().

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sipwarden::admin {

enum class MetricType { Counter, Gauge, Histogram };
enum class ReadOn { OwnerThread, AnyThread };

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// One line of a family: name + suffix, labels (escaped when rendered) and the
// value, an integer unless `seconds` is set (then printed with 9 decimals).
struct MetricSample {
  MetricLabels labels;
  std::uint64_t value = 0;
  std::optional<double> seconds;
  std::string suffix;  // "_bucket", "_sum" or "_count" in a histogram
};
using MetricSamples = std::vector<MetricSample>;

// A sample of a count, and one of a time in seconds.
inline MetricSample countSample(MetricLabels labels, std::uint64_t value, std::string suffix = {}) {
  return MetricSample{std::move(labels), value, std::nullopt, std::move(suffix)};
}
inline MetricSample secondsSample(MetricLabels labels, double seconds, std::string suffix = {}) {
  return MetricSample{std::move(labels), 0, seconds, std::move(suffix)};
}

class StatsRegistry {
 public:
  // Called while the process is wired, before sample() and render() run:
  // declares one family whose samples `read` returns.
  void family(std::string name, MetricType type, std::string help, ReadOn readOn,
              std::function<MetricSamples()> read);
  // The same for a family of one unlabelled sample.
  void single(std::string name, MetricType type, std::string help, ReadOn readOn,
              std::function<std::uint64_t()> read);
  // The same for a counter with one label, one sample per key of the map.
  void labelled(std::string name, std::string help, std::string labelName, ReadOn readOn,
                std::function<std::map<std::string, std::uint64_t>()> read);

  // Called on the SIP thread (the owner of the OwnerThread sources): reads
  // them into the copy render() shows.
  void sample();
  // Called on any thread: every family, in the order declared.
  std::string render() const;

 private:
  struct Family {
    std::string name;
    MetricType type;
    std::string help;
    ReadOn readOn;
    std::function<MetricSamples()> read;
  };
  std::vector<Family> families_;
  mutable std::mutex sampledLock_;
  std::vector<MetricSamples> sampled_;  // by family index; OwnerThread families only
};

}  // namespace sipwarden::admin
