// The body reader on arbitrary input (issue 17): the first byte picks the
// method and how the body travels (as is, declared gzip/deflate as is, or
// gzip-compressed here so the fuzzer's bytes are what the reader inflates),
// the first line is the Content-Type, the rest the body. Every part's text
// must be valid UTF-8 whatever the input; every editable part is rewritten
// and the rendered body read again. Memory and time per input are bounded
// by libFuzzer's -rss_limit_mb and -timeout (fuzz/run_fuzzer.sh): a
// decompression bomb must be refused, not expanded.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "im/decoding.h"
#include "sipwarden/utf8.h"
#include "im/enriched_text.h"
#include "im/im_body.h"
#include "im/rtf_text.h"
#include "sipwarden/utf8.h"

namespace {

void check(bool condition) {
  if (!condition) std::abort();
}

void exercise(std::string_view method, const std::string& contentType, const std::string& body,
              std::optional<std::string> encoding) {
  auto header = [&](std::string_view name) -> std::optional<std::string_view> {
    if (name == "Content-Encoding" && encoding) return std::string_view(*encoding);
    return std::nullopt;
  };
  sipwarden::im::ImBody im(method, contentType, body, header);
  (void)im.present();
  (void)im.plainText();
  for (std::size_t i = 0; i < im.unreadableCount(); ++i) check(!im.unreadableReason(i).empty());
  for (std::size_t i = 0; i < im.entityCount(); ++i) (void)im.entityContent(i).size();
  bool edited = false;
  for (std::size_t i = 0; i < im.partCount(); ++i) {
    check(sipwarden::utf8::isValid(im.partText(i)));
    if (!im.partEditable(i)) continue;
    const std::string text(im.partText(i));
    im.setPartText(i, "[x] " + text.substr(0, text.size() / 2));
    edited = true;
  }
  if (!edited) return;
  const std::string rendered = im.renderBody();
  sipwarden::im::ImBody again(method, contentType, rendered, header);
  for (std::size_t i = 0; i < again.partCount(); ++i) check(sipwarden::utf8::isValid(again.partText(i)));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t mode = data[0];
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::size_t newline = rest.find('\n');
  const std::string contentType(rest.substr(0, newline));
  std::string body(newline == std::string_view::npos ? std::string_view() : rest.substr(newline + 1));
  const std::string_view method = (mode & 1) ? "INVITE" : "MESSAGE";
  std::optional<std::string> encoding;
  switch ((mode >> 1) % 4) {
    case 1:
      encoding = "gzip";
      break;
    case 2:
      encoding = "deflate";
      break;
    case 3:
      encoding = "gzip";
      body = sipwarden::im::encodeContent(sipwarden::im::ContentEncoding::Gzip, body);
      break;
    default:
      break;
  }
  exercise(method, contentType, body, encoding);
  (void)sipwarden::im::rtfText(rest);
  (void)sipwarden::im::enrichedText(rest);
  return 0;
}
