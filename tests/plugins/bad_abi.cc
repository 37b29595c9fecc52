// A module built for another plugin ABI: the loader must refuse it by name.
#include "sipwarden/plugin.h"

extern "C" __attribute__((visibility("default"))) const sipwarden::PluginDescriptor* sipwarden_plugin_v1() {
  static const sipwarden::PluginDescriptor descriptor{99, "bad_abi", "1.0", nullptr};
  return &descriptor;
}
