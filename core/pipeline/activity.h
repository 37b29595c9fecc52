#pragma once
// What the SIP thread is doing right now, in a few words ("plugins[2]
// lua_policy", "lua_policy policy.lua:12"), for the watchdog (app/watchdog.h)
// to name when the thread stalls. Written by the SIP thread before each
// filter call and by plugins through Exchange::noteActivity; read by the
// watchdog thread. One process-wide note: sipwarden has one SIP thread.

#include <cstddef>
#include <string>
#include <string_view>

namespace sipwarden::pipeline {

// Called on the SIP thread (one writer); keeps the first kActivityBytes of
// `what`. A few nanoseconds: no lock, no allocation.
void noteActivity(std::string_view what);
// Called from any thread: the latest note ("" before the first).
std::string currentActivity();

inline constexpr std::size_t kActivityBytes = 160;

}  // namespace sipwarden::pipeline
