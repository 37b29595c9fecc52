#include "pipeline/exchange.h"

#include "pipeline/activity.h"

#include <Poco/Logger.h>

#include <algorithm>

namespace sipwarden::pipeline {
namespace {

std::string canonicalKey(std::string_view name) {
  const sip::HeaderId id = sip::classifyHeader(name);
  std::string key(id != sip::HeaderId::Other ? sip::canonicalName(id) : name);
  std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return std::tolower(c); });
  return key;
}

bool sameHeader(const sip::HeaderField& field, std::string_view key) {
  return canonicalKey(field.name) == key;
}

// ASCII lower-case, inline (std::tolower is a library call per character).
std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

Address toAddress(const sip::NameAddr& nameAddr) {
  Address address;
  address.uri = std::string(nameAddr.uri.text);
  address.user = std::string(nameAddr.uri.user);
  address.host = lower(nameAddr.uri.hostAddress());
  address.display = std::string(nameAddr.displayName);
  address.tag = std::string(nameAddr.tag());
  return address;
}

CoreExchange::CoreExchange(const transport::Origin& origin, Direction direction)
    : origin_(&origin),
      transport_(origin.protocol == transport::Protocol::Udp   ? Transport::Udp
                 : origin.protocol == transport::Protocol::Tcp ? Transport::Tcp
                                                               : Transport::Tls),
      direction_(direction) {}

std::string_view CoreExchange::sourceIp() const {
  if (sourceIp_.empty()) sourceIp_ = origin_->source.host().toString();
  return sourceIp_;
}

void CoreExchange::bind(const sip::Message& message) {
  current_ = &message;
  overrides_.clear();
  overrideNames_.clear();
  body_.reset();
  contentType_.reset();
  im_.reset();
  from_.reset();
  to_.reset();
}

void CoreExchange::setPlugin(std::size_t index, const std::string* name, PluginCounters* counters) {
  plugin_ = index;
  pluginName_ = name;
  pluginCounters_ = counters;
}

std::string CoreExchange::dialogId() const {
  // The dialog is the same whichever side sent the request, so order the tags.
  std::string a = from().tag;
  std::string b = to().tag;
  if (b < a) std::swap(a, b);
  return std::string(current_->callId()) + ";" + a + ";" + b;
}

void CoreExchange::log(LogLevel level, std::string_view text) {
  Poco::Logger& logger = Poco::Logger::get("sipwarden.plugin." + (pluginName_ ? *pluginName_ : std::string("?")));
  const std::string message(text);
  switch (level) {
    case LogLevel::Debug: logger.debug(message); break;
    case LogLevel::Info: logger.information(message); break;
    case LogLevel::Warning: logger.warning(message); break;
    case LogLevel::Error: logger.error(message); break;
  }
}

void CoreExchange::count(std::string_view counter, std::uint64_t delta) {
  if (pluginCounters_ != nullptr) pluginCounters_->add(counter, delta);
}

std::map<std::string, std::string>& CoreExchange::state() {
  if (pluginState_.size() <= plugin_) pluginState_.resize(plugin_ + 1);
  return pluginState_[plugin_];
}

void CoreExchange::tag(std::string_view key, std::string_view value) { tags_.emplace_back(key, value); }

void CoreExchange::noteActivity(std::string_view what) { pipeline::noteActivity(what); }

std::shared_ptr<PendingVerdict> CoreExchange::pendingVerdict() {
  // Offline (policy test): nobody waits, so a pending plugin's verdict is
  // simply dropped; the plugin should not return Pending there.
  pending_ = pendingFactory_ ? pendingFactory_() : std::make_shared<PendingResume>(nullptr);
  return pending_;
}

std::uint32_t CoreExchange::cseqNumber() const {
  const sip::CSeq* cseq = current_->cseq();
  return cseq != nullptr ? cseq->number : 0;
}

const Address& CoreExchange::from() const {
  if (!from_) from_ = current_->from() != nullptr ? toAddress(*current_->from()) : Address{};
  return *from_;
}

const Address& CoreExchange::to() const {
  if (!to_) to_ = current_->to() != nullptr ? toAddress(*current_->to()) : Address{};
  return *to_;
}

std::optional<std::string_view> CoreExchange::header(std::string_view name) const {
  if (!overrides_.empty()) {
    auto found = overrides_.find(canonicalKey(name));
    if (found != overrides_.end()) {
      if (found->second.empty()) return std::nullopt;
      return std::string_view(found->second.front());
    }
  }
  if (contentType_ && canonicalKey(name) == "content-type") return std::string_view(*contentType_);
  return current_->header(name);
}

std::vector<std::string> CoreExchange::headers(std::string_view name) const {
  auto found = overrides_.find(canonicalKey(name));
  if (found != overrides_.end()) return found->second;
  std::vector<std::string> out;
  for (auto value : current_->values(name)) out.emplace_back(value);
  return out;
}

std::string_view CoreExchange::body() const {
  if (im_ && im_->bodyModified()) {
    renderedBody_ = im_->renderBody();
    return renderedBody_;
  }
  return body_ ? std::string_view(*body_) : current_->body();
}

namespace {

// The headers the body reader needs, in one pass over the message.
im::ImBody::Headers bodyHeadersOf(const sip::Message& message) {
  im::ImBody::Headers found;
  for (const sip::HeaderField& field : message.headers()) {
    switch (field.id) {
      case sip::HeaderId::ContentType:
        ++found.contentTypes;
        break;
      case sip::HeaderId::ContentEncoding:
        if (found.contentEncodings++ == 0) found.contentEncoding = field.value;
        break;
      case sip::HeaderId::Other:
        if (field.name.size() < 12 || (field.name[0] != 'C' && field.name[0] != 'c' && field.name[0] != 'M' &&
                                       field.name[0] != 'm')) {
          break;  // none of the names below
        }
        if (sip::iequals(field.name, "Content-Transfer-Encoding")) {
          if (found.transferEncodings++ == 0) found.transferEncoding = field.value;
        } else if (sip::iequals(field.name, "Ms-Text-Format")) {
          if (found.msTextFormats++ == 0) found.msTextFormat = field.value;
        } else if (sip::iequals(field.name, "Ms-IM-Format")) {
          if (found.msImFormats++ == 0) found.msImFormat = field.value;
        }
        break;
      default:
        break;
    }
  }
  return found;
}

}  // namespace

InstantMessage& CoreExchange::instantMessage() {
  if (!im_) {
    const std::string contentType(header("Content-Type").value_or(""));
    const bool changed = body_ || !overrides_.empty();
    if (!changed) {
      im_ = std::make_unique<im::ImBody>(current_->method(), contentType, std::string(body()), bodyHeadersOf(*current_));
    } else {
      im_ = std::make_unique<im::ImBody>(
          current_->method(), contentType, std::string(body()), [this](std::string_view name) { return header(name); },
          [this](std::string_view name) { return headers(name).size(); });
      // Earlier filters changed the message: "original" means as received.
      const im::ImBody received(current_->method(), current_->header("Content-Type").value_or(""),
                                std::string(current_->body()), bodyHeadersOf(*current_));
      im_->setOriginalPlainText(received.plainText());
    }
  }
  return *im_;
}

std::string_view CoreExchange::contentType() const {
  const std::string_view full = header("Content-Type").value_or("");
  contentTypeCache_ = lower(sip::trim(full.substr(0, full.find(';'))));
  return contentTypeCache_;
}

std::vector<std::string>& CoreExchange::overrideFor(std::string_view name) {
  const std::string key = canonicalKey(name);
  auto found = overrides_.find(key);
  if (found == overrides_.end()) {
    std::vector<std::string> original;
    for (auto value : current_->values(name)) original.emplace_back(value);
    found = overrides_.emplace(key, std::move(original)).first;
    overrideNames_.emplace(key, std::string(name));
  }
  return found->second;
}

void CoreExchange::setHeader(std::string_view name, std::string_view value) {
  auto& values = overrideFor(name);
  values.assign(1, std::string(value));
}

void CoreExchange::addHeader(std::string_view name, std::string_view value) {
  overrideFor(name).emplace_back(value);
}

void CoreExchange::removeHeader(std::string_view name) { overrideFor(name).clear(); }

void CoreExchange::setBody(std::string_view body, std::string_view contentType) {
  im_.reset();  // a whole new body supersedes earlier part edits
  body_ = std::string(body);
  if (!contentType.empty()) contentType_ = std::string(contentType);
}

void CoreExchange::applyTo(sip::EditList& edits) const {
  const auto& fields = current_->headers();
  auto overrides = overrides_;
  auto names = overrideNames_;
  if (im_) {
    for (auto& [name, value] : im_->renderHeaders()) {
      overrides[canonicalKey(name)] = {value};
      names.emplace(canonicalKey(name), name);
    }
  }
  for (const auto& [key, values] : overrides) {
    std::size_t firstIndex = sip::EditList::kEnd;
    for (std::size_t i = 0; i < fields.size(); ++i) {
      if (!sameHeader(fields[i], key)) continue;
      if (firstIndex == sip::EditList::kEnd) firstIndex = i;
      edits.remove(i);
    }
    const std::string& name = names.at(key);
    for (const auto& value : values) edits.insertBefore(firstIndex, name, value);
  }
  if (im_ && im_->bodyModified()) {
    edits.replaceBody(im_->renderBody(), contentType_);
  } else if (body_) {
    edits.replaceBody(*body_, contentType_);
  }
}

}  // namespace sipwarden::pipeline
