#pragma once
// Who the audit trail names for a command run by hand: "cli:NAME", the user
// behind sudo if there is one.

#include <unistd.h>

#include <cstdlib>
#include <string>

namespace sipwarden::app {

inline std::string localUser() {
  for (const char* name : {"SUDO_USER", "USER", "LOGNAME"}) {
    if (const char* value = std::getenv(name); value && *value) return std::string("cli:") + value;
  }
  return "cli:uid" + std::to_string(getuid());
}

}  // namespace sipwarden::app
