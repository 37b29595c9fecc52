#include "im/decoding.h"

#include <Poco/Base64Decoder.h>
#include <Poco/Base64Encoder.h>
#include <Poco/Net/QuotedPrintableDecoder.h>
#include <Poco/Net/QuotedPrintableEncoder.h>
#include <iconv.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <sstream>

#include "sip/grammar.h"
#include "sipwarden/text.h"

namespace sipwarden::im {
namespace {

// Drains a Poco decoder through istream::read, which turns the decoder's
// exception into badbit (a string built from istreambuf_iterators leaked its
// buffer when the decoder threw part-way: LeakSanitizer, im_body_fuzz).
template <typename Decoder>
std::optional<std::string> drain(std::string_view text) {
  std::istringstream in{std::string(text)};
  Decoder decoder(in);
  std::string decoded;
  char chunk[4096];
  do {
    decoder.read(chunk, sizeof chunk);
    decoded.append(chunk, static_cast<std::size_t>(decoder.gcount()));
  } while (decoder.good());
  if (decoder.bad()) return std::nullopt;
  return decoded;
}

class Iconv {
 public:
  Iconv(const std::string& to, const std::string& from) : handle_(iconv_open(to.c_str(), from.c_str())) {}
  ~Iconv() {
    if (valid()) iconv_close(handle_);
  }
  Iconv(const Iconv&) = delete;
  Iconv& operator=(const Iconv&) = delete;
  bool valid() const { return handle_ != reinterpret_cast<iconv_t>(-1); }

  // Nothing on an invalid or incomplete sequence.
  std::optional<std::string> convert(std::string_view input) {
    std::string out;
    out.resize(input.size() * 4 + 16);
    char* in = const_cast<char*>(input.data());
    std::size_t inLeft = input.size();
    std::size_t written = 0;
    while (true) {
      char* outPtr = out.data() + written;
      std::size_t outLeft = out.size() - written;
      const std::size_t result = iconv(handle_, inLeft ? &in : nullptr, &inLeft, &outPtr, &outLeft);
      written = out.size() - outLeft;
      if (result != static_cast<std::size_t>(-1)) {
        if (inLeft == 0) break;
        continue;
      }
      if (errno == E2BIG) {
        out.resize(out.size() * 2);
        continue;
      }
      return std::nullopt;  // EILSEQ, EINVAL
    }
    out.resize(written);
    return out;
  }

 private:
  iconv_t handle_;
};

// The charset iconv should read `bytes` with, and the byte order mark to
// drop first: UTF-16/32 get an explicit byte order, from the mark, else
// `forced`, else from where the zero bytes sit (text in these charsets is
// mostly ASCII-range code units, whose zero bytes are on the high side).
std::pair<std::string, std::string> withByteOrder(const std::string& charset, std::string_view bytes,
                                                  std::string_view forced) {
  const bool sixteen = charset == "utf-16";
  if (!sixteen && charset != "utf-32") return {charset, {}};
  const std::size_t unit = sixteen ? 2 : 4;
  const std::string_view le = sixteen ? std::string_view("\xff\xfe") : std::string_view("\xff\xfe\0\0", 4);
  const std::string_view be = sixteen ? std::string_view("\xfe\xff") : std::string_view("\0\0\xfe\xff", 4);
  if (bytes.starts_with(le)) return {charset + "le", std::string(le)};
  if (bytes.starts_with(be)) return {charset + "be", std::string(be)};
  if (!forced.empty()) return {charset + std::string(forced), {}};
  std::size_t lowZero = 0, highZero = 0;
  for (std::size_t i = 0; i + unit <= bytes.size(); i += unit) {
    if (bytes[i] == '\0') ++highZero;            // big-endian ASCII: 00 41
    if (bytes[i + unit - 1] == '\0') ++lowZero;  // little-endian ASCII: 41 00
  }
  // RFC 2781: big-endian unless the text shows otherwise.
  return {charset + (lowZero > highZero ? "le" : "be"), {}};
}

}  // namespace

TransferEncoding transferEncodingOf(std::string_view headerValue) {
  if (headerValue.empty()) return TransferEncoding::Identity;
  const std::string value = text::lower(text::trim(headerValue));
  if (value.empty() || value == "7bit" || value == "8bit" || value == "binary") return TransferEncoding::Identity;
  if (value == "base64") return TransferEncoding::Base64;
  if (value == "quoted-printable") return TransferEncoding::QuotedPrintable;
  return TransferEncoding::Unknown;
}

std::optional<std::string> decodeTransfer(TransferEncoding encoding, std::string_view text) {
  switch (encoding) {
    case TransferEncoding::Identity:
      return std::string(text);
    case TransferEncoding::Base64:
      return drain<Poco::Base64Decoder>(sip::trim(text));
    case TransferEncoding::QuotedPrintable:
      if (!wellFormedQuotedPrintable(text)) return std::nullopt;
      return drain<Poco::Net::QuotedPrintableDecoder>(text);
    case TransferEncoding::Unknown:
      break;
  }
  return std::nullopt;
}

std::string encodeTransfer(TransferEncoding encoding, std::string_view bytes) {
  std::ostringstream out;
  if (encoding == TransferEncoding::Base64) {
    Poco::Base64Encoder encoder(out);
    encoder.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    encoder.close();
    return out.str();
  }
  if (encoding == TransferEncoding::QuotedPrintable) {
    Poco::Net::QuotedPrintableEncoder encoder(out);
    encoder.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    encoder.close();
    return out.str();
  }
  return std::string(bytes);
}

ContentEncoding contentEncodingOf(std::string_view headerValue) {
  const std::string value = text::lower(text::trim(headerValue));
  if (value.empty() || value == "identity") return ContentEncoding::Identity;
  if (value == "gzip" || value == "x-gzip") return ContentEncoding::Gzip;
  if (value == "deflate") return ContentEncoding::Deflate;
  return ContentEncoding::Unknown;
}

Inflated decodeContent(ContentEncoding encoding, std::string_view bytes, std::size_t maxBytes) {
  if (encoding == ContentEncoding::Identity) return {std::string(bytes), {}};
  if (encoding == ContentEncoding::Unknown) return {std::nullopt, "unknown Content-Encoding"};
  const char* name = encoding == ContentEncoding::Gzip ? "gzip" : "deflate";
  // gzip: 16 + 15; deflate: zlib-wrapped first, then raw (-15).
  const int attempts[2] = {encoding == ContentEncoding::Gzip ? 31 : 15, encoding == ContentEncoding::Gzip ? 0 : -15};
  std::string lastError = std::string("corrupt ") + name + " data";
  for (int windowBits : attempts) {
    if (windowBits == 0) break;
    z_stream stream{};
    if (inflateInit2(&stream, windowBits) != Z_OK) return {std::nullopt, "zlib could not start"};
    std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&stream, inflateEnd);
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
    stream.avail_in = static_cast<uInt>(bytes.size());
    std::string out;
    char chunk[16384];
    int status = Z_OK;
    while (status == Z_OK) {
      stream.next_out = reinterpret_cast<Bytef*>(chunk);
      stream.avail_out = sizeof chunk;
      status = inflate(&stream, Z_NO_FLUSH);
      if (status != Z_OK && status != Z_STREAM_END) break;
      const std::size_t produced = sizeof chunk - stream.avail_out;
      if (out.size() + produced > maxBytes) {
        return {std::nullopt, std::string(name) + " body expands past " + std::to_string(maxBytes) + " bytes"};
      }
      out.append(chunk, produced);
      if (status == Z_OK && produced == 0 && stream.avail_in == 0) break;  // truncated
    }
    // Trailing bytes after the stream end are a second reading waiting to
    // differ from ours: refused like a truncated stream.
    if (status == Z_STREAM_END && stream.avail_in == 0) return {std::move(out), {}, windowBits < 0};
  }
  return {std::nullopt, lastError};
}

std::string encodeContent(ContentEncoding encoding, std::string_view bytes, bool rawDeflate) {
  if (encoding != ContentEncoding::Gzip && encoding != ContentEncoding::Deflate) return std::string(bytes);
  // A window and hash table sized to the message, not zlib's 256 KiB
  // default: allocating and clearing that for every edited 100-byte
  // message cost 300 us (page faults), a hundred times the compression.
  int bits = 9;
  while (bits < 15 && (std::size_t{1} << bits) < bytes.size()) ++bits;
  const int memLevel = std::max(1, std::min(8, bits - 7));
  z_stream stream{};
  const int windowBits = encoding == ContentEncoding::Gzip ? 16 + bits : rawDeflate ? -bits : bits;
  if (deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, windowBits, memLevel, Z_DEFAULT_STRATEGY) != Z_OK) {
    return std::string(bytes);
  }
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&stream, deflateEnd);
  std::string out(deflateBound(&stream, static_cast<uLong>(bytes.size())), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  stream.avail_in = static_cast<uInt>(bytes.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  return out;
}

std::string canonicalCharset(std::string_view label) {
  std::string charset = text::lower(text::trim(label));
  if (charset.size() >= 2 && charset.front() == '"' && charset.back() == '"') charset = charset.substr(1, charset.size() - 2);
  if (charset.empty() || charset == "utf-8" || charset == "utf8" || charset == "us-ascii" || charset == "ascii") return "";
  if (charset == "ucs-2") return "utf-16";
  return charset;
}

std::optional<std::string> toUtf8(std::string_view charset, std::string_view bytes, CharsetReading* reading,
                                  std::string_view byteOrder) {
  const auto [from, bom] = withByteOrder(std::string(charset), bytes, byteOrder);
  Iconv converter("UTF-8", from);
  if (!converter.valid()) return std::nullopt;
  auto converted = converter.convert(bytes.substr(bom.size()));
  // A byte order mark is not text.
  if (converted && std::string_view(*converted).starts_with("\xef\xbb\xbf")) converted->erase(0, 3);
  if (converted && reading) *reading = CharsetReading{from, bom};
  return converted;
}

std::string fromUtf8(const CharsetReading& reading, std::string_view utf8) {
  Iconv converter(reading.charset + "//TRANSLIT", "UTF-8");
  if (converter.valid()) {
    if (auto converted = converter.convert(utf8)) return reading.bom + *converted;
  }
  return std::string(utf8);
}

bool asciiCompatible(std::string_view charset) {
  static constexpr std::string_view kProbe = "http://A.b/c-_=?&%#~;:@!$'()*+,09 Zz\r\n";
  const std::optional<std::string> read = toUtf8(charset, kProbe, nullptr, "le");
  return read && *read == kProbe;
}

bool wellFormedQuotedPrintable(std::string_view text) {
  for (std::size_t i = text.find('='); i != std::string_view::npos; i = text.find('=', i + 1)) {
    const std::string_view after = text.substr(i + 1);
    if (after.starts_with("\r\n") || after.starts_with("\n") || after.empty()) continue;
    if (after.size() >= 2 && std::isxdigit(static_cast<unsigned char>(after[0])) &&
        std::isxdigit(static_cast<unsigned char>(after[1]))) {
      continue;
    }
    return false;
  }
  return true;
}

bool isPlainAscii(std::string_view text) {
  constexpr std::uint64_t kHigh = 0x8080808080808080ull;
  constexpr std::uint64_t kOnes = 0x0101010101010101ull;
  std::size_t i = 0;
  for (; i + 8 <= text.size(); i += 8) {
    std::uint64_t word;
    std::memcpy(&word, text.data() + i, 8);
    if ((word & kHigh) != 0 || ((word - kOnes) & ~word & kHigh) != 0) return false;
  }
  for (; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == 0 || c >= 0x80) return false;
  }
  return true;
}

}  // namespace sipwarden::im
