#pragma once
// Checksum and range validators behind the keyword plugin's built-in
// templates. Each takes the item in compact form (digits only, or upper-case
// letters and digits for an IBAN); a candidate that fails is not a match.

#include <string_view>

namespace sipwarden::plugins::keyword {

// Luhn (mod 10) over ASCII digits; false for anything else or empty input.
bool luhnValid(std::string_view digits);

// Whether `digits` starts with an issuer prefix (IIN) of a card network
// that issues numbers of this length: Visa, Mastercard (incl. 2-series),
// American Express, Diners Club, Discover, JCB, UnionPay, Maestro, Mir,
// RuPay.
bool knownCardIssuer(std::string_view digits);

// A payment card number: 13 to 19 digits, Luhn-valid, known issuer range.
bool paymentCardValid(std::string_view digits);

// The IBAN length registered for a country ("GB" -> 22), 0 when the
// country is not in the table.
int ibanLength(std::string_view country);

// An IBAN in compact upper-case form: two letters, two check digits (02 to
// 98), 11 to 30 letters and digits, the registered length for countries in
// the table (15 to 34 for others), and ISO 7064 mod-97 == 1.
bool ibanValid(std::string_view iban);

// A US Social Security number's three digit groups ("123", "45", "6789"):
// area not 000, 666 or 900-999; group not 00; serial not 0000.
bool ssnValid(std::string_view area, std::string_view group, std::string_view serial);

}  // namespace sipwarden::plugins::keyword
