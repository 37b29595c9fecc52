// call_log: one call detail record per INVITE dialog (caller, callee, times
// of INVITE, first ringing, answer and end, duration, disposition, which side
// ended it, media offered) and a row per file offered in it.
//
//   {"plugin": "call_log", "session_timeout_minutes": 240, "max_files": 100}
//
// A call records at most max_files file transfers (one per "file" tag, in
// order); the rest are counted (files.over_limit) and logged, not written:
// the call has ended by then, so there is nothing left to refuse.
//
// Each event writes what it knows and the archive merges it by Call-ID, so
// the plugin keeps no per-call memory: a reload, or the two halves of a
// dialog crossing different chains, cannot lose a record. Answered calls
// that never see a BYE are closed after session_timeout_minutes and marked
// closed_by_timer. Place it after file_filter so file offers carry their
// verdict.
#include <string>

#include "sipwarden/plugin.h"

namespace sipwarden::plugins::call_log {
namespace {

std::int64_t epochMs(std::chrono::system_clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

// "audio,video,message,file" from the SDP m= lines (any part of the body).
std::string mediaOffered(std::string_view body) {
  std::string media;
  auto add = [&](std::string_view kind) {
    if (media.find(kind) != std::string::npos) return;
    if (!media.empty()) media += ",";
    media += kind;
  };
  std::size_t pos = 0;
  while (pos < body.size()) {
    std::size_t end = body.find('\n', pos);
    if (end == std::string_view::npos) end = body.size();
    std::string_view line = body.substr(pos, end - pos);
    pos = end + 1;
    if (line.starts_with("m=")) {
      const std::string_view kind = line.substr(2, line.find(' ') == std::string_view::npos ? 0 : line.find(' ') - 2);
      if (kind == "audio" || kind == "video" || kind == "message") add(kind);
      if (kind == "data" || kind == "application") add("data");
    } else if (line.starts_with("a=file-selector")) {
      add("file");
    }
  }
  if (body.find("ms-filetransfer+xml") != std::string_view::npos) add("file");
  return media;
}

std::string disposition(int code) {
  if (code >= 200 && code < 300) return "answered";
  if (code == 486 || code == 600) return "busy";
  if (code == 487) return "cancelled";
  if (code == 408 || code == 480) return "no_answer";
  if (code >= 500 && code < 600) return "failed";
  return "rejected";
}

class CallLog final : public Filter {
 public:
  CallLog(std::int64_t sessionTimeoutMs, std::size_t maxFiles)
      : sessionTimeoutMs_(sessionTimeoutMs), maxFiles_(maxFiles) {}

  MethodSet methods() const override { return MethodSet(MethodSet::Invite | MethodSet::Bye); }

  Verdict onRequest(Exchange& exchange) override {
    ArchiveSink* archive = exchange.archive();
    if (archive == nullptr) return Verdict::proceed();
    const MessageView& message = exchange.message();
    const std::int64_t now = epochMs(exchange.now());
    if (message.method() == "BYE") {
      CallRecord record;
      record.callId = std::string(message.callId());
      record.endMs = now;
      record.endedByAor = message.from().aor();
      if (!archive->submitCall(std::move(record))) exchange.count("refused");
      return Verdict::proceed();
    }
    if (!message.to().tag.empty()) return Verdict::proceed();  // re-INVITE: same call
    exchange.state().insert_or_assign("call", std::string("1"));
    if (now - lastSweepMs_ > 60000) {
      lastSweepMs_ = now;
      archive->closeStaleCalls(now, sessionTimeoutMs_);
    }
    CallRecord record = start(exchange, now);
    if (!archive->submitCall(std::move(record))) exchange.count("refused");
    return Verdict::proceed();
  }

  void onResponse(Exchange& exchange) override {
    ArchiveSink* archive = exchange.archive();
    const int code = exchange.message().statusCode();
    if (archive == nullptr || exchange.message().method() != "INVITE" || code <= 100 || code >= 200) return;
    if (!exchange.state().count("call")) return;
    CallRecord record;
    record.callId = std::string(exchange.message().callId());
    record.ringingMs = epochMs(exchange.now());
    archive->submitCall(std::move(record));
  }

  void onEnd(Exchange& exchange, int finalCode) override {
    ArchiveSink* archive = exchange.archive();
    const MessageView& message = exchange.message();
    if (archive == nullptr || message.method() != "INVITE" || !message.to().tag.empty()) return;
    const std::int64_t now = epochMs(exchange.now());
    // A call stopped by an earlier filter never reached onRequest here.
    CallRecord record = start(exchange, now);
    record.disposition = disposition(finalCode);
    if (finalCode >= 200 && finalCode < 300) {
      record.answerMs = now;
    } else {
      record.endMs = now;
      record.endCode = finalCode;
    }
    archive->submitCall(std::move(record));
    recordFiles(exchange, *archive, finalCode, now, maxFiles_);
  }

 private:
  static CallRecord start(Exchange& exchange, std::int64_t now) {
    const MessageView& message = exchange.message();
    CallRecord record;
    record.callId = std::string(message.callId());
    record.caller = message.from().aor();
    record.callee = message.to().aor();
    record.inviteMs = now;
    record.media = mediaOffered(message.body());
    return record;
  }

  // One pass over the tags for the verdict and one for the files: linear in
  // the tags, and at most maxFiles rows.
  static void recordFiles(Exchange& exchange, ArchiveSink& archive, int finalCode, std::int64_t now,
                          std::size_t maxFiles) {
    const auto& tags = exchange.tags();
    bool blockedByFileFilter = exchange.stoppedBy() == "file_filter";
    for (const auto& [key, value] : tags) {
      if (key == "rule" && value.starts_with("file_filter:")) blockedByFileFilter = true;
    }
    std::size_t recorded = 0;
    std::size_t skipped = 0;
    for (std::size_t i = 0; i < tags.size(); ++i) {
      if (tags[i].first != "file") continue;
      if (recorded == maxFiles) {
        ++skipped;
        continue;
      }
      ++recorded;
      FileTransferRecord file;
      file.callId = std::string(exchange.message().callId());
      file.name = tags[i].second;
      if (i + 1 < tags.size() && tags[i + 1].first == "file_size") {
        try {
          file.size = std::stoll(tags[i + 1].second);
        } catch (const std::exception&) {
          file.size = -1;
        }
      }
      file.blocked = blockedByFileFilter && finalCode >= 300;
      file.timeMs = now;
      archive.submitFileTransfer(std::move(file));
    }
    if (skipped > 0) {
      exchange.count("files.over_limit", skipped);
      exchange.log(LogLevel::Warning, "call " + std::string(exchange.message().callId()) + ": " +
                                          std::to_string(skipped) + " file transfers over max_files (" +
                                          std::to_string(maxFiles) + ") not recorded");
    }
  }

  std::int64_t sessionTimeoutMs_;
  std::size_t maxFiles_;
  std::int64_t lastSweepMs_ = 0;
};

std::unique_ptr<Filter> create(PluginConfig& config) {
  const std::int64_t minutes = config.getInteger("session_timeout_minutes", 240, 1, 10080);
  // file_filter examines (and tags) 100 offers per request by default.
  const std::int64_t maxFiles = config.getInteger("max_files", 100, 1, 1000000);
  if (config.failed()) return nullptr;
  return std::make_unique<CallLog>(minutes * 60000, static_cast<std::size_t>(maxFiles));
}

}  // namespace
}  // namespace sipwarden::plugins::call_log

SIPWARDEN_PLUGIN(call_log, "call_log", "1.0", &sipwarden::plugins::call_log::create)
