#pragma once
// `sipwarden archive verify (--db FILE | --config FILE)`: walks the
// tamper-evidence chain and reports the first edited, inserted or deleted row.

#include <string>
#include <vector>

namespace sipwarden::app {

int archiveCommand(const std::vector<std::string>& args);

}  // namespace sipwarden::app
