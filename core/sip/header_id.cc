#include "sip/header_id.h"

#include <array>
#include <cstdint>

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

namespace {

constexpr std::array<unsigned char, 256> makeLowerTable() {
  std::array<unsigned char, 256> table{};
  for (std::size_t c = 0; c < 256; ++c) table[c] = static_cast<unsigned char>(lower(static_cast<char>(c)));
  return table;
}
constexpr std::array<unsigned char, 256> kLower = makeLowerTable();

}  // namespace

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  const auto* x = reinterpret_cast<const unsigned char*>(a.data());
  const auto* y = reinterpret_cast<const unsigned char*>(b.data());
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (x[i] != y[i] && kLower[x[i]] != kLower[y[i]]) return false;
  }
  return true;
}

namespace {

// Headers grouped by the lower-case first letter of their long name, so a
// lookup compares against two or three names at most.
struct FirstLetterIndex {
  std::array<std::array<std::int8_t, 8>, 26> entries{};
  bool complete = true;
  std::array<HeaderId, 26> compact{};
};

constexpr FirstLetterIndex makeIndex() {
  FirstLetterIndex index{};
  for (auto& list : index.entries) list.fill(-1);
  for (std::size_t i = 0; i < kNames.size(); ++i) {
    auto& list = index.entries[static_cast<std::size_t>(lower(kNames[i].longName[0]) - 'a')];
    bool placed = false;
    for (auto& slot : list) {
      if (slot < 0) {
        slot = static_cast<std::int8_t>(i);
        placed = true;
        break;
      }
    }
    index.complete = index.complete && placed;
    if (kNames[i].compact != 0) index.compact[static_cast<std::size_t>(kNames[i].compact - 'a')] = kNames[i].id;
  }
  return index;
}

constexpr FirstLetterIndex kIndex = makeIndex();
static_assert(kIndex.complete, "more headers share a first letter than the index has slots");

}  // namespace

HeaderId classifyHeader(std::string_view name) noexcept {
  if (name.empty()) return HeaderId::Other;
  const char first = lower(name[0]);
  if (first < 'a' || first > 'z') return HeaderId::Other;
  const auto letter = static_cast<std::size_t>(first - 'a');
  if (name.size() == 1) return kIndex.compact[letter];
  for (std::int8_t slot : kIndex.entries[letter]) {
    if (slot < 0) break;
    const NameEntry& entry = kNames[static_cast<std::size_t>(slot)];
    if (entry.longName.size() == name.size() && iequals(entry.longName, name)) return entry.id;
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
