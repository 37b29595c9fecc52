#include "sip/edit_list.h"

#include <algorithm>
#include <charconv>

namespace sipwarden::sip {

void EditList::insertBefore(std::size_t index, std::string name, std::string value) {
  inserts_.push_back(Insert{index, std::move(name), std::move(value)});
}

void EditList::replaceValue(std::size_t index, std::string value) {
  changes_.push_back(Change{index, false, std::move(value)});
}

void EditList::remove(std::size_t index) { changes_.push_back(Change{index, true, {}}); }

void EditList::editElements(const Message& message, std::size_t index,
                            const std::vector<std::pair<std::size_t, std::optional<std::string>>>& changes) {
  std::vector<std::string_view> elements;
  std::string error;
  const std::string_view value = message.headers().at(index).value;
  if (!splitCommaList(value, elements, error)) elements.assign(1, value);
  std::string rest;
  for (std::size_t i = 0; i < elements.size(); ++i) {
    std::optional<std::string_view> text = elements[i];
    for (const auto& [position, replacement] : changes) {
      if (position == i) text = replacement ? std::optional<std::string_view>(*replacement) : std::nullopt;
    }
    if (!text) continue;
    if (!rest.empty()) rest += ", ";
    rest.append(*text);
  }
  if (rest.empty()) {
    remove(index);
  } else {
    replaceValue(index, std::move(rest));
  }
}

void EditList::replaceRequestUri(std::string uri) { requestUri_ = std::move(uri); }

void EditList::replaceBody(std::string body, std::optional<std::string> contentType) {
  body_ = std::move(body);
  if (contentType) contentType_ = std::move(contentType);
}

namespace {

void appendHeader(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out.append(": ");
  out.append(value);
  out.append("\r\n");
}

}  // namespace

std::string serialize(const Message& message, const EditList& edits) {
  const auto& headers = message.headers();
  const std::string_view body = edits.newBody() ? std::string_view(*edits.newBody()) : message.body();

  std::string out;
  out.reserve(message.wireSize() + 256 + (edits.newBody() ? edits.newBody()->size() : 0));
  if (message.isRequest()) {
    out.append(message.method());
    out.push_back(' ');
    out.append(edits.newRequestUri() ? std::string_view(*edits.newRequestUri()) : message.requestUri());
    out.append(" SIP/2.0\r\n");
  } else {
    out.append(message.startLine());
    out.append("\r\n");
  }

  // The last change recorded for a header wins; inserts are applied in the
  // order they were made.
  auto changeFor = [&](std::size_t index) -> const EditList::Change* {
    const EditList::Change* found = nullptr;
    for (const auto& change : edits.changes()) {
      if (change.index == index) found = &change;
    }
    return found;
  };
  auto emitInserts = [&](std::size_t index) {
    for (const auto& insert : edits.inserts()) {
      if (insert.index == index || (index == EditList::kEnd && insert.index >= headers.size())) {
        appendHeader(out, insert.name, insert.value);
      }
    }
  };

  bool contentTypeWritten = false;
  for (std::size_t i = 0; i < headers.size(); ++i) {
    emitInserts(i);
    const HeaderField& field = headers[i];
    if (field.id == HeaderId::ContentLength) continue;  // rewritten below
    if (field.id == HeaderId::ContentType && edits.newContentType()) {
      if (!contentTypeWritten) appendHeader(out, "Content-Type", *edits.newContentType());
      contentTypeWritten = true;
      continue;
    }
    if (const EditList::Change* change = edits.changes().empty() ? nullptr : changeFor(i)) {
      if (!change->removed) appendHeader(out, field.name, change->value);
      continue;
    }
    out.append(field.raw);
    out.append("\r\n");
  }
  emitInserts(EditList::kEnd);
  if (edits.newContentType() && !contentTypeWritten) appendHeader(out, "Content-Type", *edits.newContentType());

  char length[24];
  const auto result = std::to_chars(length, length + sizeof length, body.size());
  out.append("Content-Length: ");
  out.append(length, static_cast<std::size_t>(result.ptr - length));
  out.append("\r\n\r\n");
  out.append(body);
  return out;
}

}  // namespace sipwarden::sip
