// The RFC 9162 Merkle tree (core/archive/merkle.h): known answers from the
// Certificate Transparency reference implementations, a naive transcription
// of the RFC's recursive MTH and PATH to cross-check every tree shape up to
// 130 leaves, tamper probes that verification must reject, and the
// frontier's persisted form.
#include "archive/merkle.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cctype>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace sipwarden::archive::merkle {
namespace {

std::string toHex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char byte : bytes) {
    out.push_back(kHex[byte >> 4]);
    out.push_back(kHex[byte & 0x0f]);
  }
  return out;
}

std::string fromHex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

std::vector<std::string> hexes(const std::vector<std::string>& hashes) {
  std::vector<std::string> out;
  for (const auto& hash : hashes) out.push_back(toHex(hash));
  return out;
}

// SHA-256("").
constexpr const char* kEmptyRoot = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// The reference leaves and roots of transparency-dev/merkle proof/verify_test.go
// (the same as certificate-transparency-go's and the C++ CT log's tests).
const std::vector<std::string>& referenceEntries() {
  static const std::vector<std::string> entries = {
      fromHex(""),         fromHex("00"),       fromHex("10"),
      fromHex("2021"),     fromHex("3031"),     fromHex("40414243"),
      fromHex("5051525354555657"), fromHex("606162636465666768696a6b6c6d6e6f"),
  };
  return entries;
}

// Index i is the root of the first i + 1 leaves.
const std::vector<std::string> kReferenceRoots = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

std::vector<std::string> referenceLeafHashes() {
  std::vector<std::string> out;
  for (const auto& entry : referenceEntries()) out.push_back(leafHash(entry));
  return out;
}

std::vector<std::string> syntheticLeafHashes(std::size_t count) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < count; ++i) out.push_back(leafHash("row " + std::to_string(i)));
  return out;
}

// RFC 9162 2.1.1 and 2.1.3.1, transcribed as written (recursive, slow).
std::uint64_t largestPowerOfTwoBelow(std::uint64_t n) {
  std::uint64_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

std::string naiveRoot(const std::vector<std::string>& leaves, std::uint64_t begin, std::uint64_t end) {
  const std::uint64_t n = end - begin;
  if (n == 0) return fromHex(kEmptyRoot);
  if (n == 1) return leaves[begin];
  const std::uint64_t k = largestPowerOfTwoBelow(n);
  return nodeHash(naiveRoot(leaves, begin, begin + k), naiveRoot(leaves, begin + k, end));
}

std::vector<std::string> naivePath(const std::vector<std::string>& leaves, std::uint64_t m, std::uint64_t begin,
                                   std::uint64_t end) {
  const std::uint64_t n = end - begin;
  if (n == 1) return {};
  const std::uint64_t k = largestPowerOfTwoBelow(n);
  std::vector<std::string> path;
  if (m < k) {
    path = naivePath(leaves, m, begin, begin + k);
    path.push_back(naiveRoot(leaves, begin + k, end));
  } else {
    path = naivePath(leaves, m - k, begin + k, end);
    path.push_back(naiveRoot(leaves, begin, begin + k));
  }
  return path;
}

// Which side each proof element is on, from the leaf up: all a proof commits
// to besides its hashes. Two (index, size) pairs of the same shape accept the
// same proof against the same root, so a "wrong size" probe can only fail
// when the shapes differ.
std::vector<bool> pathShape(std::uint64_t m, std::uint64_t n) {
  if (n == 1) return {};
  const std::uint64_t k = largestPowerOfTwoBelow(n);
  std::vector<bool> shape = m < k ? pathShape(m, k) : pathShape(m - k, n - k);
  shape.push_back(m < k);  // true: the sibling is on the right
  return shape;
}

std::string flipBit(std::string hash, std::size_t byte, int bit) {
  hash[byte] = static_cast<char>(hash[byte] ^ (1 << bit));
  return hash;
}

TEST(MerkleTest, KnownLeafAndNodeHashes) {
  // transparency-dev/merkle rfc6962/rfc6962_test.go.
  EXPECT_EQ(toHex(leafHash("")), "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  EXPECT_EQ(toHex(leafHash("L123456")), "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56");
  EXPECT_EQ(toHex(nodeHash("N123", "N456")), "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb");
  // The empty tree's root is not the empty leaf's hash.
  EXPECT_EQ(toHex(rootOf({})), kEmptyRoot);
  EXPECT_EQ(toHex(Frontier().root()), kEmptyRoot);
}

TEST(MerkleTest, KnownRootsForEverySizeOfTheReferenceTree) {
  const auto leaves = referenceLeafHashes();
  EXPECT_EQ(toHex(rootOf(leaves, 0)), kEmptyRoot);
  Frontier frontier;
  for (std::size_t n = 1; n <= leaves.size(); ++n) {
    SCOPED_TRACE("size " + std::to_string(n));
    const std::vector<std::string> prefix(leaves.begin(), leaves.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_EQ(toHex(rootOf(prefix)), kReferenceRoots[n - 1]);
    EXPECT_EQ(toHex(rootOf(leaves, n)), kReferenceRoots[n - 1]);
    frontier.append(leaves[n - 1]);
    EXPECT_EQ(frontier.size(), n);
    EXPECT_EQ(toHex(frontier.root()), kReferenceRoots[n - 1]);
  }
}

TEST(MerkleTest, KnownInclusionProofs) {
  // transparency-dev/merkle proof/verify_test.go inclusionProofs (its leaf
  // numbers are 1-based; these indexes are 0-based).
  struct Vector {
    std::uint64_t index;
    std::uint64_t size;
    std::vector<std::string> proof;
  };
  const std::vector<Vector> vectors = {
      {0, 1, {}},
      {0, 8,
       {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
      {5, 8,
       {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
      {2, 3, {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
      {1, 5,
       {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
  };
  const auto leaves = referenceLeafHashes();
  for (const auto& v : vectors) {
    SCOPED_TRACE("index " + std::to_string(v.index) + " size " + std::to_string(v.size));
    EXPECT_EQ(hexes(inclusionProof(leaves, v.index, v.size)), v.proof);
    const auto batch = inclusionProofs(leaves, {v.index}, v.size);
    ASSERT_EQ(batch.size(), 1u);
    EXPECT_EQ(hexes(batch[0]), v.proof);
    std::vector<std::string> proof;
    for (const auto& hex : v.proof) proof.push_back(fromHex(hex));
    EXPECT_TRUE(verifyInclusion(leaves[v.index], v.index, v.size, proof, fromHex(kReferenceRoots[v.size - 1])));
  }
}

TEST(MerkleTest, MatchesTheRfcDefinitionForEverySizeAndIndex) {
  const auto all = syntheticLeafHashes(130);
  Frontier frontier;
  for (std::uint64_t n = 0; n <= all.size(); ++n) {
    SCOPED_TRACE("size " + std::to_string(n));
    const std::vector<std::string> prefix(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n));
    const std::string expected = naiveRoot(all, 0, n);
    EXPECT_EQ(rootOf(prefix), expected);
    EXPECT_EQ(rootOf(all, n), expected);
    EXPECT_EQ(frontier.size(), n);
    EXPECT_EQ(frontier.root(), expected);
    if (n < all.size()) frontier.append(all[n]);

    std::vector<std::uint64_t> indexes;
    std::vector<std::vector<std::string>> expectedProofs;
    for (std::uint64_t m = 0; m < n; ++m) {
      expectedProofs.push_back(naivePath(all, m, 0, n));
      EXPECT_EQ(inclusionProof(all, m, n), expectedProofs.back()) << "index " << m;
      indexes.push_back(m);
    }
    EXPECT_EQ(inclusionProofs(all, indexes, n), expectedProofs);
    // Any order, with repeats, as an export may ask.
    if (n > 0) {
      std::vector<std::uint64_t> shuffled(indexes.rbegin(), indexes.rend());
      shuffled.push_back(0);
      shuffled.push_back(n - 1);
      const auto proofs = inclusionProofs(all, shuffled, n);
      ASSERT_EQ(proofs.size(), shuffled.size());
      for (std::size_t i = 0; i < shuffled.size(); ++i) EXPECT_EQ(proofs[i], expectedProofs[shuffled[i]]);
    }
  }
}

TEST(MerkleTest, EveryProofVerifiesAndNoTamperedOneDoes) {
  const auto all = syntheticLeafHashes(131);  // one spare, for the next size's root
  for (std::uint64_t n = 1; n <= 130; ++n) {
    const std::string root = naiveRoot(all, 0, n);
    std::vector<std::uint64_t> indexes(n);
    for (std::uint64_t m = 0; m < n; ++m) indexes[m] = m;
    const auto proofs = inclusionProofs(all, indexes, n);
    for (std::uint64_t m = 0; m < n; ++m) {
      SCOPED_TRACE("index " + std::to_string(m) + " size " + std::to_string(n));
      const auto& proof = proofs[m];
      const std::string& leaf = all[m];
      ASSERT_TRUE(verifyInclusion(leaf, m, n, proof, root));

      for (std::size_t i = 0; i < proof.size(); ++i) {
        for (std::size_t byte : {std::size_t{0}, std::size_t{17}, kHashSize - 1}) {
          auto wrong = proof;
          wrong[i] = flipBit(wrong[i], byte, static_cast<int>((i + byte) % 8));
          EXPECT_FALSE(verifyInclusion(leaf, m, n, wrong, root)) << "flipped proof[" << i << "] byte " << byte;
        }
      }
      EXPECT_FALSE(verifyInclusion(flipBit(leaf, 5, 3), m, n, proof, root)) << "wrong leaf";
      EXPECT_FALSE(verifyInclusion(all[(m + 1) % all.size()], m, n, proof, root)) << "another leaf";

      for (std::uint64_t other = 0; other < n + 2; ++other) {
        if (other != m) {
          EXPECT_FALSE(verifyInclusion(leaf, other, n, proof, root)) << "index " << other;
        }
      }
      EXPECT_FALSE(verifyInclusion(leaf, std::numeric_limits<std::uint64_t>::max(), n, proof, root));

      for (std::uint64_t size : {n - 1, n + 1, n + 2, 2 * n, n / 2, n + 64}) {
        const bool sameShape = m < size && pathShape(m, size) == pathShape(m, n);
        EXPECT_EQ(verifyInclusion(leaf, m, size, proof, root), sameShape) << "size " << size;
      }
      EXPECT_FALSE(verifyInclusion(leaf, m, std::numeric_limits<std::uint64_t>::max(), proof, root));

      if (!proof.empty()) {
        EXPECT_FALSE(verifyInclusion(leaf, m, n, {proof.begin(), proof.end() - 1}, root)) << "last removed";
        EXPECT_FALSE(verifyInclusion(leaf, m, n, {proof.begin() + 1, proof.end()}, root)) << "first removed";
        EXPECT_FALSE(verifyInclusion(leaf, m, n, {}, root)) << "empty proof";
      }
      for (const std::string& extra : {root, leaf, std::string(kHashSize, '\0'), std::string()}) {
        auto longer = proof;
        longer.push_back(extra);
        EXPECT_FALSE(verifyInclusion(leaf, m, n, longer, root)) << "extended";
        longer = proof;
        longer.insert(longer.begin(), extra);
        EXPECT_FALSE(verifyInclusion(leaf, m, n, longer, root)) << "prepended";
      }

      EXPECT_FALSE(verifyInclusion(leaf, m, n, proof, flipBit(root, 31, 0))) << "flipped root";
      EXPECT_FALSE(verifyInclusion(leaf, m, n, proof, naiveRoot(all, 0, n + 1))) << "next size's root";
      EXPECT_FALSE(verifyInclusion(leaf, m, n, proof, fromHex(kEmptyRoot))) << "empty root";
    }
  }
}

TEST(MerkleTest, VerifyIsFalseForMalformedInputAndNeverThrows) {
  const auto leaves = referenceLeafHashes();
  const std::string root = rootOf(leaves);
  const auto proof = inclusionProof(leaves, 3, 8);
  ASSERT_TRUE(verifyInclusion(leaves[3], 3, 8, proof, root));
  EXPECT_FALSE(verifyInclusion(leaves[3].substr(1), 3, 8, proof, root));
  EXPECT_FALSE(verifyInclusion(leaves[3] + "x", 3, 8, proof, root));
  EXPECT_FALSE(verifyInclusion("", 3, 8, proof, root));
  EXPECT_FALSE(verifyInclusion(leaves[3], 3, 8, proof, root.substr(0, 31)));
  EXPECT_FALSE(verifyInclusion(leaves[3], 3, 8, proof, ""));
  EXPECT_FALSE(verifyInclusion(leaves[3], 3, 8, proof, toHex(root)));  // hex, not raw
  for (std::size_t i = 0; i < proof.size(); ++i) {
    for (const std::string& bad : {std::string(), proof[i].substr(1), proof[i] + '\0'}) {
      auto wrong = proof;
      wrong[i] = bad;
      EXPECT_FALSE(verifyInclusion(leaves[3], 3, 8, wrong, root)) << "proof[" << i << "] of " << bad.size();
    }
  }
  // Index outside the tree, and the empty tree (which no leaf is in).
  EXPECT_FALSE(verifyInclusion(leaves[0], 8, 8, proof, root));
  EXPECT_FALSE(verifyInclusion(leaves[0], 0, 0, {}, fromHex(kEmptyRoot)));
  EXPECT_FALSE(verifyInclusion(leaves[0], 0, 0, {}, leaves[0]));
  // A single-leaf tree's root is the leaf hash, with an empty proof.
  EXPECT_TRUE(verifyInclusion(leaves[0], 0, 1, {}, leaves[0]));
  EXPECT_FALSE(verifyInclusion(leaves[0], 0, 1, {leaves[1]}, leaves[0]));
  // Huge sizes with short proofs: too short, not an overflow.
  const auto max = std::numeric_limits<std::uint64_t>::max();
  EXPECT_FALSE(verifyInclusion(leaves[0], max - 1, max, proof, root));
  EXPECT_FALSE(verifyInclusion(leaves[0], 0, max, std::vector<std::string>(64, leaves[1]), root));
  EXPECT_FALSE(verifyInclusion(leaves[0], 0, 2, std::vector<std::string>(200, leaves[1]), root));
}

TEST(MerkleTest, ProofsOutsideTheTreeThrowOutOfRange) {
  const auto leaves = referenceLeafHashes();
  EXPECT_THROW(inclusionProof(leaves, 8, 8), std::out_of_range);
  EXPECT_THROW(inclusionProof(leaves, 3, 3), std::out_of_range);
  EXPECT_THROW(inclusionProof(leaves, 0, 0), std::out_of_range);
  EXPECT_THROW(inclusionProof(leaves, 0, 9), std::out_of_range);
  EXPECT_THROW(inclusionProof({}, 0, 0), std::out_of_range);
  EXPECT_THROW(inclusionProofs(leaves, {0, 1, 5}, 5), std::out_of_range);
  EXPECT_THROW(inclusionProofs(leaves, {}, 9), std::out_of_range);
  EXPECT_THROW(rootOf(leaves, 9), std::out_of_range);
  EXPECT_TRUE(inclusionProofs(leaves, {}, 8).empty());
}

TEST(MerkleTest, LeafHashesOfTheWrongSizeAreRefused) {
  auto leaves = referenceLeafHashes();
  leaves[6] = toHex(leaves[6]);  // 64 hex digits instead of 32 bytes
  EXPECT_THROW(rootOf(leaves), std::invalid_argument);
  EXPECT_THROW(inclusionProof(leaves, 0, 8), std::invalid_argument);
  EXPECT_THROW(inclusionProofs(leaves, {1}, 8), std::invalid_argument);
  EXPECT_NO_THROW(rootOf(leaves, 6));  // the bad leaf is outside this tree
  Frontier frontier;
  EXPECT_THROW(frontier.append(""), std::invalid_argument);
  EXPECT_THROW(frontier.append(std::string(31, 'a')), std::invalid_argument);
  EXPECT_THROW(frontier.append(std::string(33, 'a')), std::invalid_argument);
  EXPECT_EQ(frontier.size(), 0u);
}

TEST(MerkleTest, ManyProofsInOnePassOverALargeTree) {
  const std::uint64_t n = (1u << 15) + 5;
  const auto leaves = syntheticLeafHashes(n);
  const std::string root = rootOf(leaves);
  Frontier frontier;
  for (const auto& leaf : leaves) frontier.append(leaf);
  EXPECT_EQ(frontier.root(), root);

  std::vector<std::uint64_t> indexes;
  for (std::uint64_t i = 0; i < 300; ++i) indexes.push_back((i * 2654435761u) % n);
  indexes.push_back(n - 1);
  const auto proofs = inclusionProofs(leaves, indexes, n);
  ASSERT_EQ(proofs.size(), indexes.size());
  for (std::size_t k = 0; k < indexes.size(); ++k) {
    EXPECT_TRUE(verifyInclusion(leaves[indexes[k]], indexes[k], n, proofs[k], root)) << indexes[k];
  }
  for (std::size_t k : {std::size_t{0}, std::size_t{7}, indexes.size() - 1}) {
    EXPECT_EQ(inclusionProof(leaves, indexes[k], n), proofs[k]);
  }
  // The last leaf has no sibling until the 4-leaf subtree before it, then the
  // 2^15 one: a proof of 2 hashes in a tree 16 levels deep.
  EXPECT_EQ(proofs.back().size(), 2u);
}

TEST(MerkleTest, FrontierSerializeParseRoundTrip) {
  const auto all = syntheticLeafHashes(131);
  EXPECT_EQ(Frontier().serialize(), "0:");
  Frontier frontier;
  for (std::uint64_t n = 0; n <= 130; ++n) {
    SCOPED_TRACE("size " + std::to_string(n));
    const std::string text = frontier.serialize();
    EXPECT_EQ(text.substr(0, text.find(':')), std::to_string(n));
    const auto hashes = static_cast<std::size_t>(std::popcount(n));
    EXPECT_EQ(text.size(), std::to_string(n).size() + 1 + hashes * 65 - (hashes > 0 ? 1 : 0));
    EXPECT_EQ(std::count(text.begin(), text.end(), ','), hashes > 0 ? static_cast<std::ptrdiff_t>(hashes - 1) : 0);

    const auto parsed = Frontier::parse(text);
    ASSERT_TRUE(parsed.has_value()) << text;
    EXPECT_EQ(*parsed, frontier);
    EXPECT_EQ(parsed->size(), n);
    EXPECT_EQ(parsed->root(), frontier.root());
    EXPECT_EQ(parsed->serialize(), text);
    // A writer resumed from the file carries on the same chain.
    Frontier resumed = *parsed;
    resumed.append(all[n]);
    frontier.append(all[n]);
    EXPECT_EQ(resumed, frontier);
    EXPECT_EQ(resumed.root(), rootOf(all, n + 1));
  }
}

TEST(MerkleTest, FrontierSerializedFormIsLargestSubtreeFirst) {
  const auto leaves = referenceLeafHashes();
  Frontier frontier;
  for (std::size_t i = 0; i < 3; ++i) frontier.append(leaves[i]);
  EXPECT_EQ(frontier.serialize(), "3:" + kReferenceRoots[1] + "," + toHex(leaves[2]));
  for (std::size_t i = 3; i < 8; ++i) frontier.append(leaves[i]);
  EXPECT_EQ(frontier.serialize(), "8:" + kReferenceRoots[7]);
}

TEST(MerkleTest, FrontierParseRejectsWhatSerializeCannotWrite) {
  const std::string h = std::string(kReferenceRoots[0]);
  const std::string h2 = std::string(kReferenceRoots[1]);
  std::string upper = h;
  std::transform(upper.begin(), upper.end(), upper.begin(), [](char c) { return static_cast<char>(std::toupper(c)); });
  const std::vector<std::string> garbage = {
      "",                                // nothing
      "0",                               // no colon
      "1" + h,                           // no colon, hash glued on
      ":",                               // no size
      ":" + h,                           // no size
      "-1:" + h,                         // negative
      "+1:" + h,                         // sign
      "01:" + h,                         // leading zero
      "00:",                             // leading zero, empty
      " 1:" + h,                         // whitespace
      "1 :" + h,                         // whitespace
      "1: " + h,                         // whitespace
      "1:" + h + "\n",                   // trailing newline
      "0x1:" + h,                        // hex size
      "1x:" + h,                         // junk after the number
      "18446744073709551616:" + h,       // 2^64 overflows
      "0:" + h,                          // a hash for the empty tree
      "0:,",                             // a separator for the empty tree
      "1:",                              // one hash missing
      "1:" + h + "," + h2,               // one hash too many
      "3:" + h,                          // popcount 2, one hash
      "2:" + h + "," + h2,               // popcount 1, two hashes
      "3:" + h + "," + h2 + ",",         // trailing comma
      "3:" + h + ",," + h2,              // empty element
      "3:," + h + "," + h2,              // leading comma
      "3:" + h + ";" + h2,               // wrong separator
      "1:" + upper,                      // upper-case hex
      "1:" + h.substr(0, 63),            // odd length
      "1:" + h.substr(0, 62),            // 31 bytes
      "1:" + h + "00",                   // 33 bytes
      "1:" + h.substr(0, 10) + "g" + h.substr(11),  // not hex
      "1:" + h.substr(0, 10) + " " + h.substr(11),  // space inside
      "1:1:" + h,                        // two colons
      std::string("1:\0", 3) + h.substr(1),          // NUL
  };
  ASSERT_GE(garbage.size(), 10u);
  for (const auto& text : garbage) {
    EXPECT_FALSE(Frontier::parse(text).has_value()) << '"' << text << '"';
  }
  // The largest size serialize can write still parses.
  std::string full = std::to_string(std::numeric_limits<std::uint64_t>::max()) + ":";
  for (int i = 0; i < 64; ++i) full += (i > 0 ? "," : "") + h;
  const auto parsed = Frontier::parse(full);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->serialize(), full);
}

}  // namespace
}  // namespace sipwarden::archive::merkle
