#pragma once
// Deferred changes to a Message (Kamailio's "lumps"): filters and the proxy
// record what they want changed; serialize() applies every edit in one pass
// and writes a Content-Length that matches the body it writes.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sip/message.h"

namespace sipwarden::sip {

class EditList {
 public:
  // Inserts "Name: value" before header `index` (headers().size() appends).
  // Several insertions at one index keep the order they were made in.
  void insertBefore(std::size_t index, std::string name, std::string value);
  // Inserts at the very top of the header section (where a proxy puts Via).
  void prepend(std::string name, std::string value) { insertBefore(0, std::move(name), std::move(value)); }
  void append(std::string name, std::string value) { insertBefore(kEnd, std::move(name), std::move(value)); }
  void replaceValue(std::size_t index, std::string value);
  void remove(std::size_t index);
  // Rewrites elements of a comma-separated header (Via, Route): each entry
  // maps an element's position to its new text, or to nullopt to remove it.
  // The header disappears when no element is left. Make one call per header:
  // a later change to the same header replaces an earlier one.
  void editElements(const Message& message, std::size_t index,
                    const std::vector<std::pair<std::size_t, std::optional<std::string>>>& changes);
  void removeElement(const Message& message, std::size_t index, std::size_t element) {
    editElements(message, index, {{element, std::nullopt}});
  }
  void replaceRequestUri(std::string uri);
  void replaceBody(std::string body, std::optional<std::string> contentType = std::nullopt);

  bool empty() const { return inserts_.empty() && changes_.empty() && !requestUri_ && !body_; }
  const std::optional<std::string>& newBody() const { return body_; }
  const std::optional<std::string>& newRequestUri() const { return requestUri_; }

  static constexpr std::size_t kEnd = static_cast<std::size_t>(-1);

  struct Insert {
    std::size_t index;
    std::string name;
    std::string value;
  };
  struct Change {
    std::size_t index;
    bool removed;
    std::string value;
  };
  const std::vector<Insert>& inserts() const { return inserts_; }
  const std::vector<Change>& changes() const { return changes_; }
  const std::optional<std::string>& newContentType() const { return contentType_; }

 private:
  std::vector<Insert> inserts_;
  std::vector<Change> changes_;
  std::optional<std::string> requestUri_;
  std::optional<std::string> body_;
  std::optional<std::string> contentType_;
};

// Writes the message with its edits applied. Unchanged headers are copied as
// they arrived (compact names and folding kept); Content-Length is always
// written and always matches the body.
std::string serialize(const Message& message, const EditList& edits);

}  // namespace sipwarden::sip
