#pragma once
// The usual CREATE of SIPWARDEN_PLUGIN, for a filter that reads its whole
// config block in its constructor: SIPWARDEN_PLUGIN(banner, "banner",
// "1.0", &filterFromConfig<banner::Banner>). Header-only.

#include <memory>

#include "sipwarden/filter.h"
#include "sipwarden/plugin.h"

namespace sipwarden {

// Called by the core once per config block of the plugin, when the chain is
// built: constructs a FilterType from the block, and returns null when the
// constructor reported an error through config.fail (the core then stops
// with that error).
template <typename FilterType>
std::unique_ptr<Filter> filterFromConfig(PluginConfig& config) {
  auto filter = std::make_unique<FilterType>(config);
  if (config.failed()) return nullptr;
  return filter;
}

}  // namespace sipwarden
