#include "sip/header_id.h"

#include <array>

namespace sipwarden::sip {
namespace {

struct NameEntry {
  std::string_view longName;
  char compact;  // 0 when the header has no compact form
  HeaderId id;
};

constexpr std::array<NameEntry, static_cast<std::size_t>(HeaderId::Count) - 1> kNames{{
    {"Via", 'v', HeaderId::Via},
    {"From", 'f', HeaderId::From},
    {"To", 't', HeaderId::To},
    {"Call-ID", 'i', HeaderId::CallId},
    {"CSeq", 0, HeaderId::CSeq},
    {"Max-Forwards", 0, HeaderId::MaxForwards},
    {"Content-Length", 'l', HeaderId::ContentLength},
    {"Content-Type", 'c', HeaderId::ContentType},
    {"Contact", 'm', HeaderId::Contact},
    {"Route", 0, HeaderId::Route},
    {"Record-Route", 0, HeaderId::RecordRoute},
    {"Proxy-Require", 0, HeaderId::ProxyRequire},
    {"Require", 0, HeaderId::Require},
    {"Supported", 'k', HeaderId::Supported},
    {"Unsupported", 0, HeaderId::Unsupported},
    {"Warning", 0, HeaderId::Warning},
    {"Retry-After", 0, HeaderId::RetryAfter},
    {"Subject", 's', HeaderId::Subject},
    {"Content-Encoding", 'e', HeaderId::ContentEncoding},
    {"Event", 'o', HeaderId::Event},
    {"Refer-To", 'r', HeaderId::ReferTo},
    {"Allow", 0, HeaderId::Allow},
}};

constexpr char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

}  // namespace

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

HeaderId classifyHeader(std::string_view name) noexcept {
  if (name.size() == 1) {
    const char c = lower(name[0]);
    for (const auto& entry : kNames) {
      if (entry.compact == c) return entry.id;
    }
    return HeaderId::Other;
  }
  // Cheap pre-filter on length and first letter before the full compare.
  const char first = lower(name.empty() ? '\0' : name[0]);
  for (const auto& entry : kNames) {
    if (entry.longName.size() == name.size() && lower(entry.longName[0]) == first &&
        iequals(entry.longName, name)) {
      return entry.id;
    }
  }
  return HeaderId::Other;
}

std::string_view canonicalName(HeaderId id) noexcept {
  for (const auto& entry : kNames) {
    if (entry.id == id) return entry.longName;
  }
  return {};
}

}  // namespace sipwarden::sip
