// Instant-message body extraction and rewriting on arbitrary bodies: the
// first line of the input is the Content-Type, the second a Lync
// Ms-IM-Format value, the rest the body. Every part is read, rewritten and
// rendered back; a rendered multipart body must keep its boundary.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "im/im_body.h"
#include "sipwarden/html_text.h"

namespace {

std::string_view line(std::string_view& rest) {
  const auto end = rest.find('\n');
  std::string_view out = rest.substr(0, end);
  rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  const std::string contentType(line(rest));
  const std::string imFormat(line(rest));
  const std::string body(rest);
  auto header = [&](std::string_view name) -> std::optional<std::string_view> {
    if (name == "Ms-IM-Format" && !imFormat.empty()) return std::string_view(imFormat);
    return std::nullopt;
  };
  for (std::string_view method : {"MESSAGE", "INVITE"}) {
    sipwarden::im::ImBody im(method, contentType, body, header);
    (void)im.present();
    (void)im.plainText();
    for (std::size_t i = 0; i < im.partCount(); ++i) {
      (void)im.partType(i);
      (void)im.partLocation(i);
      const std::string text(im.partText(i));
      (void)sipwarden::html::toText(text);
      im.setPartText(i, "[notice] " + text.substr(0, text.size() / 2));
    }
    (void)im.renderBody();
    (void)im.renderHeaders();
  }
  return 0;
}
