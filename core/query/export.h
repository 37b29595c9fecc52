#pragma once
// Exporting conversations for e-discovery: one file per conversation in
// EML (an RFC 5322 message per conversation, in the spirit of Lync's
// Export-CsArchivingData), JSON or standalone HTML, plus `manifest.sha256`
// listing every file's SHA-256 in `sha256sum -c` form.

#include <cstdint>
#include <string>
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

// Called by `sipwarden export` once the conversations are chosen: writes
// one file per transcript into `dir` (created if missing) and the manifest
// last. Throws QueryError when the directory cannot be written.
std::vector<ExportedFile> exportTranscripts(const std::vector<Transcript>& transcripts, ExportFormat format,
                                            const std::string& dir);

// The renderings, exposed for tests.
std::string renderEml(const Transcript& transcript);
std::string renderHtml(const Transcript& transcript);
std::string htmlEscape(const std::string& text);

}  // namespace sipwarden::query
