// Filter parsing shared by the command line and the API: dates, durations,
// addresses, cursors, and the errors that name the parameter.
#include "query/filters.h"

#include <gtest/gtest.h>

namespace sipwarden::query {
namespace {

constexpr std::int64_t kNow = 1'793'610'000'000;  // 2026-11-02T09:00:00Z

TEST(ParseTime, RelativeDurationsCountBackFromNow) {
  EXPECT_EQ(parseTime("7d", kNow, false), kNow - 7 * 86'400'000LL);
  EXPECT_EQ(parseTime("12h", kNow, false), kNow - 12 * 3'600'000LL);
  EXPECT_EQ(parseTime("30m", kNow, false), kNow - 30 * 60'000LL);
  EXPECT_EQ(parseTime("2w", kNow, false), kNow - 14 * 86'400'000LL);
}

TEST(ParseTime, AbsoluteDatesAreUtcUnlessLocalIsAsked) {
  EXPECT_EQ(parseTime("2026-11-02", kNow, false), 1'793'577'600'000);
  EXPECT_EQ(parseTime("2026-11-02T09:00", kNow, false), kNow);
  EXPECT_EQ(parseTime("2026-11-02 09:00:00", kNow, false), kNow);
  EXPECT_EQ(parseTime("2026-11-02T09:00:00Z", kNow, true), kNow);  // Z wins over local
  EXPECT_EQ(parseTime("1793610000000", kNow, false), kNow);         // epoch milliseconds
}

TEST(ParseTime, RefusesWhatIsNotADate) {
  for (const char* bad : {"", "yesterday", "2026-13-01", "2026-11-02T25:00", "7x", "2026-11-02junk", "d"}) {
    EXPECT_THROW(parseTime(bad, kNow, false), QueryError) << bad;
  }
}

TEST(ParseTime, RefusesImpossibleDatesInsteadOfRollingThemOver) {
  // timegm alone would make 2026-02-31 March 3.
  for (const char* bad : {"2026-02-31", "2026-02-29", "2026-04-31", "2026-00-10", "2026-11-00", "2026-11-02T24:00",
                          "2026-11-02T10:60", "2026-11-02T10:00:61", "2026-1-05", "2026-11-2", "2026-11-02T9:00",
                          "+026-11-02", "2026-11- 2", "2026-11-02T10:00:0", "Z", "2026-11-02X10:00"}) {
    EXPECT_THROW(parseTime(bad, kNow, false), QueryError) << bad;
  }
  EXPECT_EQ(parseTime("2028-02-29", kNow, false), 1'835'395'200'000);  // a leap year has it
  EXPECT_EQ(parseTime("2026-12-31T23:59:59Z", kNow, false), 1'798'761'599'000);
  try {
    parseFilters({{"until", "2026-02-31"}}, kNow, false);
    FAIL();
  } catch (const QueryError& error) {
    EXPECT_EQ(std::string(error.what()), "until: no such date: '2026-02-31'");
  }
}

TEST(ParseFilters, NamesTheBadParameter) {
  try {
    parseFilters({{"since", "soon"}}, kNow, false);
    FAIL();
  } catch (const QueryError& error) {
    EXPECT_EQ(std::string(error.what()).rfind("since: ", 0), 0u) << error.what();
  }
  EXPECT_THROW(parseFilters({{"verdict", "maybe"}}, kNow, false), QueryError);
  EXPECT_THROW(parseFilters({{"limit", "0"}}, kNow, false), QueryError);
  EXPECT_THROW(parseFilters({{"limit", "1001"}}, kNow, false), QueryError);
  EXPECT_THROW(parseFilters({{"tag", "novalue"}}, kNow, false), QueryError);
  EXPECT_THROW(parseFilters({{"colour", "red"}}, kNow, false), QueryError);
  EXPECT_THROW(parseFilters({{"limit", "ten"}}, kNow, false), QueryError);
  EXPECT_THROW(parseFilters({{"limit", ""}}, kNow, false), QueryError);
  EXPECT_THROW(parseFilters({{"limit", "-5"}}, kNow, false), QueryError);
  EXPECT_THROW(parseFilters({{"disposition", "maybe"}}, kNow, false), QueryError);
  EXPECT_EQ(parseFilters({{"disposition", "no_answer"}}, kNow, false).disposition, "no_answer");
}

TEST(ParseFilters, NormalizesAddresses) {
  const Filters f = parseFilters({{"participant", "sip:Alice@Example.COM"}, {"from", "bob@EXAMPLE.com"}}, kNow, false);
  EXPECT_EQ(f.participant, "Alice@example.com");
  EXPECT_EQ(f.from, "bob@example.com");
}

TEST(Describe, RoundTripsTheFiltersWithoutTheCursor) {
  const Filters f = parseFilters({{"text", "quarterly report"}, {"verdict", "blocked"}, {"cursor", "x"}}, kNow, false);
  EXPECT_EQ(describe(f), "text=quarterly%20report&verdict=blocked&limit=50");
}

TEST(Cursor, RoundTripsAndRefusesOtherKindsAndGarbage) {
  const std::string cursor = encodeCursor('m', kNow, 42);
  EXPECT_EQ(decodeCursor(cursor, 'm'), std::make_pair(kNow, std::int64_t{42}));
  EXPECT_THROW(decodeCursor(cursor, 'c'), QueryError);
  EXPECT_THROW(decodeCursor("not-a-cursor", 'm'), QueryError);
  EXPECT_THROW(decodeCursor("", 'm'), QueryError);
  EXPECT_THROW(decodeCursor(encodeCursor('m', kNow, 1) + "AAAA", 'm'), QueryError);
}

}  // namespace
}  // namespace sipwarden::query
