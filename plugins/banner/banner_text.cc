#include "banner/banner_text.h"

#include <cstdint>

#include "sipwarden/html_text.h"
#include "sipwarden/text.h"

namespace sipwarden::plugins::banner {
namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";
constexpr std::string_view kHtmlBreak = "<br/>";

// Does the tag at `pos` ('<') have the name `name` ("body", "/body")?
bool tagNamed(std::string_view html, std::size_t pos, std::string_view name) {
  if (pos + 1 + name.size() > html.size()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (text::lower(html[pos + 1 + i]) != name[i]) return false;
  }
  if (pos + 1 + name.size() == html.size()) return false;  // "<body" cut off
  const char after = html[pos + 1 + name.size()];
  return after == '>' || after == '/' || after == ' ' || after == '\t' || after == '\r' || after == '\n';
}

using html::tagEnd;

std::string_view lineBreakOf(std::string_view text) {
  const std::size_t lf = text.find('\n');
  if (lf != std::string_view::npos && (lf == 0 || text[lf - 1] != '\r')) return "\n";
  return "\r\n";
}

std::string spliced(std::string_view text, std::size_t at, std::string_view first, std::string_view second) {
  std::string out;
  out.reserve(text.size() + first.size() + second.size());
  out.append(text.substr(0, at));
  out.append(first);
  out.append(second);
  out.append(text.substr(at));
  return out;
}

}  // namespace

std::string insertPlain(std::string_view text, std::string_view notice, Position position) {
  const std::string_view lineBreak = lineBreakOf(text);
  const bool bom = text.starts_with(kBom);
  const std::string_view content = bom ? text.substr(kBom.size()) : text;
  if (content.empty()) return std::string(text) + std::string(notice);
  if (position == Position::Start) {
    const std::size_t at = bom ? kBom.size() : 0;
    std::string out;
    out.reserve(text.size() + notice.size() + 2);
    out.append(text.substr(0, at));
    out.append(notice);
    out.append(lineBreak);
    out.append(text.substr(at));
    return out;
  }
  const bool endsWithBreak = text.back() == '\n';
  return spliced(text, text.size(), endsWithBreak ? std::string_view() : lineBreak, notice);
}

std::string insertHtml(std::string_view html, std::string_view noticeHtml, Position position) {
  if (position == Position::Start) {
    std::size_t at = html.starts_with(kBom) ? kBom.size() : 0;
    for (std::size_t lt = html.find('<'); lt != std::string_view::npos; lt = html.find('<', lt + 1)) {
      if (!tagNamed(html, lt, "body")) continue;
      const std::size_t end = tagEnd(html, lt);
      if (end != std::string_view::npos) at = end + 1;
      break;
    }
    return spliced(html, at, noticeHtml, kHtmlBreak);
  }
  std::size_t at = html.size();
  for (std::size_t lt = html.rfind('<'); lt != std::string_view::npos; lt = lt == 0 ? std::string_view::npos
                                                                                         : html.rfind('<', lt - 1)) {
    if (tagNamed(html, lt, "/body")) {
      at = lt;
      break;
    }
  }
  return spliced(html, at, kHtmlBreak, noticeHtml);
}

std::string noticeAsHtml(std::string_view notice) {
  const std::string escaped = html::escape(notice);
  std::string out;
  out.reserve(escaped.size());
  for (std::size_t i = 0; i < escaped.size(); ++i) {
    if (escaped[i] == '\r' && i + 1 < escaped.size() && escaped[i + 1] == '\n') continue;
    if (escaped[i] == '\n' || escaped[i] == '\r') {
      out.append(kHtmlBreak);
    } else {
      out.push_back(escaped[i]);
    }
  }
  return out;
}

bool domainMatches(std::string_view host, const std::vector<std::string>& domains) {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  for (const auto& domain : domains) {
    if (host.size() == domain.size()) {
      if (text::iequals(host, domain)) return true;
    } else if (host.size() > domain.size() && host[host.size() - domain.size() - 1] == '.') {
      if (text::iequals(host.substr(host.size() - domain.size()), domain)) return true;
    }
  }
  return false;
}

void ConversationMemory::expire(TimePoint now) {
  while (!recent_.empty() && now - recent_.back().last > idle_) {
    index_.erase(recent_.back().key);
    recent_.pop_back();
  }
}

bool ConversationMemory::seen(std::string_view key, TimePoint now) {
  expire(now);
  auto found = index_.find(key);
  if (found == index_.end()) return false;
  found->second->last = now;
  recent_.splice(recent_.begin(), recent_, found->second);
  return true;
}

void ConversationMemory::remember(std::string_view key, TimePoint now) {
  if (seen(key, now)) return;
  recent_.push_front(Entry{std::string(key), now});
  index_.emplace(recent_.front().key, recent_.begin());
  while (index_.size() > capacity_) {
    index_.erase(recent_.back().key);
    recent_.pop_back();
  }
}

void ConversationMemory::forget(std::string_view key) {
  auto found = index_.find(key);
  if (found == index_.end()) return;
  const auto entry = found->second;
  index_.erase(found);
  recent_.erase(entry);
}

}  // namespace sipwarden::plugins::banner
