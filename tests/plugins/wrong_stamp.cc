// A module of this SDK version built, as it claims, against another standard
// library: the loader must refuse it naming the field and both values.
#include "sipwarden/plugin.h"

extern "C" __attribute__((visibility("default"))) const sipwarden::PluginDescriptor* sipwarden_plugin_v1() {
  static const sipwarden::PluginDescriptor descriptor{
      {sipwarden::kPluginAbiVersion, SIPWARDEN_ABI_COMPILER, "libstdc++ 0", SIPWARDEN_ABI_STRING_ABI},
      "wrong_stamp",
      "1.0",
      nullptr};
  return &descriptor;
}
