#include "proxy/replies.h"

namespace sipwarden::proxy {
namespace {

using sip::HeaderId;

void appendLine(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out.append(": ");
  out.append(value);
  out.append("\r\n");
}

// A reason phrase must stay on its line whatever a filter or parser put in it.
std::string safeReason(std::string_view reason) {
  std::string out(reason);
  for (char& c : out) {
    if (c == '\r' || c == '\n') c = ' ';
  }
  return out;
}

// Copies the headers an in-transaction message shares with the INVITE:
// Route set, From, Call-ID, and To (from `toSource`).
void copyDialogHeaders(std::string& out, const sip::Message& invite, const sip::Message& toSource) {
  for (const auto& field : invite.headers()) {
    if (field.id == HeaderId::Route || field.id == HeaderId::From || field.id == HeaderId::CallId) {
      appendLine(out, sip::canonicalName(field.id), field.value);
    }
  }
  if (const auto* to = toSource.first(HeaderId::To)) appendLine(out, "To", to->value);
}

}  // namespace

std::string buildReply(const sip::Message& request, int code, std::string_view reason, std::string_view toTag,
                       const Verdict::Headers& extraHeaders) {
  std::string out;
  out.reserve(512);
  out.append("SIP/2.0 ");
  out.append(std::to_string(code));
  out.push_back(' ');
  out.append(safeReason(reason));
  out.append("\r\n");
  for (const auto& field : request.headers()) {
    switch (field.id) {
      case HeaderId::Via:
      case HeaderId::From:
      case HeaderId::CallId:
      case HeaderId::CSeq:
        out.append(field.raw);
        out.append("\r\n");
        break;
      case HeaderId::To: {
        const sip::NameAddr* to = request.to();
        out.append(field.raw);
        if (code > 100 && !toTag.empty() && to != nullptr && to->tag().empty()) {
          out.append(";tag=");
          out.append(toTag);
        }
        out.append("\r\n");
        break;
      }
      default:
        break;
    }
  }
  for (const auto& [name, value] : extraHeaders) appendLine(out, name, safeReason(value));
  out.append("Server: sipwarden\r\nContent-Length: 0\r\n\r\n");
  return out;
}

std::string buildAck(const sip::Message& forwardedInvite, const sip::Message& response) {
  std::string out;
  out.reserve(512);
  out.append("ACK ");
  out.append(forwardedInvite.requestUri());
  out.append(" SIP/2.0\r\n");
  if (const auto* via = forwardedInvite.topVia()) appendLine(out, "Via", via->text);
  out.append("Max-Forwards: 70\r\n");
  copyDialogHeaders(out, forwardedInvite, response);
  const sip::CSeq* cseq = forwardedInvite.cseq();
  appendLine(out, "CSeq", std::to_string(cseq != nullptr ? cseq->number : 0) + " ACK");
  out.append("Content-Length: 0\r\n\r\n");
  return out;
}

std::string buildCancel(const sip::Message& forwardedInvite) {
  std::string out;
  out.reserve(512);
  out.append("CANCEL ");
  out.append(forwardedInvite.requestUri());
  out.append(" SIP/2.0\r\n");
  if (const auto* via = forwardedInvite.topVia()) appendLine(out, "Via", via->text);
  out.append("Max-Forwards: 70\r\n");
  copyDialogHeaders(out, forwardedInvite, forwardedInvite);
  const sip::CSeq* cseq = forwardedInvite.cseq();
  appendLine(out, "CSeq", std::to_string(cseq != nullptr ? cseq->number : 0) + " CANCEL");
  out.append("Content-Length: 0\r\n\r\n");
  return out;
}

}  // namespace sipwarden::proxy
