#pragma once
// `sipwarden policy test ... --cases DIR`: a policy's own regression suite.
// DIR holds NAME.sip messages, each with a NAME.expect beside it:
//
//   # lines starting with # are comments
//   verdict: reply 403          forward | reply CODE | drop | pending
//   reason: Ethical wall        the reply's reason phrase
//   warning: text               a Warning header of the reply contains text
//   header: X-Policy: checked   the forwarded message has this header value
//   no-header: X-Debug          ... and not this header
//   body-contains: text         the forwarded body contains text
//   tag: policy=wall            the transaction carries this tag
//   time: 2026-11-24T22:30:00Z  input: the time the filters see
//   source: 203.0.113.7         input: the sender's address
//   direction: from_upstream    input: which side sent it
//
// Cases run in name order through one chain, so a sequence can exercise
// state (a rate limit). Prints PASS or FAIL with each difference.

#include <string>

#include "pipeline/chain.h"

namespace sipwarden::app {

// Returns 0 when every case passed, 1 otherwise (2 for an unreadable DIR).
int runPolicyCases(const pipeline::FilterChain& chain, const std::string& dir);

}  // namespace sipwarden::app
