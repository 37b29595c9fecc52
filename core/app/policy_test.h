#pragma once
// `sipwarden policy test (--config FILE | --script FILE.lua [--settings FILE.json]) [--json]
//                        [--from-upstream] (--cases DIR | MESSAGE.sip...)`
// Runs the configured filter chain offline on message files and prints, per
// message, each plugin's verdict and reason, the edits made, and the message
// as it would leave (or the reply). How an operator answers "why was this
// blocked" and how policy authors test before deploying.

#include <string>
#include <vector>

namespace sipwarden::app {

int policyTestCommand(const std::vector<std::string>& args);

}  // namespace sipwarden::app
