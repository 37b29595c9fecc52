// A module built for another plugin ABI: the loader must refuse it by name
// without reading past the SDK version (the rest is left null here).
#include "sipwarden/plugin.h"

extern "C" __attribute__((visibility("default"))) const sipwarden::PluginDescriptor* sipwarden_plugin_v1() {
  static const sipwarden::PluginDescriptor descriptor{{99, nullptr, nullptr, nullptr}, "bad_abi", "1.0", nullptr};
  return &descriptor;
}
