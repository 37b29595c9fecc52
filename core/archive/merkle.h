#pragma once
// Merkle proofs that one message row is in the archive's chain as signed by
// a checkpoint (issue 18, verifiable exports). The tree is the one of RFC 9162
// (Certificate Transparency v2) section 2.1 over SHA-256, so an export's
// proofs can be checked with any CT tool, not only with sipwarden. The leaves
// are the rows in id order; a checkpoint signs the root and size.
//
// Every hash here is a std::string of 32 raw bytes (not hex).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sipwarden::archive::merkle {

inline constexpr std::size_t kHashSize = 32;

// RFC 9162 2.1.1: SHA-256(0x00 || entry). The prefix keeps a leaf from ever
// hashing like an inner node (second-preimage resistance). Throws
// ArchiveError if SHA-256 fails.
std::string leafHash(std::string_view entry);

// SHA-256(0x01 || left || right): an inner node of the tree.
std::string nodeHash(std::string_view left, std::string_view right);

// MTH(D[n]) over leaf hashes that are already leafHash'ed; the empty tree's
// root is SHA-256(""). O(n) time, O(log n) memory. Throws
// std::invalid_argument for a leaf hash that is not 32 bytes (it would make
// a root no other implementation agrees with).
std::string rootOf(const std::vector<std::string>& leafHashes);
// The same over the first `treeSize` leaves, so a root a checkpoint signed at
// an earlier size can be recomputed from today's leaves. Throws
// std::out_of_range if treeSize > leafHashes.size().
std::string rootOf(const std::vector<std::string>& leafHashes, std::uint64_t treeSize);

// PATH(m, D[n]) of RFC 9162 2.1.3.1, siblings from the leaf up, for leaf
// `index` in the tree of the first `treeSize` leaves. O(n) time. Throws
// std::out_of_range if index >= treeSize or treeSize > leafHashes.size(),
// std::invalid_argument for a leaf hash that is not 32 bytes.
std::vector<std::string> inclusionProof(const std::vector<std::string>& leafHashes, std::uint64_t index,
                                        std::uint64_t treeSize);

// Many proofs at once, for an export: each level of the tree is hashed once
// and shared by all of them, O(n + k log n) rather than k times O(n). The
// result is in the order of `indexes` (duplicates allowed); the same throws
// as inclusionProof, for any one index.
std::vector<std::vector<std::string>> inclusionProofs(const std::vector<std::string>& leafHashes,
                                                      const std::vector<std::uint64_t>& indexes,
                                                      std::uint64_t treeSize);

// RFC 9162 2.1.3.2: whether `proof` shows leaf `index` in the tree of
// `treeSize` leaves whose root is `root`. Meant for input from an untrusted
// file, so it is false for anything malformed (hash sizes other than 32,
// proof too long or too short, index >= treeSize) and never throws.
bool verifyInclusion(std::string_view leafHash, std::uint64_t index, std::uint64_t treeSize,
                     const std::vector<std::string>& proof, std::string_view root);

// A compact range: the roots of the perfect subtrees of the leaves appended
// so far, largest first (one per set bit of size(), so at most 64). The
// archive writer keeps one per chain, so it can sign the current root
// without keeping or rereading the leaves: append is O(1) amortised and
// root() O(log n).
class Frontier {
 public:
  // Throws std::invalid_argument for a hash that is not 32 bytes (serialize
  // would write what parse refuses), std::length_error after 2^64 - 1 leaves.
  void append(std::string_view leafHash);
  std::uint64_t size() const { return size_; }
  // Equals rootOf(every leaf appended); SHA-256("") when empty.
  std::string root() const;

  // Persisted form: "<size>:<hex>,<hex>,..." (decimal size, lower-case hex,
  // subtree roots from largest to smallest); "0:" when empty.
  std::string serialize() const;
  // The inverse of serialize; nullopt for anything serialize could not have
  // written (bad number, a count of hashes other than size's popcount, bad or
  // upper-case hex, a hash of the wrong length), since a damaged file must
  // not quietly resume a different chain.
  static std::optional<Frontier> parse(std::string_view text);

  bool operator==(const Frontier&) const = default;

 private:
  std::uint64_t size_ = 0;
  std::vector<std::string> roots_;  // largest subtree first
};

}  // namespace sipwarden::archive::merkle
