#pragma once
// Finds file-transfer offers in a SIP request body, in the four wire forms
// IM clients use:
//   - RFC 5547 SDP: `a=file-selector:name:"..." type:... size:... hash:...`
//     (application/sdp);
//   - Lync 2010+: application/ms-filetransfer+xml
//     `<request><publishFile><fileInfo><name>...</name><size>...` (a part of
//     a multipart/mixed INVITE);
//   - OCS 2007 / Communicator: text/x-msmsgsinvite with
//     `Invitation-Command: INVITE` and `Application-File: ...`;
//   - RCS / Linphone file transfer over HTTP (GSMA RCC.07):
//     application/vnd.gsma.rcs-ft-http+xml `<file><file-info type="file">
//     <file-size>..</file-size><file-name>..</file-name><content-type>..
//     </content-type><data url=".." until=".."/></file-info></file>`, in a
//     MESSAGE (thumbnails, `type="thumbnail"`, are not the file).
//
// Names are read strictly: an offer whose name cannot be read in exactly
// one way (bad quoting, two names, escapes outside the form's rules,
// malformed entities, bytes the form does not allow, not UTF-8) carries the
// reason in `unreadable`, so that file_filter can refuse it rather than
// judge whichever reading it happened to make.
// Each scanner reads one leaf entity as the SDK yields it
// (InstantMessage::entityType/entityContent: multipart and CPIM unwrapped,
// transfer and content encodings undone). Plain string scanning.

#include <cstddef>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace sipwarden::plugins::file_filter {

enum class Form { Sdp, LyncXml, MsMsgsInvite, RcsFtHttp };

struct FileOffer {
  Form form = Form::Sdp;
  // The name as best read (%22/%25 decoded in SDP, XML entities decoded in
  // XML, the URL's last path segment for an RCS offer without <file-name>);
  // may be empty. When `unreadable` is set it is one reading among several.
  std::string name;
  std::string size;        // decimal digits, or empty when unknown
  std::string type;        // the media type the offer declares, or empty
  std::string url;         // where the file is fetched from (RCS over HTTP)
  std::string unreadable;  // why the name cannot be read unambiguously (ASCII, no '"'); empty when it can
};

// True for the media types (lower-case, no parameters) one of the scanners
// reads: application/sdp, application/ms-filetransfer+xml,
// text/x-msmsgsinvite, application/vnd.gsma.rcs-ft-http+xml.
bool offerType(std::string_view mediaType);

// Appends the offers in one leaf entity of media type `mediaType`
// (lower-case, no parameters) whose content is already decoded (no
// transfer or content encoding left), stopping once `offers` holds more
// than `limit`. Nothing for a type offerType() does not name.
// Time: linear in the content.
void scanEntity(std::string_view mediaType, std::string_view content, std::vector<FileOffer>& offers,
                std::size_t limit = std::numeric_limits<std::size_t>::max() - 1);

// The value inside `name:"..."` of an RFC 5547 file selector, with %22 and
// %25 decoded to '"' and '%'.
std::string decodeSelectorName(std::string_view quoted);

}  // namespace sipwarden::plugins::file_filter
