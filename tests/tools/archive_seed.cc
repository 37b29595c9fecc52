// archive_seed: writes archives through the real archive::Store API (the
// hash chain, FTS index and conversation grouping exactly as the hop writes
// them), for the query tests and the query benchmark.
//
//   archive_seed --db FILE --fixture                 the small known archive the tests read
//   archive_seed --db FILE --messages N [--users U]  N generated messages over 90 days before now
//   archive_seed --db FILE --live-seconds S [--rate R]
//       writes R messages/s in 20 ms batches (as the hop's writer does) and
//       prints the commit latencies as JSON: the benchmark runs it while
//       queries hit the same file.
#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "archive/sqlite_store.h"

namespace {

using sipwarden::CallRecord;
using sipwarden::MessageRecord;
using Store = sipwarden::archive::SqliteStore;

// 2026-11-02T09:00:00Z
constexpr std::int64_t kFixtureStart = 1793610000000;

MessageRecord message(std::int64_t timeMs, const std::string& from, const std::string& to, const std::string& callId,
                      std::uint32_t cseq, const std::string& text, bool session) {
  MessageRecord r;
  r.timeMs = timeMs;
  r.direction = "from_client";
  r.sender = from;
  r.recipient = to;
  r.senderName = from.substr(0, from.find('@'));
  r.recipientName = to.substr(0, to.find('@'));
  r.callId = callId;
  r.cseq = cseq;
  r.contentType = "text/plain";
  r.text = text;
  r.verdict = "delivered";
  r.finalCode = 200;
  r.source = "127.0.0.1:5070";
  r.transport = "udp";
  r.session = session;
  r.participants = std::min(from, to) + "," + std::max(from, to);
  return r;
}

// An audio call from `caller` to `callee` answered 200 `answerAfterMs`
// after its INVITE.
CallRecord answeredCall(const std::string& callId, const std::string& caller, const std::string& callee,
                        std::int64_t inviteMs, std::int64_t answerAfterMs) {
  CallRecord call;
  call.callId = callId;
  call.caller = caller;
  call.callee = callee;
  call.inviteMs = inviteMs;
  call.answerMs = inviteMs + answerAfterMs;
  call.disposition = "answered";
  call.endCode = 200;
  call.media = "audio";
  return call;
}

// Writes `answered`, then its BYE at `byeMs` from `endedBy` as a second
// event, as call_log sends them.
void writeAnsweredCall(Store& store, const CallRecord& answered, std::int64_t byeMs, const std::string& endedBy) {
  store.upsertCall(answered);
  CallRecord bye;
  bye.callId = answered.callId;
  bye.endMs = byeMs;
  bye.endedByAor = endedBy;
  store.upsertCall(bye);
}

void fixture(Store& store) {
  const std::string alice = "alice@example.com", bob = "bob@example.com", carol = "carol@example.com";
  std::int64_t t = kFixtureStart;
  store.begin();
  // A session: plain, blocked, modified.
  store.insertMessage(message(t, alice, bob, "conv-a", 1, "Hello Bob, did you see the quarterly report?", true));
  store.insertMessage(message(t += 60000, bob, alice, "conv-a", 2, "Yes, the quarterly report looks good", true));
  auto blocked = message(t += 60000, alice, bob, "conv-a", 3, "Here is the password: hunter2", true);
  blocked.verdict = "blocked";
  blocked.finalCode = 403;
  blocked.rules = "keyword:credentials";
  blocked.tags = "dlp=credentials";
  store.insertMessage(blocked);
  auto modified = message(t += 60000, bob, alice, "conv-a", 4, "Look at hxxp://evil[.]example/report", true);
  modified.verdict = "modified";
  modified.originalText = "Look at http://evil.example/report";
  modified.rules = "url_filter:defang";
  modified.tags = "url=defanged";
  store.insertMessage(modified);
  // Page-mode messages between carol and alice.
  store.insertMessage(message(t += 3600000, carol, alice, "pager-c1", 1, "Lunch tomorrow? <b>bring</b> the \"plan\"", false));
  store.insertMessage(message(t += 60000, alice, carol, "pager-c2", 1, "Sure, noon at the usual place", false));
  // 25 status updates in one conversation, for pagination.
  for (int i = 1; i <= 25; ++i) {
    store.insertMessage(message(t += 60000, "dave@example.com", "erin@example.com", "pager-d" + std::to_string(i), 1,
                                "status update " + std::to_string(i), false));
  }
  CallRecord answered = answeredCall("call-1", alice, bob, kFixtureStart + 10000, 5000);
  answered.ringingMs = answered.inviteMs + 1000;
  writeAnsweredCall(store, answered, answered.answerMs + 60000, bob);
  CallRecord busy;
  busy.callId = "call-2";
  busy.caller = carol;
  busy.callee = alice;
  busy.inviteMs = kFixtureStart + 7200000;
  busy.endMs = busy.inviteMs + 2000;
  busy.disposition = "busy";
  busy.endCode = 486;
  busy.media = "audio,video";
  store.upsertCall(busy);
  store.commit();
}

const std::vector<std::string>& words() {
  static const std::vector<std::string> list = [] {
    std::vector<std::string> out = {"meeting", "report",  "budget",  "deadline", "lunch",   "client", "project",
                                    "review",  "invoice", "contract", "release", "server",  "design", "call",
                                    "please",  "thanks",  "tomorrow", "today",   "update",  "draft",  "schedule",
                                    "quarterly", "numbers", "slides", "customer", "ticket", "deploy", "urgent"};
    // A long tail, so rare words exist too.
    for (int i = 0; i < 2000; ++i) out.push_back("w" + std::to_string(i));
    return out;
  }();
  return list;
}

std::string sentence(std::mt19937_64& random) {
  const auto& list = words();
  std::uniform_int_distribution<int> length(4, 14);
  // Zipf-like: the common words come up far more often than the tail.
  std::uniform_real_distribution<double> unit(0, 1);
  std::string out;
  const int n = length(random);
  for (int i = 0; i < n; ++i) {
    const double u = unit(random);
    const std::size_t index = static_cast<std::size_t>(std::pow(u, 3.0) * static_cast<double>(list.size()));
    out += (i ? " " : "") + list[std::min(index, list.size() - 1)];
  }
  return out;
}

std::int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void generate(Store& store, std::int64_t count, int users) {
  std::mt19937_64 random(42);
  const std::int64_t end = nowMs();
  const std::int64_t span = 90LL * 86400000;
  const std::int64_t step = std::max<std::int64_t>(1, span / std::max<std::int64_t>(count, 1));
  std::uniform_int_distribution<int> user(0, users - 1);
  std::uniform_int_distribution<int> percent(0, 99);
  std::int64_t written = 0;
  std::int64_t conversation = 0;
  const auto started = std::chrono::steady_clock::now();
  while (written < count) {
    store.begin();
    for (int batch = 0; batch < 5000 && written < count; ++conversation) {
      // A conversation: 2..40 messages between two users.
      const std::string a = "user" + std::to_string(user(random)) + "@example.com";
      std::string b = "user" + std::to_string(user(random)) + "@example.com";
      if (b == a) b = "user" + std::to_string((user(random) + 1) % users) + "@example.org";
      const int length = 2 + percent(random) % 39;
      const std::string callId = "gen-" + std::to_string(conversation);
      for (int i = 0; i < length && written < count && batch < 5000; ++i, ++written, ++batch) {
        const bool fromA = i % 2 == 0;
        auto r = message(end - span + written * step, fromA ? a : b, fromA ? b : a, callId,
                         static_cast<std::uint32_t>(i + 1), sentence(random), true);
        const int roll = percent(random);
        if (roll == 0) {
          r.verdict = "blocked";
          r.rules = "keyword:credentials";
          r.tags = "dlp=credentials";
          r.finalCode = 403;
        } else if (roll < 3) {
          r.verdict = "modified";
          r.originalText = r.text + " http://example.net/x";
          r.text += " hxxp://example[.]net/x";
          r.rules = "url_filter:defang";
        }
        store.insertMessage(r);
      }
      if (conversation % 20 == 0) {
        const CallRecord call =
            answeredCall("gen-call-" + std::to_string(conversation), a, b, end - span + written * step, 4000);
        writeAnsweredCall(store, call, call.answerMs + 1000 * (10 + percent(random) * 6), a);
      }
    }
    store.commit();
    if (written % 100000 < 5000) {
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      std::fprintf(stderr, "%lld messages, %.0f s\n", static_cast<long long>(written), seconds);
    }
  }
}

void live(Store& store, double seconds, int rate) {
  std::mt19937_64 random(7);
  const int perBatch = std::max(1, rate / 50);
  std::vector<double> latencies;
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  std::uint32_t cseq = 0;
  while (std::chrono::steady_clock::now() < end) {
    const auto start = std::chrono::steady_clock::now();
    store.begin();
    for (int i = 0; i < perBatch; ++i) {
      store.insertMessage(message(nowMs(), "live@example.com", "peer@example.com", "live-" + std::to_string(nowMs()),
                                  ++cseq, sentence(random), false));
    }
    store.commit();
    latencies.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    std::this_thread::sleep_until(start + std::chrono::milliseconds(20));
  }
  std::sort(latencies.begin(), latencies.end());
  auto at = [&](double q) { return latencies[static_cast<std::size_t>(q * static_cast<double>(latencies.size() - 1))]; };
  std::printf("{\"batches\": %zu, \"per_batch\": %d, \"p50_ms\": %.3f, \"p95_ms\": %.3f, \"p99_ms\": %.3f, "
              "\"max_ms\": %.3f}\n",
              latencies.size(), perBatch, at(0.5), at(0.95), at(0.99), latencies.back());
}

}  // namespace

int main(int argc, char** argv) {
  std::string db;
  bool isFixture = false;
  std::int64_t messages = 0;
  int users = 1000;
  double liveSeconds = 0;
  int rate = 1000;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool more = i + 1 < argc;
    if (arg == "--db" && more) {
      db = argv[++i];
    } else if (arg == "--fixture") {
      isFixture = true;
    } else if (arg == "--messages" && more) {
      messages = std::stoll(argv[++i]);
    } else if (arg == "--users" && more) {
      users = std::stoi(argv[++i]);
    } else if (arg == "--live-seconds" && more) {
      liveSeconds = std::stod(argv[++i]);
    } else if (arg == "--rate" && more) {
      rate = std::stoi(argv[++i]);
    } else {
      std::cerr << "usage: archive_seed --db FILE (--fixture | --messages N [--users U] | --live-seconds S [--rate R])\n";
      return 2;
    }
  }
  if (db.empty() || users < 2) {
    std::cerr << "archive_seed: --db FILE is required (and --users at least 2)\n";
    return 2;
  }
  try {
    Store store(db);
    if (isFixture) fixture(store);
    if (messages > 0) generate(store, messages, users);
    if (liveSeconds > 0) live(store, liveSeconds, rate);
  } catch (const std::exception& error) {
    std::cerr << "archive_seed: " << error.what() << "\n";
    return 1;
  }
  return 0;
}
