#pragma once
// The tamper-evidence chains' hashes, the same in every backend: a message
// row's SHA-256 over the previous row's hash and the row's fields, and an
// outcome record's over the previous outcome, the message's id and hash,
// and its final code. Fields are length-prefixed, so no choice of contents
// can collide.

#include <cstdint>
#include <string>
#include <string_view>

#include "sipwarden/archive.h"

namespace sipwarden::archive {

// The chained hash of a row, as 64 lower-case hex digits in `hex` (no
// allocation: the writer computes one per row).
void hashRow(std::string_view previousHash, const MessageRecord& record, char (&hex)[64]);
std::string rowHash(const std::string& previousHash, const MessageRecord& record);
std::string outcomeHash(std::string_view previousHash, std::int64_t messageId, std::string_view messageHash,
                        int finalCode);

}  // namespace sipwarden::archive
