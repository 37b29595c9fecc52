// archive: every instant message that crosses the hop goes to the archive,
// once, whatever its type or encoding, with the text as delivered, the
// original when a filter changed it, the body exactly as received (bytes
// intact) and what of it could not be read, the verdict, the rules and tags
// that fired, and the final response code.
//
//   {"plugin": "archive", "on_archive_failure": "deliver" | "reject"}
//
// deliver: forward at once, archive behind (a full queue or a failing disk
//          costs the archive row, counted and logged, never the message).
// reject:  archive-before-forward: the request waits until its row is
//          durably committed; if it cannot be, the sender gets 503 with
//          Retry-After and a Warning, and nothing undelivered is archived as
//          delivered. Place the plugin last in the chain so it records the
//          text the recipient receives.
#include <algorithm>
#include <memory>

#include "sipwarden/plugin.h"

namespace sipwarden::plugins::archive {
namespace {

std::int64_t epochMs(std::chrono::system_clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

Verdict unavailable() {
  return Verdict::reply(503, "Service Unavailable",
                        {{"Retry-After", "30"}, {"Warning", "399 sipwarden \"archive: the message cannot be archived\""}});
}

// Archive-before-forward: the transaction waits for its row. The writer
// claims the transaction once it holds the write lock, so a transaction
// that already gave up (and answered 503) never gets its row written, and
// one whose row is being committed does not give up.
class ForwardWhenDurable final : public CommitWaiter {
 public:
  explicit ForwardWhenDurable(std::shared_ptr<PendingVerdict> pending) : pending_(std::move(pending)) {}
  bool claim() override { return pending_->claim(); }
  void committed(bool durable) override { pending_->resume(durable ? Verdict::proceed() : unavailable()); }

 private:
  std::shared_ptr<PendingVerdict> pending_;
};

class Archive final : public Filter {
 public:
  explicit Archive(bool reject) : reject_(reject) {}

  MethodSet methods() const override { return MethodSet(MethodSet::Message | MethodSet::Invite); }

  Verdict onRequest(Exchange& exchange) override {
    InstantMessage& im = exchange.instantMessage();
    if (!im.present()) return Verdict::proceed();
    ArchiveSink* archive = exchange.archive();
    if (archive == nullptr) return Verdict::error("no archive is configured (set archive.path)");
    MessageRecord record = recordOf(exchange, im);
    exchange.state()["archived"] = "1";
    exchange.state()["sender"] = record.sender;
    if (!reject_) {
      if (!archive->submit(std::move(record))) exchange.count("refused");
      return Verdict::proceed();
    }
    const bool queued =
        archive->submit(std::move(record), std::make_shared<ForwardWhenDurable>(exchange.pendingVerdict()));
    if (!queued) {
      exchange.count("rejected");
      exchange.state().erase("archived");
      return unavailable();
    }
    return Verdict::pending();
  }

  void onEnd(Exchange& exchange, int finalCode) override {
    ArchiveSink* archive = exchange.archive();
    if (archive == nullptr) return;
    auto& state = exchange.state();
    if (state.count("archived")) {
      archive->finalCode(std::string(exchange.message().callId()), exchange.message().cseqNumber(), state["sender"],
                         finalCode);
      return;
    }
    // Stopped before reaching this plugin (blocked by a filter, or by the
    // archive itself in reject mode): archived as blocked, never as delivered.
    if (exchange.stoppedBy().empty() || exchange.stoppedBy() == "archive") return;
    InstantMessage& im = exchange.instantMessage();
    if (!im.present()) return;
    MessageRecord record = recordOf(exchange, im);
    record.verdict = "blocked";
    record.finalCode = finalCode;
    if (!archive->submit(std::move(record))) exchange.count("refused");
  }

 private:
  static MessageRecord recordOf(Exchange& exchange, InstantMessage& im) {
    const MessageView& message = exchange.message();
    MessageRecord record;
    record.timeMs = epochMs(exchange.now());
    record.direction = exchange.direction() == Direction::FromClient ? "from_client" : "from_upstream";
    record.sender = message.from().aor();
    record.senderName = message.from().display;
    record.recipient = message.to().aor();
    record.recipientName = message.to().display;
    record.callId = std::string(message.callId());
    record.cseq = message.cseqNumber();
    record.contentType = std::string(message.contentType());
    // The body as it arrived, before any filter's edit, bytes intact, with
    // the two headers needed to read it again (never other headers:
    // credentials stay out of the archive), and why its text could not be
    // read, if it could not.
    record.rawBody = std::string(exchange.receivedBody());
    record.receivedContentType = std::string(message.header("Content-Type").value_or(""));
    record.contentEncoding = std::string(message.header("Content-Encoding").value_or(""));
    for (std::size_t i = 0; i < im.unreadableCount(); ++i) {
      if (!record.unreadable.empty()) record.unreadable += "; ";
      record.unreadable += im.unreadableReason(i);
    }
    // An image or a file is not unreadable to the SDK (it is not text), but
    // to a search it is: a message that gave no text at all is marked too,
    // so that `query --unreadable` finds what a text search never will.
    if (record.unreadable.empty() && im.partCount() == 0 && !record.rawBody.empty()) {
      record.unreadable = "no text: " + (record.contentType.empty() ? std::string("no Content-Type")
                                                                    : "the body is " + record.contentType);
    }
    record.text = im.plainText();
    const std::string original = im.originalPlainText();
    record.verdict = original == record.text ? "delivered" : "modified";
    if (original != record.text) record.originalText = original;
    for (const auto& [key, value] : exchange.tags()) {
      std::string& list = key == "rule" ? record.rules : record.tags;
      if (!list.empty()) list += ",";
      list += key == "rule" ? value : key + "=" + value;
    }
    record.source = std::string(exchange.sourceIp()) + ":" + std::to_string(exchange.sourcePort());
    record.transport = transportName(exchange.transport());
    // An IM session (INVITE dialog) is one conversation; page-mode messages
    // are grouped by their participants.
    record.session = message.method() == "INVITE" || !message.to().tag.empty();
    std::string a = record.sender;
    std::string b = record.recipient;
    if (b < a) std::swap(a, b);
    record.participants = a + "," + b;
    return record;
  }

  bool reject_;
};

std::unique_ptr<Filter> create(PluginConfig& config) {
  const std::string mode = config.getChoice("on_archive_failure", {"deliver", "reject"}, "deliver");
  if (config.failed()) return nullptr;
  return std::make_unique<Archive>(mode == "reject");
}

}  // namespace
}  // namespace sipwarden::plugins::archive

SIPWARDEN_PLUGIN(archive, "archive", "1.0", &sipwarden::plugins::archive::create)
