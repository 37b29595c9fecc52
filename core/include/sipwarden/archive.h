#pragma once
// What an archiving plugin hands to the core's archive: one record per
// instant message. The core owns the store and its writer thread (they
// outlive chain reloads); plugins reach it through Exchange::archive().

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace sipwarden {

struct MessageRecord {
  std::int64_t timeMs = 0;  // UTC milliseconds
  std::string direction;    // "from_client" or "from_upstream"
  std::string sender;       // address-of-record, lower-case host
  std::string senderName;
  std::string recipient;
  std::string recipientName;
  std::string callId;
  std::uint32_t cseq = 0;
  std::string contentType;   // media type, lower-case, no parameters
  std::string text;          // as delivered: the text a person reads, for search
  std::string originalText;  // empty unless a filter changed it
  std::string verdict;       // delivered, blocked, modified, failed
  std::string rules;         // comma-separated
  std::string tags;          // key=value, comma-separated
  int finalCode = 0;
  std::string source;  // ip:port
  std::string transport;
  bool session = false;       // inside an INVITE dialog (IM session)
  std::string participants;   // sorted AORs, comma-separated (conversation grouping)
  // The body exactly as received (before any filter's edit), every byte
  // kept, NULs and all, so that an export reproduces it; with the
  // Content-Type header as received (parameters kept: charset, boundary)
  // and the Content-Encoding header, if any.
  std::string rawBody;
  std::string receivedContentType;
  std::string contentEncoding;
  // Empty when the text was read; otherwise why not, reasons joined by
  // "; " (the SDK's InstantMessage::unreadableReason).
  std::string unreadable;
};

// One call detail record, written as it becomes known: every field left at
// its empty value keeps what the archive already has for the Call-ID.
struct CallRecord {
  std::string callId;
  std::string caller;  // AORs
  std::string callee;
  std::int64_t inviteMs = 0;
  std::int64_t ringingMs = 0;
  std::int64_t answerMs = 0;
  std::int64_t endMs = 0;
  std::string disposition;  // in_progress, answered, busy, no_answer, cancelled, rejected, failed
  int endCode = 0;
  std::string endedByAor;   // who sent the BYE; the archive decides caller or callee
  std::string media;        // audio,video,message,file
};

struct FileTransferRecord {
  std::string callId;
  std::string name;
  std::int64_t size = -1;  // -1 when unknown
  bool blocked = false;
  std::int64_t timeMs = 0;
};

// Someone who acts only once a message row is durable (archive-before-
// forward). The writer calls claim() on its own thread once it holds the
// archive's write lock, just before writing the row: false means the waiter
// gave up, and the row is not written. committed() then follows once: true
// when the row's batch is durable, false when it could not be written (also
// without a claim, when the archive fails before the row's turn).
class CommitWaiter {
 public:
  virtual ~CommitWaiter() = default;
  virtual bool claim() = 0;
  virtual void committed(bool durable) = 0;
};

class ArchiveSink {
 public:
  virtual ~ArchiveSink() = default;
  // Queues the record for the writer thread. False when the queue is full
  // or the archive has failed (the caller applies its failure mode). When
  // given, `waiter` is claimed before the row is written and told when it
  // is durable or could not be written (see CommitWaiter).
  virtual bool submit(MessageRecord record, std::shared_ptr<CommitWaiter> waiter = nullptr) = 0;
  // Records the final response code of an archived request. It arrives
  // after the row is sealed, so it goes to a second chain of outcome
  // records (docs/archive.md).
  virtual void finalCode(const std::string& callId, std::uint32_t cseq, const std::string& sender, int code) = 0;
  virtual bool healthy() const = 0;
  virtual bool submitCall(CallRecord record) = 0;
  virtual bool submitFileTransfer(FileTransferRecord record) = 0;
  // Closes answered calls with no end older than `timeoutMs` (lost BYE):
  // ended now, marked closed by the session timer.
  virtual void closeStaleCalls(std::int64_t nowMs, std::int64_t timeoutMs) = 0;
};

}  // namespace sipwarden
