#pragma once
// Exporting conversations for e-discovery: one file per conversation in
// EML (an RFC 5322 message per conversation, in the spirit of Lync's
// Export-CsArchivingData), JSON or standalone HTML, plus `manifest.sha256`
// listing every file's SHA-256 in `sha256sum -c` form.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "query/reader.h"

namespace sipwarden::query {

enum class ExportFormat { Eml, Json, Html };

// "eml", "json", "html"; throws QueryError("format: ...").
ExportFormat parseExportFormat(const std::string& text);

struct ExportedFile {
  std::string name;  // relative to the output directory
  std::string sha256;
  std::int64_t messages = 0;
};

// Writes an export one conversation at a time, so a participant's year of
// conversations never sits in memory at once. Used by `sipwarden export`:
// construct (creates `dir`), add() each transcript as it is read, then
// finish() writes the manifest. Throws QueryError when `dir` cannot be
// written.
class Exporter {
 public:
  Exporter(std::string dir, ExportFormat format);
  void add(const Transcript& transcript);
  // The name of the file the last add() wrote.
  const std::string& lastFileName() const { return files_.back().name; }
  // Writes manifest.sha256 (last, so a manifest means a complete export).
  const std::vector<ExportedFile>& finish();

 private:
  void write(const std::string& name, const std::string& bytes);
  std::string dir_;
  ExportFormat format_;
  std::vector<ExportedFile> files_;
};

// All at once, for callers that already hold the transcripts.
std::vector<ExportedFile> exportTranscripts(const std::vector<Transcript>& transcripts, ExportFormat format,
                                            const std::string& dir);

// The renderings, exposed for tests.
std::string renderEml(const Transcript& transcript);
std::string renderHtml(const Transcript& transcript);
std::string htmlEscape(const std::string& text);
// A MIME boundary that occurs in none of `contents` ("=_sipwarden-KIND-" and
// 32 hex digits, derived from the contents and checked against them).
std::string mimeBoundary(const std::vector<const std::string*>& contents, std::string_view kind);
// A header value as RFC 5322 can carry it: printable ASCII as it is, else
// (or when it holds "=?") RFC 2047 encoded-words, UTF-8, B encoding.
std::string encodeHeaderValue(const std::string& value);

}  // namespace sipwarden::query
