#include "pipeline/activity.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>

namespace sipwarden::pipeline {
namespace {

// A sequence lock over a fixed buffer: the SIP thread (the only writer)
// notes what it runs several times per message, so a note must cost a few
// nanoseconds, never a lock or an allocation; the watchdog reads rarely and
// retries when a note changed under it. The buffer is made of atomic words
// so that the reader's racing copy is well defined.
constexpr std::size_t kWords = (kActivityBytes + 7) / 8;

struct Note {
  std::atomic<std::uint64_t> sequence{0};  // odd while a note is written
  std::atomic<std::size_t> size{0};
  std::array<std::atomic<std::uint64_t>, kWords> words{};
};

Note& note() {
  static Note instance;
  return instance;
}

}  // namespace

void noteActivity(std::string_view what) {
  // The writer's own copy of the last note: the chain notes the same label
  // message after message, and an unchanged note costs one comparison.
  thread_local std::array<char, kActivityBytes> last{};
  thread_local std::size_t lastSize = 0;
  const std::size_t size = std::min(what.size(), kActivityBytes);
  if (size == lastSize && std::memcmp(last.data(), what.data(), size) == 0) return;
  std::memcpy(last.data(), what.data(), size);
  lastSize = size;
  Note& current = note();
  const std::uint64_t sequence = current.sequence.load(std::memory_order_relaxed);
  current.sequence.store(sequence + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  for (std::size_t word = 0; word * 8 < size; ++word) {
    std::uint64_t bits = 0;
    std::memcpy(&bits, what.data() + word * 8, std::min<std::size_t>(8, size - word * 8));
    current.words[word].store(bits, std::memory_order_relaxed);
  }
  current.size.store(size, std::memory_order_relaxed);
  current.sequence.store(sequence + 2, std::memory_order_release);
}

std::string currentActivity() {
  Note& current = note();
  for (;;) {
    const std::uint64_t before = current.sequence.load(std::memory_order_acquire);
    if (before % 2 != 0) continue;  // being written: a few nanoseconds
    const std::size_t size = std::min(current.size.load(std::memory_order_relaxed), kActivityBytes);
    std::string text(size, '\0');
    for (std::size_t word = 0; word * 8 < size; ++word) {
      const std::uint64_t bits = current.words[word].load(std::memory_order_relaxed);
      std::memcpy(text.data() + word * 8, &bits, std::min<std::size_t>(8, size - word * 8));
    }
    std::atomic_thread_fence(std::memory_order_acquire);
    if (current.sequence.load(std::memory_order_relaxed) == before) return text;
  }
}

}  // namespace sipwarden::pipeline
