#pragma once
// The core's implementation of the SDK's Exchange, MessageView and Edits:
// one per transaction, bound to the request and then to each response.
// Filters edit headers by name; the edits become index-based EditList
// entries only when the message leaves (applyTo).

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "im/im_body.h"
#include "pipeline/counters.h"
#include "pipeline/pending_verdict.h"
#include "sip/edit_list.h"
#include "sip/message.h"
#include "sipwarden/filter.h"
#include "transport/transport.h"

namespace sipwarden::pipeline {

class CoreExchange final : public Exchange, private MessageView, private Edits {
 public:
  // `origin` must outlive the exchange (the transaction keeps both).
  CoreExchange(const transport::Origin& origin, Direction direction);

  // Points the exchange at a message (the request, later each response) and
  // forgets the edits made to the previous one.
  void bind(const sip::Message& message);
  // Turns the edits made since bind() into EditList entries for `message`.
  void applyTo(sip::EditList& edits) const;
  bool edited() const { return !overrides_.empty() || body_.has_value() || (im_ && im_->modified()); }
  // Which plugin the next calls come from (for state, counters and logs).
  void setPlugin(std::size_t index, const std::string* name, PluginCounters* counters);

  // Exchange
  const MessageView& message() const override { return *this; }
  Edits& edits() override { return *this; }
  InstantMessage& instantMessage() override;
  std::string_view sourceIp() const override;
  std::uint16_t sourcePort() const override { return origin_->source.port(); }
  Transport transport() const override { return transport_; }
  Direction direction() const override { return direction_; }
  std::string dialogId() const override;
  std::chrono::system_clock::time_point now() const override {
    return fixedNow_ ? *fixedNow_ : std::chrono::system_clock::now();
  }
  // For offline runs (`policy test`): the time filters see.
  void fixNow(std::chrono::system_clock::time_point when) { fixedNow_ = when; }
  void log(LogLevel level, std::string_view text) override;
  void count(std::string_view counter, std::uint64_t delta) override;
  std::map<std::string, std::string>& state() override;
  void tag(std::string_view key, std::string_view value) override;
  const std::vector<std::pair<std::string, std::string>>& tags() const override { return tags_; }
  std::string_view stoppedBy() const override { return stoppedBy_; }
  ArchiveSink* archive() override { return archive_; }
  std::shared_ptr<PendingVerdict> pendingVerdict() override;
  void noteActivity(std::string_view what) override;
  std::string_view receivedBody() const override { return current_->body(); }

  void setStoppedBy(std::string_view plugin) { stoppedBy_ = std::string(plugin); }
  // How a pending verdict reaches the transaction: set by MessagePath.
  using PendingFactory = std::function<std::shared_ptr<PendingResume>()>;
  void setPendingFactory(PendingFactory factory) { pendingFactory_ = std::move(factory); }
  // The pending verdict the last pending plugin took (null before any).
  const std::shared_ptr<PendingResume>& pending() const { return pending_; }
  void setArchive(ArchiveSink* archive) { archive_ = archive; }
  // The plugin that returned Pending, to go on after it.
  std::size_t pendingPlugin() const { return pendingPlugin_; }
  void setPendingPlugin(std::size_t index) { pendingPlugin_ = index; }

 private:
  // MessageView
  bool isRequest() const override { return current_->isRequest(); }
  std::string_view method() const override { return current_->method(); }
  std::string_view requestUri() const override { return current_->isRequest() ? current_->requestUri() : ""; }
  int statusCode() const override { return current_->statusCode(); }
  std::string_view reasonPhrase() const override { return current_->reasonPhrase(); }
  std::string_view callId() const override { return current_->callId(); }
  std::uint32_t cseqNumber() const override;
  const Address& from() const override;
  const Address& to() const override;
  std::optional<std::string_view> header(std::string_view name) const override;
  std::vector<std::string> headers(std::string_view name) const override;
  std::string_view body() const override;
  std::string_view contentType() const override;

  // Edits
  void setHeader(std::string_view name, std::string_view value) override;
  void addHeader(std::string_view name, std::string_view value) override;
  void removeHeader(std::string_view name) override;
  void setBody(std::string_view body, std::string_view contentType) override;

  // Header edits are kept per header (by canonical name) as the full list
  // of values the header will have.
  std::vector<std::string>& overrideFor(std::string_view name);

  const sip::Message* current_ = nullptr;
  std::map<std::string, std::vector<std::string>> overrides_;
  std::map<std::string, std::string> overrideNames_;  // canonical -> name as the filter wrote it
  std::optional<std::string> body_;
  // Built on first use from the message as it stands (after setBody).
  std::unique_ptr<im::ImBody> im_;
  mutable std::string renderedBody_;
  std::optional<std::string> contentType_;
  mutable std::optional<Address> from_;
  mutable std::optional<Address> to_;
  mutable std::string contentTypeCache_;

  const transport::Origin* origin_;
  mutable std::string sourceIp_;  // formatted on first use
  Transport transport_ = Transport::Udp;
  Direction direction_ = Direction::FromClient;
  std::vector<std::map<std::string, std::string>> pluginState_;
  std::vector<std::pair<std::string, std::string>> tags_;
  std::string stoppedBy_;
  PendingFactory pendingFactory_;
  std::shared_ptr<PendingResume> pending_;
  ArchiveSink* archive_ = nullptr;
  std::optional<std::chrono::system_clock::time_point> fixedNow_;
  std::size_t pendingPlugin_ = 0;
  std::size_t plugin_ = 0;
  const std::string* pluginName_ = nullptr;
  PluginCounters* pluginCounters_ = nullptr;
};

// Splits a parsed name-addr into the SDK's Address.
Address toAddress(const sip::NameAddr& nameAddr);

}  // namespace sipwarden::pipeline
