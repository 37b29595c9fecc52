#pragma once
// Finds file-transfer offers in a SIP request body, in the three wire forms
// IM clients use:
//   - RFC 5547 SDP: `a=file-selector:name:"..." type:... size:... hash:...`
//     (application/sdp, alone or as a part of a multipart body);
//   - Lync 2010+: application/ms-filetransfer+xml
//     `<request><publishFile><fileInfo><name>...</name><size>...` (a part of
//     a multipart/mixed INVITE);
//   - OCS 2007 / Communicator: text/x-msmsgsinvite with
//     `Invitation-Command: INVITE` and `Application-File: ...`.
// Plain string scanning, no allocation unless the body can hold an offer.

#include <cstddef>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace sipwarden::plugins::fileoffer {

enum class Form { Sdp, LyncXml, MsMsgsInvite };

struct FileOffer {
  Form form = Form::Sdp;
  std::string name;  // decoded (%22/%25 in SDP, XML entities in Lync XML); may be empty
  std::string size;  // decimal digits, or empty when unknown
};

// How deep multipart bodies are read: a multipart inside this many
// levels of them is not, and `tooDeep` says so.
inline constexpr int kMaxNesting = 4;

// Every offer in `body`, whose Content-Type header value (with parameters)
// is `contentType`. Multipart bodies are searched part by part (nested up to
// kMaxNesting levels; base64 and quoted-printable parts are decoded). The
// search stops at `limit` + 1 offers, so more than `limit` means there were
// more. `tooDeep`, when given, tells whether a multipart nested deeper than
// kMaxNesting was left unread. Time: linear in the body (each nesting level
// reads its part once more, so at most kMaxNesting + 1 passes).
std::vector<FileOffer> findOffers(std::string_view contentType, std::string_view body,
                                  std::size_t limit = std::numeric_limits<std::size_t>::max() - 1,
                                  bool* tooDeep = nullptr);

// True when a body of this Content-Type can hold an offer at all: the cheap
// test run on every message before findOffers.
bool mayHoldOffer(std::string_view contentType);

// The value inside `name:"..."` of an RFC 5547 file selector, with %22 and
// %25 decoded to '"' and '%'.
std::string decodeSelectorName(std::string_view quoted);

// The extensions a receiving Windows client could end up with for `name`
// (lower-case, with the dot): the last extension after trailing dots,
// spaces and characters Windows cannot store are dropped, and also the last
// extension of each ':'- or NUL-separated piece ("a.exe::$DATA", "a.exe\0.jpg").
std::vector<std::string> candidateExtensions(std::string_view name);

}  // namespace sipwarden::plugins::fileoffer
