#include "admin/stats_registry.h"

#include <cstdio>

namespace sipwarden::admin {
namespace {

// Label values escape backslash, double quote and newline.
std::string escaped(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    out += c == '\n' ? std::string("\\n") : std::string(1, c);
  }
  return out;
}

// The TYPE line's word, by MetricType.
constexpr const char* kTypeNames[] = {"counter", "gauge", "histogram"};

void renderSample(const std::string& family, const MetricSample& sample, std::string& out) {
  out += family + sample.suffix;
  if (!sample.labels.empty()) {
    out += '{';
    for (std::size_t i = 0; i < sample.labels.size(); ++i) {
      out += (i ? "," : "") + sample.labels[i].first + "=\"" + escaped(sample.labels[i].second) + "\"";
    }
    out += '}';
  }
  if (sample.seconds) {
    char text[64];
    std::snprintf(text, sizeof text, "%.9f", *sample.seconds);
    out += std::string(" ") + text + "\n";
  } else {
    out += " " + std::to_string(sample.value) + "\n";
  }
}

}  // namespace

void StatsRegistry::family(std::string name, MetricType type, std::string help, ReadOn readOn,
                           std::function<MetricSamples()> read) {
  families_.push_back({std::move(name), type, std::move(help), readOn, std::move(read)});
  std::lock_guard<std::mutex> hold(sampledLock_);
  sampled_.resize(families_.size());
}

void StatsRegistry::single(std::string name, MetricType type, std::string help, ReadOn readOn,
                           std::function<std::uint64_t()> read) {
  family(std::move(name), type, std::move(help), readOn,
         [read = std::move(read)] { return MetricSamples{countSample({}, read())}; });
}

void StatsRegistry::labelled(std::string name, std::string help, std::string labelName, ReadOn readOn,
                             std::function<std::map<std::string, std::uint64_t>()> read) {
  family(std::move(name), MetricType::Counter, std::move(help), readOn,
         [labelName = std::move(labelName), read = std::move(read)] {
           MetricSamples samples;
           for (const auto& [key, value] : read()) samples.push_back(countSample({{labelName, key}}, value));
           return samples;
         });
}

void StatsRegistry::sample() {
  std::vector<MetricSamples> fresh(families_.size());
  for (std::size_t i = 0; i < families_.size(); ++i) {
    if (families_[i].readOn == ReadOn::OwnerThread) fresh[i] = families_[i].read();
  }
  std::lock_guard<std::mutex> hold(sampledLock_);
  sampled_ = std::move(fresh);
}

std::string StatsRegistry::render() const {
  std::string out;
  for (std::size_t i = 0; i < families_.size(); ++i) {
    const Family& family = families_[i];
    out += "# HELP " + family.name + " " + family.help + "\n# TYPE " + family.name + " " + kTypeNames[static_cast<int>(family.type)] + "\n";
    if (family.readOn == ReadOn::AnyThread) {
      for (const auto& sample : family.read()) renderSample(family.name, sample, out);
    } else {
      std::lock_guard<std::mutex> hold(sampledLock_);
      for (const auto& sample : sampled_[i]) renderSample(family.name, sample, out);
    }
  }
  return out;
}

}  // namespace sipwarden::admin
