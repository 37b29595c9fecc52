#include <gtest/gtest.h>

#include "sip/reason.h"

namespace sipwarden::sip {
namespace {

TEST(StandardReason, KnownCodesGetTheirRfcPhrase) {
  EXPECT_EQ(standardReason(403), "Forbidden");
  EXPECT_EQ(standardReason(488), "Not Acceptable Here");
  EXPECT_EQ(standardReason(500), "Server Internal Error");
  EXPECT_EQ(standardReason(503), "Service Unavailable");
  EXPECT_EQ(standardReason(603), "Decline");
}

TEST(StandardReason, OtherCodesGetTheirClassPhrase) {
  EXPECT_EQ(standardReason(499), "Client Error");
  EXPECT_EQ(standardReason(599), "Server Error");
  EXPECT_EQ(standardReason(699), "Global Failure");
}

}  // namespace
}  // namespace sipwarden::sip
