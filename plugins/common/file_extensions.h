#pragma once
// File-name rules shared by file_filter and url_filter: the default blocked
// extension list (Lync / OCS 2007 IIMF) and extension extraction that sees
// through double extensions, trailing dots and spaces, case and %-encoding.

#include <algorithm>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "sipwarden/text.h"

namespace sipwarden::plugins::files {

inline const std::vector<std::string>& defaultBlockedExtensions() {
  static const std::vector<std::string> list = {
      ".ade", ".adp", ".app", ".asp", ".bas", ".bat", ".cer", ".chm", ".cmd", ".com", ".cpl", ".crt", ".csh",
      ".exe", ".fxp", ".grp", ".hlp", ".hta", ".inf", ".ins", ".isp", ".its", ".js", ".jse", ".ksh", ".lnk",
      ".mad", ".maf", ".mag", ".mam", ".maq", ".mar", ".mas", ".mat", ".mau", ".mav", ".maw", ".mda", ".mdb",
      ".mde", ".mdt", ".mdw", ".mdz", ".msc", ".msi", ".msp", ".mst", ".ocx", ".ops", ".pcd", ".pif", ".pl",
      ".pnp", ".prf", ".prg", ".pst", ".reg", ".scf", ".scr", ".sct", ".shb", ".shs", ".tmp", ".url", ".vb",
      ".vbe", ".vbs", ".vsd", ".vsmacros", ".vss", ".vst", ".vsw", ".ws", ".wsc", ".wsf", ".wsh"};
  return list;
}

// Decodes %HH escapes (repeatedly, so %252e is seen as '.'); invalid escapes
// are kept as written.
inline std::string percentDecode(std::string_view text) {
  std::string current(text);
  for (int round = 0; round < 3; ++round) {
    std::string out;
    out.reserve(current.size());
    bool changed = false;
    for (std::size_t i = 0; i < current.size(); ++i) {
      auto hex = [](char c) {
        return (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10
               : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
      };
      if (current[i] == '%' && i + 2 < current.size() &&
          hex(current[i + 1]) >= 0 && hex(current[i + 2]) >= 0) {
        out.push_back(static_cast<char>(hex(current[i + 1]) * 16 + hex(current[i + 2])));
        i += 2;
        changed = true;
      } else {
        out.push_back(current[i]);
      }
    }
    current = std::move(out);
    if (!changed) break;
  }
  return current;
}

// The extension that decides what a file is: the last one, lower-case, with
// trailing dots and spaces removed (Windows ignores them: "a.exe. " runs as
// "a.exe"). "" when there is none.
inline std::string effectiveExtension(std::string_view name) {
  std::string decoded = percentDecode(name);
  while (!decoded.empty() && (decoded.back() == '.' || decoded.back() == ' ' || decoded.back() == '\t')) {
    decoded.pop_back();
  }
  const std::size_t slash = decoded.find_last_of("/\\");
  if (slash != std::string::npos) decoded = decoded.substr(slash + 1);
  const std::size_t dot = decoded.rfind('.');
  if (dot == std::string::npos || dot + 1 == decoded.size()) return "";
  return text::lower(decoded.substr(dot));
}

// Normalises a configured list: lower-case, leading dot added.
inline std::set<std::string> extensionSet(const std::vector<std::string>& configured) {
  std::set<std::string> out;
  for (const auto& extension : configured) {
    std::string value = text::lower(extension);
    if (!value.empty() && value[0] != '.') value.insert(0, ".");
    out.insert(value);
  }
  return out;
}

}  // namespace sipwarden::plugins::files
