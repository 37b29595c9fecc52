#include "keyword/templates.h"

#include "keyword/checksums.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace sipwarden::plugins::keyword {
namespace {

bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool isLower(char c) { return c >= 'a' && c <= 'z'; }
bool isAlnum(char c) { return isDigit(c) || isUpper(c) || isLower(c); }
char upper(char c) { return isLower(c) ? static_cast<char>(c - 'a' + 'A') : c; }

// Payment cards: 13-19 digits, either run together or in groups split by
// single spaces or single dashes (one kind per number): the first group of
// 4, middle groups of 3-6, the last of 1-6 ("4111 1111 1111 1111",
// "3782-822463-10005"). A run of groups may hold a card among other numbers
// ("order 2024 4111 1111 1111 1111"), so every whole-group window is tried,
// longest first from the earliest start.
constexpr std::size_t kMaxGroups = 24;

struct Group {
  std::size_t begin;
  std::size_t end;
};

// Whether the digits of groups [first, last] form a valid card number.
bool cardDigitsValid(std::string_view text, const Group* groups, std::size_t first, std::size_t last) {
  char compact[19];
  std::size_t n = 0;
  for (std::size_t g = first; g <= last; ++g) {
    for (std::size_t i = groups[g].begin; i < groups[g].end; ++i) {
      if (n == sizeof compact) return false;
      compact[n++] = text[i];
    }
  }
  return paymentCardValid(std::string_view(compact, n));
}

// The last group of the longest valid card starting at group `first`, or
// `count` when there is none. Only windows of the right shape are checked
// (a handful per start), so a long run of digit groups costs linear time.
std::size_t longestCardFrom(std::string_view text, const Group* groups, std::size_t count, std::size_t first,
                            bool rightOk) {
  auto size = [&](std::size_t g) { return groups[g].end - groups[g].begin; };
  std::size_t candidates[8];
  std::size_t found = 0;
  const auto consider = [&](std::size_t last, std::size_t digits) {
    if (digits >= 13 && digits <= 19 && (last + 1 < count || rightOk) && found < 8) candidates[found++] = last;
  };
  consider(first, size(first));  // digits written together
  if (size(first) == 4) {
    std::size_t digits = 4;
    for (std::size_t last = first + 1; last < count; ++last) {
      const std::size_t groupSize = size(last);
      if (groupSize > 6) break;
      digits += groupSize;
      if (digits > 19) break;
      consider(last, digits);
      if (groupSize < 3) break;  // only the last group may be this short
    }
  }
  while (found > 0) {
    const std::size_t last = candidates[--found];
    if (cardDigitsValid(text, groups, first, last)) return last;
  }
  return count;
}

std::size_t findCards(std::string_view text, std::vector<Span>& out, std::size_t limit) {
  std::size_t found = 0;
  std::size_t i = 0;
  const std::size_t n = text.size();
  while (i < n) {
    if (!isDigit(text[i])) {
      ++i;
      continue;
    }
    const bool leftOk = i == 0 || !isAlnum(text[i - 1]);
    Group groups[kMaxGroups];
    std::size_t count = 0;
    char separator = 0;
    std::size_t j = i;
    for (;;) {
      const std::size_t begin = j;
      while (j < n && isDigit(text[j])) ++j;
      groups[count++] = Group{begin, j};
      if (count == kMaxGroups || j + 1 >= n || !(text[j] == ' ' || text[j] == '-') || !isDigit(text[j + 1])) break;
      if (separator != 0 && text[j] != separator) break;
      separator = text[j];
      ++j;
    }
    const std::size_t runEnd = groups[count - 1].end;
    const bool rightOk = runEnd == n || !isAlnum(text[runEnd]);
    std::size_t first = leftOk ? 0 : 1;
    while (first < count) {
      const std::size_t last = longestCardFrom(text, groups, count, first, rightOk);
      if (last == count) {
        ++first;
        continue;
      }
      out.push_back(Span{groups[first].begin, groups[last].end});
      ++found;
      if (found >= limit) return found;
      first = last + 1;
    }
    i = runEnd;
  }
  return found;
}

// IBANs: two letters, two check digits, then letters and digits, either
// compact ("DE89370400440532013000") or in the printed form with single
// spaces between groups of four ("GB82 WEST 1234 5698 7654 32"); the longest
// candidate that validates wins.
bool ibanLetter(char c, bool caseSensitive) { return isUpper(c) || (!caseSensitive && isLower(c)); }
bool ibanChar(char c, bool caseSensitive) { return isDigit(c) || ibanLetter(c, caseSensitive); }

std::size_t findIbans(std::string_view text, bool caseSensitive, std::vector<Span>& out, std::size_t limit) {
  std::size_t found = 0;
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i + 4 <= n) {
    if (!(ibanLetter(text[i], caseSensitive) && ibanLetter(text[i + 1], caseSensitive) && isDigit(text[i + 2]) &&
          isDigit(text[i + 3])) ||
        (i > 0 && isAlnum(text[i - 1]))) {
      ++i;
      continue;
    }
    char compact[34];
    for (std::size_t k = 0; k < 4; ++k) compact[k] = upper(text[i + k]);
    std::size_t matchedEnd = 0;
    if (i + 4 < n && isAlnum(text[i + 4])) {
      // Compact form: the whole alphanumeric run.
      std::size_t j = i + 4;
      while (j < n && isAlnum(text[j])) ++j;
      std::size_t length = j - i;
      bool ok = length <= 34;
      for (std::size_t k = 4; ok && k < length; ++k) {
        ok = ibanChar(text[i + k], caseSensitive);
        compact[k] = upper(text[i + k]);
      }
      if (ok && ibanValid(std::string_view(compact, length))) matchedEnd = j;
    } else {
      // Printed form: " XXXX" groups, the last one possibly shorter.
      std::size_t ends[9];
      std::size_t lengths[9];
      std::size_t groups = 0;
      std::size_t length = 4;
      std::size_t j = i + 4;
      while (groups < 9 && j + 1 < n && text[j] == ' ' && isAlnum(text[j + 1])) {
        std::size_t k = j + 1;
        while (k < n && isAlnum(text[k]) && k - j <= 4) ++k;
        const std::size_t size = k - j - 1;
        if ((k < n && isAlnum(text[k])) || length + size > 34) break;  // longer than a group
        bool ok = true;
        for (std::size_t c = j + 1; c < k; ++c) {
          if (!ibanChar(text[c], caseSensitive)) ok = false;
          compact[length + (c - j - 1)] = upper(text[c]);
        }
        if (!ok) break;
        length += size;
        ends[groups] = k;
        lengths[groups] = length;
        ++groups;
        j = k;
        if (size < 4) break;
      }
      for (std::size_t g = groups; g-- > 0;) {
        if (ibanValid(std::string_view(compact, lengths[g]))) {
          matchedEnd = ends[g];
          break;
        }
      }
    }
    if (matchedEnd != 0) {
      out.push_back(Span{i, matchedEnd});
      ++found;
      if (found >= limit) return found;
      i = matchedEnd;
    } else {
      ++i;
    }
  }
  return found;
}

// US SSNs: AAA-GG-SSSS, not part of a longer number or dashed sequence.
std::size_t findSsns(std::string_view text, std::vector<Span>& out, std::size_t limit) {
  std::size_t found = 0;
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i + 11 <= n) {
    const std::string_view candidate = text.substr(i, 11);
    const bool shape = isDigit(candidate[0]) && isDigit(candidate[1]) && isDigit(candidate[2]) &&
                       candidate[3] == '-' && isDigit(candidate[4]) && isDigit(candidate[5]) &&
                       candidate[6] == '-' && isDigit(candidate[7]) && isDigit(candidate[8]) &&
                       isDigit(candidate[9]) && isDigit(candidate[10]);
    if (!shape) {
      ++i;
      continue;
    }
    const bool leftOk = i == 0 || (!isAlnum(text[i - 1]) && !(text[i - 1] == '-' && i >= 2 && isDigit(text[i - 2])));
    const std::size_t end = i + 11;
    const bool rightOk = end == n || (!isAlnum(text[end]) && !(text[end] == '-' && end + 1 < n && isDigit(text[end + 1])));
    if (leftOk && rightOk && ssnValid(candidate.substr(0, 3), candidate.substr(4, 2), candidate.substr(7, 4))) {
      out.push_back(Span{i, end});
      ++found;
      if (found >= limit) return found;
      i = end;
    } else {
      ++i;
    }
  }
  return found;
}

// The positions of the ASCII digits of `text`, in order, handed to
// `visit` until it returns true (then true), 16 bytes at a time where SSE2
// is there. `enough` digits at least must be there, or nothing is visited.
template <typename Visit>
bool visitDigits(std::string_view text, std::size_t enough, Visit visit) {
  const std::size_t n = text.size();
  const char* data = text.data();
  std::size_t total = 0;
  std::size_t i = 0;
#if defined(__SSE2__)
  const __m128i belowZero = _mm_set1_epi8('0' - 1);
  const __m128i aboveNine = _mm_set1_epi8('9' + 1);
  for (; i + 16 <= n; i += 16) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + i));
    // Signed compares: bytes >= 0x80 are negative, never digits.
    const __m128i digits = _mm_and_si128(_mm_cmpgt_epi8(bytes, belowZero), _mm_cmplt_epi8(bytes, aboveNine));
    total += static_cast<std::size_t>(__builtin_popcount(static_cast<unsigned>(_mm_movemask_epi8(digits))));
  }
#endif
  for (; i < n; ++i) total += isDigit(data[i]) ? 1 : 0;
  if (total < enough) return false;
  for (std::size_t k = 0; k < n; ++k) {
    if (isDigit(data[k]) && visit(k)) return true;
  }
  return false;
}

// "[0-9](?:[ -]?[0-9]){12}": 13 digits, each next to the one before or
// one space or dash away from it.
bool cardGate(std::string_view text) {
  std::size_t previous = 0;
  std::size_t chain = 0;
  return visitDigits(text, 13, [&](std::size_t at) {
    const bool joined = chain > 0 && (at == previous + 1 || (at == previous + 2 && (text[previous + 1] == ' ' ||
                                                                                   text[previous + 1] == '-')));
    chain = joined ? chain + 1 : 1;
    previous = at;
    return chain >= 13;
  });
}

// "[A-Za-z]{2}[0-9]{2}(?: ?[A-Za-z0-9]){11}" (letters and digits ASCII).
bool ibanGate(std::string_view text) {
  const std::size_t n = text.size();
  const auto letter = [](char c) { return isUpper(c) || isLower(c); };
  return visitDigits(text, 2, [&](std::size_t at) {
    if (at < 2 || !letter(text[at - 2]) || !letter(text[at - 1]) || at + 1 >= n || !isDigit(text[at + 1])) {
      return false;
    }
    std::size_t p = at + 2;
    for (int k = 0; k < 11; ++k) {
      if (p < n && text[p] == ' ') ++p;  // one optional space, then a letter or digit
      if (p >= n || !isAlnum(text[p])) return false;
      ++p;
    }
    return true;
  });
}

// "[0-9]{3}-[0-9]{2}-[0-9]{4}".
bool ssnGate(std::string_view text) {
  const std::size_t n = text.size();
  return visitDigits(text, 9, [&](std::size_t at) {
    if (at + 11 > n) return false;
    const char* c = text.data() + at;
    return isDigit(c[1]) && isDigit(c[2]) && c[3] == '-' && isDigit(c[4]) && isDigit(c[5]) && c[6] == '-' &&
           isDigit(c[7]) && isDigit(c[8]) && isDigit(c[9]) && isDigit(c[10]);
  });
}

}  // namespace

bool templateGateMatches(Template kind, std::string_view text) {
  switch (kind) {
    case Template::PaymentCard:
      return cardGate(text);
    case Template::Iban:
      return ibanGate(text);
    case Template::UsSsn:
      return ssnGate(text);
    case Template::None:
      break;
  }
  return false;
}

std::size_t findTemplate(Template kind, std::string_view text, bool caseSensitive, std::vector<Span>& out,
                         std::size_t limit) {
  if (limit == 0) return 0;
  switch (kind) {
    case Template::PaymentCard:
      return findCards(text, out, limit);
    case Template::Iban:
      return findIbans(text, caseSensitive, out, limit);
    case Template::UsSsn:
      return findSsns(text, out, limit);
    case Template::None:
      break;
  }
  return 0;
}

std::string_view templateGate(Template kind) {
  switch (kind) {
    case Template::PaymentCard:
      return "[0-9](?:[ -]?[0-9]){12}";
    case Template::Iban:
      return "[A-Za-z]{2}[0-9]{2}(?: ?[A-Za-z0-9]){11}";
    case Template::UsSsn:
      return "[0-9]{3}-[0-9]{2}-[0-9]{4}";
    case Template::None:
      break;
  }
  return {};
}

}  // namespace sipwarden::plugins::keyword
