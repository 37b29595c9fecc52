#pragma once
// `sipwarden query ...` and `sipwarden export ...`: the archive searched
// from the shell, on a live archive (own read connection, WAL).

#include <string>
#include <vector>

namespace sipwarden::app {

// Called by main with the arguments after "query". Returns the exit code:
// 0 found (even nothing), 1 runtime error, 2 bad usage.
int queryCommand(const std::vector<std::string>& args);
// Called by main with the arguments after "export".
int exportCommand(const std::vector<std::string>& args);

}  // namespace sipwarden::app
