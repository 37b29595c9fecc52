#include "keyword/checksums.h"

#include <algorithm>
#include <iterator>
#include <cstdint>

namespace sipwarden::plugins::keyword {
namespace {

bool allDigits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The number formed by the first `count` digits.
int prefix(std::string_view digits, std::size_t count) {
  int value = 0;
  for (std::size_t i = 0; i < count && i < digits.size(); ++i) value = value * 10 + (digits[i] - '0');
  return value;
}

struct IssuerRange {
  int prefixDigits;  // how many leading digits `low`/`high` cover
  int low;
  int high;
  int minLength;
  int maxLength;
};

// Issuer identification number ranges of the major networks.
constexpr IssuerRange kIssuers[] = {
    {1, 4, 4, 13, 13},          {1, 4, 4, 16, 16},          {1, 4, 4, 19, 19},          // Visa
    {2, 51, 55, 16, 16},        {4, 2221, 2720, 16, 16},                                // Mastercard
    {2, 34, 34, 15, 15},        {2, 37, 37, 15, 15},                                    // American Express
    {3, 300, 305, 14, 19},      {4, 3095, 3095, 14, 19},    {2, 36, 36, 14, 19},        // Diners Club
    {2, 38, 39, 16, 19},                                                                //
    {4, 6011, 6011, 16, 19},    {3, 644, 649, 16, 19},      {2, 65, 65, 16, 19},        // Discover
    {4, 3528, 3589, 16, 19},                                                            // JCB
    {2, 62, 62, 16, 19},                                                                // UnionPay
    {4, 5018, 5018, 13, 19},    {4, 5020, 5020, 13, 19},    {4, 5038, 5038, 13, 19},    // Maestro
    {4, 5893, 5893, 13, 19},    {4, 6304, 6304, 13, 19},    {4, 6759, 6759, 13, 19},    //
    {4, 6761, 6763, 13, 19},    {2, 50, 50, 16, 19},        {2, 56, 58, 16, 19},        //
    {4, 2200, 2204, 16, 19},                                                            // Mir
    {2, 60, 60, 16, 16},        {3, 508, 508, 16, 16},      {2, 81, 82, 16, 16},        // RuPay
    {2, 67, 67, 16, 19},                                                                // Maestro UK
};

struct CountryLength {
  char code[3];
  int length;
};

// IBAN lengths from the SWIFT IBAN registry (sorted by country code).
constexpr CountryLength kIbanLengths[] = {
    {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16}, {"BG", 22},
    {"BH", 22}, {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22}, {"CY", 28}, {"CZ", 24}, {"DE", 22},
    {"DK", 18}, {"DO", 28}, {"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18}, {"FO", 18}, {"FR", 27},
    {"GB", 22}, {"GE", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27}, {"GT", 28}, {"HR", 21}, {"HU", 28},
    {"IE", 22}, {"IL", 23}, {"IQ", 23}, {"IS", 26}, {"IT", 27}, {"JO", 30}, {"KW", 30}, {"KZ", 20},
    {"LB", 28}, {"LC", 32}, {"LI", 21}, {"LT", 20}, {"LU", 20}, {"LV", 21}, {"LY", 25}, {"MC", 27},
    {"MD", 24}, {"ME", 22}, {"MK", 19}, {"MR", 27}, {"MT", 31}, {"MU", 30}, {"NL", 18}, {"NO", 15},
    {"PK", 24}, {"PL", 28}, {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"SA", 24},
    {"SC", 31}, {"SD", 18}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}, {"ST", 25}, {"SV", 28},
    {"TL", 23}, {"TN", 24}, {"TR", 26}, {"UA", 29}, {"VA", 22}, {"VG", 24}, {"XK", 20},
};

bool isUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool isDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

bool luhnValid(std::string_view digits) {
  if (!allDigits(digits)) return false;
  int sum = 0;
  bool twice = false;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    int digit = *it - '0';
    if (twice) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
    twice = !twice;
  }
  return sum % 10 == 0;
}

bool knownCardIssuer(std::string_view digits) {
  if (!allDigits(digits)) return false;
  const int length = static_cast<int>(digits.size());
  for (const auto& range : kIssuers) {
    if (length < range.minLength || length > range.maxLength) continue;
    const int value = prefix(digits, static_cast<std::size_t>(range.prefixDigits));
    if (value >= range.low && value <= range.high) return true;
  }
  return false;
}

bool paymentCardValid(std::string_view digits) {
  return digits.size() >= 13 && digits.size() <= 19 && luhnValid(digits) && knownCardIssuer(digits);
}

int ibanLength(std::string_view country) {
  const auto found = std::lower_bound(std::begin(kIbanLengths), std::end(kIbanLengths), country,
                                      [](const CountryLength& entry, std::string_view code) {
                                        return std::string_view(entry.code, 2) < code;
                                      });
  if (found == std::end(kIbanLengths) || std::string_view(found->code, 2) != country) return 0;
  return found->length;
}

bool ibanValid(std::string_view iban) {
  if (iban.size() < 15 || iban.size() > 34) return false;
  if (!isUpper(iban[0]) || !isUpper(iban[1]) || !isDigit(iban[2]) || !isDigit(iban[3])) return false;
  const int check = (iban[2] - '0') * 10 + (iban[3] - '0');
  if (check < 2 || check > 98) return false;
  for (char c : iban.substr(4)) {
    if (!isUpper(c) && !isDigit(c)) return false;
  }
  const int registered = ibanLength(iban.substr(0, 2));
  if (registered != 0 && static_cast<int>(iban.size()) != registered) return false;
  // ISO 7064 mod 97-10: the first four characters move to the end, letters
  // count as 10..35, and the number must leave 1.
  std::uint32_t remainder = 0;
  for (std::size_t k = 0; k < iban.size(); ++k) {
    const char c = iban[(k + 4) % iban.size()];
    if (isDigit(c)) {
      remainder = (remainder * 10 + static_cast<std::uint32_t>(c - '0')) % 97;
    } else {
      remainder = (remainder * 100 + static_cast<std::uint32_t>(c - 'A' + 10)) % 97;
    }
  }
  return remainder == 1;
}

bool ssnValid(std::string_view area, std::string_view group, std::string_view serial) {
  if (area.size() != 3 || group.size() != 2 || serial.size() != 4) return false;
  if (!allDigits(area) || !allDigits(group) || !allDigits(serial)) return false;
  const int areaNumber = prefix(area, 3);
  if (areaNumber == 0 || areaNumber == 666 || areaNumber >= 900) return false;
  return prefix(group, 2) != 0 && prefix(serial, 4) != 0;
}

}  // namespace sipwarden::plugins::keyword
