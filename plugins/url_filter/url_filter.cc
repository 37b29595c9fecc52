// url_filter: links in instant messages (the URL filter of the OCS 2007 /
// Lync Intelligent IM Filter, with its gaps closed). See
// docs/plugins/url_filter.md for the configuration.
//
// For every text part of a MESSAGE (or of the first message an INVITE
// embeds), LinkFinder lists the links; then, in this order:
//   1. a link to a blocked file type refuses the message (403), whatever
//      the action and whether or not a prefix matched;
//   2. more than `max_urls` distinct links refuse it (403);
//   3. links outside `allow_intranet` get the action: block (403), defang
//      ("_" before the scheme or "www", invisible characters removed) or
//      warn (a notice at the start of each part).
// A message whose text is over `max_body_bytes`, or that holds more than
// `max_links` links, is not read (further): unless the links already read
// refuse it, the plugin applies its fail_mode.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

#include "allow_list.h"
#include "common/file_extensions.h"
#include "link_finder.h"
#include "sipwarden/html_text.h"
#include "sipwarden/plugin.h"
#include "sipwarden/text.h"
#include "sipwarden/unreadable.h"

namespace sipwarden::plugins::url_filter {
namespace {

enum class Action { Block, Defang, Warn };

// The Lync / OCS 2007 IIMF default prefix list, and the schemes that
// deliver malware or run code today (docs/plugins/url_filter.md says why
// each is there).
const std::vector<std::string>& defaultPrefixes() {
  static const std::vector<std::string> list = {
      // IIMF
      "callto:", "file:", "ftp.", "ftp:", "gopher:", "href", "http:", "https:", "ldap:", "mailto:", "news:", "nntp:",
      "sip:", "sips:", "tel:", "telnet:", "www*",
      // script and inline content
      "data:", "javascript:", "vbscript:",
      // remote files and Windows protocol handlers
      "smb:", "ms-msdt:", "search-ms:", "search:", "ms-officecmd:", "ms-appinstaller:", "ms-its:", "mhtml:",
      "ms-word:", "ms-excel:", "ms-powerpoint:", "ms-visio:", "ms-access:", "ms-project:", "ms-publisher:",
      "ms-spd:", "ms-infopath:",
      // app installs and WebSockets
      "itms-services:", "ws:", "wss:"};
  return list;
}

constexpr std::string_view kDefaultWarning =
    "Caution: this message contains links. Open them only if you trust the sender.";

// block_file_extensions: a list of extensions, in which "default" stands for
// the shared IIMF list; true (or "true") is the default list alone and false,
// "false" or "none" (or an empty list) turns the check off.
bool readExtensions(PluginConfig& config, std::set<std::string>& out) {
  const std::string key = "block_file_extensions";
  const bool isSwitch = config.kind(key) == PluginConfig::Kind::Bool;
  const std::vector<std::string> values =
      isSwitch ? std::vector<std::string>{config.getBool(key, true) ? "true" : "false"} : config.getStrings(key, {"default"});
  std::vector<std::string> listed;
  for (const auto& value : values) {
    const std::string word = text::lower(value);
    if (word == "default" || word == "true") {
      const auto& defaults = files::defaultBlockedExtensions();
      listed.insert(listed.end(), defaults.begin(), defaults.end());
      continue;
    }
    if (word == "none" || word == "false") {
      if (values.size() != 1) {
        config.fail(key, "'" + value + "' cannot be combined with extensions");
        return false;
      }
      continue;
    }
    std::string_view name = word;
    if (name.starts_with("*.")) name.remove_prefix(1);  // "*.exe", as file_filter takes it
    if (name.starts_with(".")) name.remove_prefix(1);
    const bool valid = !name.empty() && name.size() <= 16 && std::all_of(name.begin(), name.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    });
    if (!valid) {
      config.fail(key, "'" + value +
                           "' is not a file extension (expected one like \".exe\"; only the last "
                           "extension of a name counts)");
      return false;
    }
    listed.emplace_back(name);
  }
  out = files::extensionSet(listed);
  return true;
}

// The largest message the transport can be set to accept (max_message_size),
// so that by default no message that arrives is too large to be read.
constexpr std::int64_t kDefaultMaxBodyBytes = 1 << 20;

struct Limits {
  std::size_t maxUrls;
  std::size_t maxBodyBytes;
  std::size_t maxLinks;
  OnUnreadable onUnreadable;
};

class UrlFilter final : public Filter {
 public:
  UrlFilter(Action action, std::string notice, std::unique_ptr<LinkFinder> finder, AllowList allow,
            const std::set<std::string>& extensions, Limits limits)
      : action_(action),
        notice_(std::move(notice)),
        finder_(std::move(finder)),
        allow_(std::move(allow)),
        extensions_(extensions.begin(), extensions.end()),
        extensionIndex_(extensions_.begin(), extensions_.end()),
        maxUrls_(limits.maxUrls),
        maxBodyBytes_(limits.maxBodyBytes),
        onUnreadable_(limits.onUnreadable),
        links_(limits.maxLinks) {}

  MethodSet methods() const override { return MethodSet(MethodSet::Message | MethodSet::Invite); }

  Verdict onRequest(Exchange& exchange) override {
    InstantMessage& im = exchange.instantMessage();
    if (!im.present()) return Verdict::proceed();
    if (auto refused = unreadableVerdict(exchange, onUnreadable_, "url_filter")) return std::move(*refused);
    if (auto over = textOverLimit(exchange, maxBodyBytes_)) return std::move(*over);
    links_.clear();
    const std::size_t parts = im.partCount();
    for (std::size_t part = 0; part < parts && !links_.overflowed(); ++part) {
      finder_->find(im.partText(part), im.partType(part) == "text/html", part, links_);
    }
    // The Subject, which clients show with the message: its links are found
    // as in a plain part numbered after the real ones.
    subjects_.clear();
    if (exchange.message().header("Subject")) subjects_ = exchange.message().headers("Subject");
    for (std::size_t k = 0; k < subjects_.size() && !links_.overflowed(); ++k) {
      finder_->find(subjects_[k], false, parts + k, links_);
    }
    if (links_.empty()) return Verdict::proceed();

    std::string extension;
    std::size_t counted = 0;
    std::size_t flagged = 0;
    std::size_t allowed = 0;
    flagged_.assign(links_.size(), false);
    for (std::size_t i = 0; i < links_.size(); ++i) {
      const Link& link = links_[i];
      if (extension.empty()) extension = std::string(blockedExtension(link));
      if (!link.counted) continue;
      ++counted;
      if (isAllowed(link)) {
        ++allowed;
      } else {
        flagged_[i] = true;
        ++flagged;
      }
    }
    const std::size_t distinct = counted > maxUrls_ ? distinctLinks() : counted;

    std::string why;
    if (!extension.empty()) {
      why = "link to a blocked file type (" + extension + ")";
      fired(exchange, "blocked.extension", "extension");
    }
    if (distinct > maxUrls_) {
      if (why.empty())
        why = "too many links (" + std::to_string(distinct) + ", at most " + std::to_string(maxUrls_) + ")";
      fired(exchange, "blocked.max_urls", "max_urls");
    }
    if (flagged > 0 && action_ == Action::Block) {
      if (why.empty()) why = "links are not allowed";
      fired(exchange, "blocked.links", "block");
    }
    if (flagged > 0 && action_ == Action::Defang) {
      // Text a defang cannot be written back into: the message goes no
      // further rather than with a live link.
      const std::string unrewritable = unrewritableWith(im, parts);
      if (!unrewritable.empty()) {
        if (why.empty()) why = "link in content that cannot be rewritten (" + unrewritable + ")";
        fired(exchange, "blocked.unrewritable", "unrewritable");
      }
    }
    if (!why.empty()) {
      return Verdict::reply(403, "Forbidden", {{"Warning", "399 sipwarden \"url_filter: " + why + "\""}});
    }
    if (links_.overflowed()) {
      // Nothing read so far refuses the message, and the rest was not read.
      exchange.count("over_limit.links");
      return Verdict::error("more than max_links (" + std::to_string(links_.size()) + ") links");
    }
    if (allowed > 0) exchange.count("allowed.intranet", allowed);
    if (flagged == 0) return Verdict::proceed();
    rewrite(exchange, im, parts);
    if (action_ == Action::Defang) {
      fired(exchange, "defanged", "defang");
      exchange.count("defanged.links", flagged);
    } else {
      fired(exchange, "warned", "warn");
    }
    return Verdict::proceed();
  }

 private:
  static void fired(Exchange& exchange, std::string_view counter, std::string_view rule) {
    exchange.count(counter);
    char tag[32] = "url_filter:";  // every rule name fits
    const std::size_t prefix = 11;
    const std::size_t length = std::min(rule.size(), sizeof tag - prefix);
    rule.copy(tag + prefix, length);
    exchange.tag("rule", std::string_view(tag, prefix + length));
  }

  bool isAllowed(const Link& link) const {
    if (link.url.hosts.empty() || allow_.empty()) return false;
    return std::all_of(link.url.hosts.begin(), link.url.hosts.end(),
                       [&](const Host& host) { return allow_.allows(host); });
  }

  // Alternative parts (plain and HTML) and an anchor's href and text repeat
  // the same link: count each once.
  std::size_t distinctLinks() const {
    std::vector<std::string_view> texts;
    for (const auto& link : links_) {
      if (link.counted) texts.push_back(link.text);
    }
    std::sort(texts.begin(), texts.end());
    return static_cast<std::size_t>(std::unique(texts.begin(), texts.end()) - texts.begin());
  }

  // The blocked extension that `name` (a path or a query value) ends in, or
  // "" (a view of the configured set's entry).
  std::string_view extensionOf(std::string_view name) const {
    const bool dotted = name.find('.') != std::string_view::npos;
    const bool encoded = name.find('%') != std::string_view::npos;
    if (!dotted && !encoded) return {};
    if (!encoded) return lookup(name);
    std::string decoded = files::percentDecode(name);
    const std::size_t nul = decoded.find('\0');  // "a.exe%00.jpg" is saved as a.exe
    if (nul != std::string::npos) decoded.resize(nul);
    return lookup(decoded);
  }

  // Finds the extension of a decoded name in the set without allocating:
  // trailing dots and spaces and an NTFS stream suffix ("a.exe::$DATA")
  // do not count, only the last extension of the last path segment does.
  std::string_view lookup(std::string_view name) const {
    while (!name.empty() && (name.back() == '.' || name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
    if (name.size() > 7 && text::lower(name.substr(name.size() - 7)) == "::$data") {
      name.remove_suffix(7);
      while (!name.empty() && (name.back() == '.' || name.back() == ' ')) name.remove_suffix(1);
    }
    std::size_t dot = std::string_view::npos;
    for (std::size_t i = name.size(); i > 0; --i) {
      const char c = name[i - 1];
      if (c == '/' || c == '\\') break;
      if (c == '.') {
        dot = i - 1;
        break;
      }
    }
    if (dot == std::string_view::npos || dot + 1 == name.size() || name.size() - dot > 24) return {};
    char lower[24];
    const std::size_t length = name.size() - dot;
    for (std::size_t i = 0; i < length; ++i) {
      const char c = name[dot + i];
      lower[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
    const auto found = extensionIndex_.find(std::string_view(lower, length));
    return found == extensionIndex_.end() ? std::string_view() : *found;
  }

  // The blocked extension the link's path (or a query value, which a
  // download script names its file with) ends in; "" when none.
  std::string_view blockedExtension(const Link& link) const {
    if (extensions_.empty()) return {};
    const std::string_view path = link.url.path.of(link.text);
    std::string_view found = extensionOf(path);
    if (found.empty()) {
      // "a.exe;jsessionid=1": the server ignores the parameters.
      std::size_t segment = path.size();
      while (segment > 0 && path[segment - 1] != '/' && path[segment - 1] != '\\') --segment;
      const std::size_t semicolon = path.find(';', segment);
      if (semicolon != std::string_view::npos) found = extensionOf(path.substr(0, semicolon));
    }
    if (found.empty()) {
      // Text written right after the link with no space ("a.exeを見て").
      std::size_t end = path.size();
      while (end > 0 && static_cast<unsigned char>(path[end - 1]) >= 0x80) --end;
      if (end < path.size()) found = extensionOf(path.substr(0, end));
    }
    const std::string_view query = link.url.query.of(link.text);
    for (std::size_t start = 0; found.empty() && start < query.size();) {
      std::size_t end = start;
      while (end < query.size() && query[end] != '&' && query[end] != ';') ++end;
      std::string_view pair = query.substr(start, end - start);
      const std::size_t equals = pair.find('=');
      if (equals != std::string_view::npos) pair.remove_prefix(equals + 1);
      found = extensionOf(pair);
      start = end + 1;
    }
    return found;
  }

  // What holds a flagged link but cannot take a defang: "" when nothing
  // does. Several Subject headers cannot each be rewritten (an edit sets
  // one value for them all); nor can text the body reader extracted (RTF,
  // text/enriched, text inside an encoded container).
  std::string unrewritableWith(const InstantMessage& im, std::size_t parts) const {
    for (std::size_t i = 0; i < links_.size(); ++i) {
      if (!flagged_[i]) continue;
      if (links_[i].part >= parts && subjects_.size() > 1) return "several Subject headers";
      if (links_[i].part < parts && !im.partEditable(links_[i].part)) return std::string(im.partMediaType(links_[i].part));
    }
    return {};
  }

  // Defangs the flagged links (defang) and puts the notice at the start of
  // every part (defang with a notice, warn). A Subject with a flagged link
  // is set again, defanged (it gets no notice).
  void rewrite(Exchange& exchange, InstantMessage& im, std::size_t parts) {
    for (std::size_t part = 0; part < parts; ++part) {
      const std::string_view text = im.partText(part);
      const bool html = im.partType(part) == "text/html";
      std::string banner;
      if (!notice_.empty()) {
        banner = noticeFor(text, html);
        if (text.substr(noticePosition(text, html)).starts_with(banner)) banner.clear();  // put there already
      }
      std::string out;
      if (edited(text, html, part, banner, out)) im.setPartText(part, out);
    }
    if (action_ != Action::Defang || subjects_.size() != 1) return;
    std::string subject;
    if (edited(subjects_[0], false, parts, {}, subject)) exchange.edits().setHeader("Subject", subject);
  }

  // `text` (the part or header numbered `part`) with `banner` at its notice
  // position and, under defang, its flagged links defanged, into `out`.
  // False when nothing changes.
  bool edited(std::string_view text, bool html, std::size_t part, std::string_view banner, std::string& out) {
    edits_.clear();
    if (!banner.empty()) {
      const std::size_t at = noticePosition(text, html);
      edits_.push_back({at, at, banner, 0});
    }
    if (action_ == Action::Defang) {
      for (std::size_t i = 0; i < links_.size(); ++i) {
        const Link& link = links_[i];
        if (!flagged_[i] || link.part != part) continue;
        edits_.push_back({link.insertAt, link.insertAt, "_", 1});
        for (const std::size_t inner : link.innerInserts) edits_.push_back({inner, inner, "_", 1});
        // Invisible characters inside the link go (as characters or as
        // HTML character references).
        invisible_.clear();
        collectInvisible(text, link.raw.begin, link.raw.end, html, invisible_);
        for (const auto& removed : invisible_) edits_.push_back({removed.begin, removed.end, {}, 2});
      }
    }
    if (edits_.empty()) return false;
    std::sort(edits_.begin(), edits_.end(), [](const Edit& a, const Edit& b) {
      return a.begin != b.begin ? a.begin < b.begin : a.order < b.order;
    });
    out.clear();
    out.reserve(text.size() + banner.size() + edits_.size());
    std::size_t cursor = 0;
    std::size_t lastUnderscore = std::string_view::npos;
    for (const auto& edit : edits_) {
      if (edit.begin < cursor) continue;
      // A link found on its own and as a start inside another one (the
      // parameters of a sip: href) gets one "_".
      if (edit.order == 1 && edit.begin == lastUnderscore) continue;
      if (edit.order == 1) lastUnderscore = edit.begin;
      out.append(text.substr(cursor, edit.begin - cursor));
      out.append(edit.insert);
      cursor = edit.end;
    }
    out.append(text.substr(cursor));
    return true;
  }

  // Where the notice goes, as banner does it: after a byte-order mark, and
  // in HTML right after the opening <body ...> tag when there is one.
  static std::size_t noticePosition(std::string_view text, bool html) {
    std::size_t at = text.starts_with("\xEF\xBB\xBF") ? 3 : 0;
    if (!html) return at;
    for (std::size_t open = text.find('<', at); open != std::string_view::npos; open = text.find('<', open + 1)) {
      const std::string_view tag = text.substr(open + 1, 5);
      if (tag.size() == 5 && text::lower(tag.substr(0, 4)) == "body" &&
          (tag[4] == '>' || tag[4] == ' ' || tag[4] == '\t' || tag[4] == '\r' || tag[4] == '\n')) {
        const std::size_t close = text.find('>', open);
        return close == std::string_view::npos ? at : close + 1;
      }
    }
    return at;
  }

  // The notice as it is written into a part: in HTML escaped, each line
  // break as <br/>, then <br/>; in plain text followed by a line break in
  // the text's own style (none when the part is empty).
  std::string noticeFor(std::string_view text, bool html) const {
    if (!html) {
      if (text.empty()) return notice_;
      const std::size_t lf = text.find('\n');
      const bool bareLf = lf != std::string_view::npos && (lf == 0 || text[lf - 1] != '\r');
      return notice_ + (bareLf ? "\n" : "\r\n");
    }
    std::string out;
    for (char c : html::escape(notice_)) {
      if (c == '\n')
        out += "<br/>";
      else if (c != '\r')
        out.push_back(c);
    }
    return out + "<br/>";
  }

  struct Edit {
    std::size_t begin;
    std::size_t end;          // [begin, end) is replaced by `insert`
    std::string_view insert;  // the notice, "_", or nothing (a removal)
    int order;                // at one place: the notice, then "_", then removals
  };

  const Action action_;
  const std::string notice_;
  const std::unique_ptr<LinkFinder> finder_;
  const AllowList allow_;
  const std::set<std::string, std::less<>> extensions_;
  const std::unordered_set<std::string_view> extensionIndex_;  // views of extensions_, hashed for lookup()
  const std::size_t maxUrls_;
  const std::size_t maxBodyBytes_;
  const OnUnreadable onUnreadable_;
  // Scratch, reused from message to message (a filter runs on one thread).
  LinkList links_;
  std::vector<bool> flagged_;
  std::vector<Edit> edits_;
  std::vector<RawSpan> invisible_;
  std::vector<std::string> subjects_;  // the message's Subject header values
};

std::unique_ptr<Filter> create(PluginConfig& config) {
  const std::string actionName = config.getChoice("action", {"block", "defang", "warn"}, "block");
  const Action action = actionName == "defang" ? Action::Defang : actionName == "warn" ? Action::Warn : Action::Block;
  std::string notice = config.getString("notice", action == Action::Warn ? kDefaultWarning : "");
  const std::vector<std::string> prefixes = config.getStrings("prefixes", defaultPrefixes());
  const std::vector<std::string> intranet = config.getStrings("allow_intranet", {});
  std::set<std::string> extensions;
  if (!readExtensions(config, extensions)) return nullptr;
  const std::int64_t maxUrls = config.getInteger("max_urls", 1000, 0, 1000000);
  const std::int64_t maxBodyBytes = config.getInteger("max_body_bytes", kDefaultMaxBodyBytes, 1, 1 << 30);
  const std::int64_t maxLinks = config.getInteger("max_links", 10000, 1, 1000000);
  if (config.failed()) return nullptr;

  if (notice.find('\0') != std::string::npos) {
    config.fail("notice", "holds a NUL character");
    return nullptr;
  }
  // An extension that starts with a digit or has one character (".7z") makes
  // the finder's quick test look at every dot.
  const bool digitDots = std::any_of(extensions.begin(), extensions.end(), [](const std::string& extension) {
    return extension.size() < 3 || !(extension[1] >= 'a' && extension[1] <= 'z') ||
           !((extension[2] >= 'a' && extension[2] <= 'z') || (extension[2] >= '0' && extension[2] <= '9'));
  });
  std::string error;
  std::unique_ptr<LinkFinder> finder = LinkFinder::create(prefixes, digitDots, action == Action::Defang, error);
  if (!finder) {
    config.fail("prefixes", error);
    return nullptr;
  }
  AllowList allow;
  for (const auto& entry : intranet) {
    if (!allow.add(entry)) {
      config.fail("allow_intranet", "'" + entry + "' is not a domain, an IP address or a CIDR network");
      return nullptr;
    }
  }
  const Limits limits{static_cast<std::size_t>(maxUrls), static_cast<std::size_t>(maxBodyBytes),
                      static_cast<std::size_t>(maxLinks), onUnreadableSetting(config)};
  return std::make_unique<UrlFilter>(action, std::move(notice), std::move(finder), std::move(allow), extensions,
                                     limits);
}

}  // namespace
}  // namespace sipwarden::plugins::url_filter

SIPWARDEN_PLUGIN(url_filter, "url_filter", "1.0", &sipwarden::plugins::url_filter::create)
