#include "archive/merkle.h"

#include <bit>
#include <charconv>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <stdexcept>
#include <utility>

#include "archive/sha256.h"
#include "archive/store.h"

namespace sipwarden::archive::merkle {
namespace {

constexpr std::string_view kLeafPrefix("\x00", 1);
constexpr std::string_view kNodePrefix("\x01", 1);

std::string hashOf(std::initializer_list<std::string_view> parts) {
  thread_local Sha256 sha;
  std::string out(kHashSize, '\0');
  sha.digest(parts, reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

// Into a caller's buffer, without an allocation per node (inclusionProofs
// hashes n - 1 of them).
void nodeHashInto(std::string_view left, std::string_view right, char* out) {
  thread_local Sha256 sha;
  sha.digest({kNodePrefix, left, right}, reinterpret_cast<unsigned char*>(out));
}

void requireHashSize(std::string_view hash) {
  if (hash.size() != kHashSize) throw std::invalid_argument("a Merkle tree hash must be 32 bytes");
}

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // upper case too: serialize never writes it
}

std::optional<std::string> hashFromHex(std::string_view hex) {
  if (hex.size() != 2 * kHashSize) return std::nullopt;
  std::string out(kHashSize, '\0');
  for (std::size_t i = 0; i < kHashSize; ++i) {
    const int high = hexDigit(hex[2 * i]);
    const int low = hexDigit(hex[2 * i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    out[i] = static_cast<char>(high << 4 | low);
  }
  return out;
}

}  // namespace

std::string leafHash(std::string_view entry) { return hashOf({kLeafPrefix, entry}); }

std::string nodeHash(std::string_view left, std::string_view right) { return hashOf({kNodePrefix, left, right}); }

std::string rootOf(const std::vector<std::string>& leafHashes) { return rootOf(leafHashes, leafHashes.size()); }

std::string rootOf(const std::vector<std::string>& leafHashes, std::uint64_t treeSize) {
  if (treeSize > leafHashes.size()) throw std::out_of_range("Merkle tree size exceeds the leaves given");
  Frontier frontier;
  for (std::uint64_t i = 0; i < treeSize; ++i) frontier.append(leafHashes[i]);
  return frontier.root();
}

std::vector<std::string> inclusionProof(const std::vector<std::string>& leafHashes, std::uint64_t index,
                                        std::uint64_t treeSize) {
  return std::move(inclusionProofs(leafHashes, {index}, treeSize).front());
}

// Bottom-up, one level at a time, in place in one flat buffer: pairing
// neighbours and carrying an odd last node up unchanged builds exactly the
// RFC's tree (left subtree the largest power of two below n), and a leaf's
// path is then its sibling at every level where it has one.
std::vector<std::vector<std::string>> inclusionProofs(const std::vector<std::string>& leafHashes,
                                                      const std::vector<std::uint64_t>& indexes,
                                                      std::uint64_t treeSize) {
  if (treeSize > leafHashes.size()) throw std::out_of_range("Merkle tree size exceeds the leaves given");
  for (std::uint64_t index : indexes) {
    if (index >= treeSize) throw std::out_of_range("Merkle leaf index outside the tree");
  }
  std::vector<std::vector<std::string>> proofs(indexes.size());
  if (indexes.empty()) return proofs;
  std::string level;
  level.reserve(treeSize * kHashSize);
  for (std::uint64_t i = 0; i < treeSize; ++i) {
    requireHashSize(leafHashes[i]);
    level += leafHashes[i];
  }
  auto node = [&level](std::uint64_t i) { return std::string_view(level).substr(i * kHashSize, kHashSize); };
  std::vector<std::uint64_t> positions = indexes;
  for (std::uint64_t count = treeSize; count > 1; count = (count + 1) / 2) {
    for (std::size_t k = 0; k < positions.size(); ++k) {
      const std::uint64_t sibling = positions[k] ^ 1;
      if (sibling < count) proofs[k].emplace_back(node(sibling));
      positions[k] >>= 1;
    }
    // Slot j/2 is never after j, so writing it cannot clobber a node not yet read.
    char digest[kHashSize];
    for (std::uint64_t j = 0; j + 1 < count; j += 2) {
      nodeHashInto(node(j), node(j + 1), digest);
      std::memcpy(level.data() + j / 2 * kHashSize, digest, kHashSize);
    }
    if (count % 2 == 1) std::memmove(level.data() + count / 2 * kHashSize, node(count - 1).data(), kHashSize);
  }
  return proofs;
}

bool verifyInclusion(std::string_view leafHash, std::uint64_t index, std::uint64_t treeSize,
                     const std::vector<std::string>& proof, std::string_view root) {
  if (index >= treeSize || leafHash.size() != kHashSize || root.size() != kHashSize) return false;
  std::uint64_t fn = index;
  std::uint64_t sn = treeSize - 1;
  char r[kHashSize];
  std::memcpy(r, leafHash.data(), kHashSize);
  const std::string_view current(r, kHashSize);
  try {
    for (const std::string& p : proof) {
      if (p.size() != kHashSize || sn == 0) return false;  // malformed, or longer than the path
      if ((fn & 1) == 1 || fn == sn) {
        nodeHashInto(p, current, r);
        // Skip the levels where this node was carried up without a sibling.
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      } else {
        nodeHashInto(current, p, r);
      }
      fn >>= 1;
      sn >>= 1;
    }
  } catch (const ArchiveError&) {
    return false;  // no SHA-256: nothing can be verified, and the caller was promised no throw
  }
  return sn == 0 && current == root;
}

void Frontier::append(std::string_view leafHash) {
  requireHashSize(leafHash);
  if (size_ == std::numeric_limits<std::uint64_t>::max()) throw std::length_error("Merkle tree is full");
  std::string hash(leafHash);
  // Each trailing one bit of the old size is a perfect subtree of the new
  // leaf's size that now has a right sibling: merge them, smallest first.
  for (std::uint64_t bits = size_; (bits & 1) == 1; bits >>= 1) {
    hash = nodeHash(roots_.back(), hash);
    roots_.pop_back();
  }
  roots_.push_back(std::move(hash));
  ++size_;
}

std::string Frontier::root() const {
  if (roots_.empty()) return hashOf({});
  std::string hash = roots_.back();
  for (auto it = roots_.rbegin() + 1; it != roots_.rend(); ++it) hash = nodeHash(*it, hash);
  return hash;
}

std::string Frontier::serialize() const {
  static constexpr char kHex[] = "0123456789abcdef";
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, size_).ptr;
  std::string out(digits, end);
  out.push_back(':');
  for (std::size_t i = 0; i < roots_.size(); ++i) {
    if (i > 0) out.push_back(',');
    for (unsigned char byte : roots_[i]) {
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0x0f]);
    }
  }
  return out;
}

std::optional<Frontier> Frontier::parse(std::string_view text) {
  const std::size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  const std::string_view number = text.substr(0, colon);
  if (number.size() > 1 && number[0] == '0') return std::nullopt;  // to_chars writes no leading zeros
  Frontier frontier;
  const auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), frontier.size_);
  if (error != std::errc() || end != number.data() + number.size()) return std::nullopt;
  std::string_view rest = text.substr(colon + 1);
  const auto count = static_cast<std::size_t>(std::popcount(frontier.size_));
  if (count == 0) return rest.empty() ? std::optional<Frontier>(frontier) : std::nullopt;
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t comma = rest.find(',');
    const bool last = i + 1 == count;
    // The last hash ends the text; any other ends at a comma.
    if (last != (comma == std::string_view::npos)) return std::nullopt;
    auto hash = hashFromHex(rest.substr(0, comma));
    if (!hash) return std::nullopt;
    frontier.roots_.push_back(std::move(*hash));
    rest = last ? std::string_view() : rest.substr(comma + 1);
  }
  return frontier;
}

}  // namespace sipwarden::archive::merkle
