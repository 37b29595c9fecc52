// Archive benchmarks on a real SQLite file:
//   commitRows/N     rows committed per second with N rows per transaction
//                    (the writer's group commit; the target is
//                    100,000 rows/s with batching)
//   commitRowsCodeLater/L, commitRowsNoCode/L, commitRowsWithout/P: below
//   ftsTwoWords      a two-word full-text query on 1,000,000 archived messages
//   participantLast100  a participant's last 100 messages on the same archive
//   writerWithCheckpoints/C  the hop's writer thread, 100,000 rows in
//                    batches of 40, without (0) and with (1) signed
//                    checkpoints: rows/s and CPU per row
//   postgresCommitRows/threads:N  rows committed per second into PostgreSQL
//                    by N hops at once (each its own connection and chain),
//                    as the hop writes them (codes a batch later); needs
//                    SIPWARDEN_BENCH_PG_URL (scripts/pg-test-server.sh)
// and prints the archive's bytes per message. The 1M archive is built once in
// $TMPDIR (about a minute) and reused by later runs.
//   build/release/bench/archive_bench
#include <benchmark/benchmark.h>

#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>

#include "archive/pg.h"
#include "archive/checkpoint.h"
#include "archive/sqlite_store.h"
#include "archive/writer.h"

namespace {

using sipwarden::MessageRecord;
using Store = sipwarden::archive::SqliteStore;

std::vector<std::string> vocabulary() {
  static const char* syllables[] = {"ka", "lo", "mi", "ne", "po", "ra", "si", "tu", "ve", "zo", "ba", "de",
                                    "fi", "gu", "ha", "jo", "ku", "le", "mo", "nu"};
  std::vector<std::string> words;
  for (const char* a : syllables) {
    for (const char* b : syllables) {
      for (const char* c : {"n", "r", "s", "t", "x"}) words.push_back(std::string(a) + b + c);
    }
  }
  return words;  // 2,000 words
}

// Record i of a run where each pair of participants exchanges
// `conversationLength` messages in a row (1: every message opens a
// conversation, the worst case), taking turns as sender.
MessageRecord makeRecord(std::uint32_t i, std::mt19937& random, const std::vector<std::string>& words,
                         std::uint32_t conversationLength = 1) {
  // Zipf-like: low indexes are common, like real vocabulary.
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  auto word = [&] { return words[static_cast<std::size_t>(std::pow(uniform(random), 3.0) * words.size())]; };
  const std::uint32_t pair = i / conversationLength;
  MessageRecord r;
  r.timeMs = 1'700'000'000'000 + i * 1000LL;
  r.direction = "from_client";
  r.sender = "user" + std::to_string(pair % 5000) + "@example.com";
  r.recipient = "user" + std::to_string((pair * 7 + 1) % 5000) + "@example.com";
  if (i % conversationLength % 2 == 1) std::swap(r.sender, r.recipient);
  r.callId = "bench-" + std::to_string(i);
  r.cseq = 1;
  r.contentType = "text/plain";
  for (int w = 0; w < 12; ++w) r.text += (w ? " " : "") + word();
  r.verdict = "delivered";
  r.finalCode = 200;
  r.source = "192.0.2.10:5060";
  r.transport = "UDP";
  std::string a = r.sender;
  std::string b = r.recipient;
  if (b < a) std::swap(a, b);
  r.participants = a + "," + b;
  return r;
}

std::string freshPath(const std::string& name) {
  const std::string path = (std::filesystem::temp_directory_path() / name).string();
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  return path;
}

// A fixed number of rows (100,000) in each run, made before the clock starts:
// the figure is the store's work only, and the instruction count under
// `valgrind --tool=callgrind` is repeatable. Every 5,000th row reuses a
// pair of participants, so most rows open a pager conversation, as in the
// worst case of many short exchanges.
constexpr std::uint32_t kCommitRows = 100'000;

std::vector<MessageRecord> makeCommitRecords(std::uint32_t conversationLength) {
  const auto words = vocabulary();
  std::mt19937 random(7);
  std::vector<MessageRecord> out;
  out.reserve(kCommitRows);
  for (std::uint32_t i = 0; i < kCommitRows; ++i) out.push_back(makeRecord(i, random, words, conversationLength));
  return out;
}

const std::vector<MessageRecord>& commitRecords() {
  static const std::vector<MessageRecord> records = makeCommitRecords(1);
  return records;
}

void commitRows(benchmark::State& state) {
  const auto& records = commitRecords();
  const std::string path = freshPath("sipwarden-bench-commit.db");
  Store store(path);
  const auto batch = static_cast<std::uint32_t>(state.range(0));
  std::uint32_t next = 0;
  for (auto _ : state) {
    store.begin();
    for (std::uint32_t i = 0; i < batch; ++i) store.insertMessage(records[next++]);
    store.commit();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(next));
  state.counters["bytes_per_message"] =
      static_cast<double>(std::filesystem::file_size(path) + std::filesystem::file_size(path + "-wal")) / next;
}
BENCHMARK(commitRows)->Arg(1)->Iterations(20'000)->Unit(benchmark::kMillisecond);
BENCHMARK(commitRows)->Arg(100)->Iterations(kCommitRows / 100)->Unit(benchmark::kMillisecond);
BENCHMARK(commitRows)->Arg(1000)->Iterations(kCommitRows / 1000)->Unit(benchmark::kMillisecond);
BENCHMARK(commitRows)->Arg(10000)->Iterations(kCommitRows / 10000)->Unit(benchmark::kMillisecond);

// The final code's share, 1,000 rows per transaction:
//   commitRowsNoCode        rows inserted with no final code (no outcome record)
//   commitRowsCodeLater     as the hop writes them: each row without a code,
//                           and the previous batch's codes (an outcome record
//                           each) in the same transaction
// (commitRows inserts each row with its code: row + outcome record.)
// The argument is the conversation length: 1 opens a conversation per
// message (the worst case), 20 is a chat of twenty messages per pair.
//   commitRowsWithout/P     commitRowsCodeLater/20 with one part of the
//                           schema taken away, to show what each costs (not
//                           something sipwarden can do: each part is
//                           required): 0 nothing, 1 the sender and recipient
//                           indexes, 2 all five secondary indexes, 3 the
//                           FTS5 index, 4 all of these
const std::vector<MessageRecord>& recordsWithoutCodes(std::uint32_t conversationLength) {
  static const std::vector<MessageRecord> worst = [] {
    std::vector<MessageRecord> out = commitRecords();
    for (auto& r : out) r.finalCode = 0;
    return out;
  }();
  static const std::vector<MessageRecord> chats = [] {
    std::vector<MessageRecord> out = makeCommitRecords(20);
    for (auto& r : out) r.finalCode = 0;
    return out;
  }();
  return conversationLength == 1 ? worst : chats;
}

void writeAsTheHopDoes(benchmark::State& state, Store& store, const std::vector<MessageRecord>& records,
                       bool codeLater, std::uint32_t kBatch = 1000) {
  std::uint32_t next = 0;
  for (auto _ : state) {
    store.begin();
    if (codeLater && next >= kBatch) {
      for (std::uint32_t i = next - kBatch; i < next; ++i) {
        store.updateFinalCode(records[i].callId, records[i].cseq, records[i].sender, 200);
      }
    }
    for (std::uint32_t i = 0; i < kBatch; ++i) store.insertMessage(records[next++]);
    store.commit();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(next));
}

void commitRowsWithCodes(benchmark::State& state, bool codeLater) {
  Store store(freshPath("sipwarden-bench-commit.db"));
  writeAsTheHopDoes(state, store, recordsWithoutCodes(static_cast<std::uint32_t>(state.range(0))), codeLater);
}
void commitRowsNoCode(benchmark::State& state) { commitRowsWithCodes(state, false); }
void commitRowsCodeLater(benchmark::State& state) { commitRowsWithCodes(state, true); }
BENCHMARK(commitRowsNoCode)->Arg(1)->Iterations(kCommitRows / 1000)->Unit(benchmark::kMillisecond);
BENCHMARK(commitRowsCodeLater)->Arg(1)->Arg(20)->Iterations(kCommitRows / 1000)->Unit(benchmark::kMillisecond);

void commitRowsWithout(benchmark::State& state) {
  Store store(freshPath("sipwarden-bench-commit.db"));
  const auto part = state.range(0);
  std::string sql;
  if (part == 1 || part == 2 || part == 4) sql += "DROP INDEX messages_sender; DROP INDEX messages_recipient;";
  if (part == 2 || part == 4) {
    sql += "DROP INDEX messages_time; DROP INDEX messages_conversation; DROP INDEX messages_verdict;";
  }
  if (part == 3 || part == 4) {
    // The store's statement still inserts into messages_fts: into nothing.
    sql += "DROP TABLE messages_fts; CREATE TABLE messages_fts (text); "
           "CREATE TRIGGER messages_fts_nothing BEFORE INSERT ON messages_fts BEGIN SELECT RAISE(IGNORE); END;";
  }
  if (sqlite3_exec(store.handle(), sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
    state.SkipWithError(sqlite3_errmsg(store.handle()));
    return;
  }
  writeAsTheHopDoes(state, store, recordsWithoutCodes(20), true);
}
BENCHMARK(commitRowsWithout)->DenseRange(0, 4)->Iterations(kCommitRows / 1000)->Unit(benchmark::kMillisecond);

// commitRowsCodeLater/20 in batches of N rows: 40 is what a hop at 2,000
// MESSAGE/s commits with batch_ms 20, 500 the default batch_rows, 10,000
// a writer catching up with batch_rows raised.
void commitRowsInBatchesOf(benchmark::State& state) {
  Store store(freshPath("sipwarden-bench-commit.db"));
  writeAsTheHopDoes(state, store, recordsWithoutCodes(20), true, static_cast<std::uint32_t>(state.range(0)));
}
BENCHMARK(commitRowsInBatchesOf)->Arg(40)->Iterations(40'000 / 40)->Unit(benchmark::kMillisecond);
BENCHMARK(commitRowsInBatchesOf)->Arg(500)->Iterations(40'000 / 500)->Unit(benchmark::kMillisecond);
BENCHMARK(commitRowsInBatchesOf)->Arg(10'000)->Iterations(kCommitRows / 10'000)->Unit(benchmark::kMillisecond);

// The hop's writer thread end to end (queue, batches of 40 as at 2,000
// MESSAGE/s, a final code per row a moment later), without (0) and with (1)
// signed checkpoints every 1,000 rows: what checkpoints cost the writer
// (the heads' SELECT after each commit; signing and fsync on their thread).
// Real time: the rows go through the writer's thread.
void writerWithCheckpoints(benchmark::State& state) {
  namespace archive = sipwarden::archive;
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "sipwarden-bench-checkpoints";
  const auto& records = recordsWithoutCodes(20);
  constexpr std::size_t kRows = 100'000;
  std::uint64_t signedCheckpoints = 0;
  double cpuSeconds = 0;
  std::size_t written = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    archive::WriterSettings settings;
    settings.url = freshPath("sipwarden-bench-writer.db");
    settings.batchRows = 40;
    settings.batchTime = std::chrono::milliseconds(20);
    settings.queueLimit = 1'000'000;
    settings.hopId = "bench";
    if (state.range(0) == 1) {
      archive::CheckpointKey::generate((dir / "bench.key").string());
      settings.checkpoints.keyPath = (dir / "bench.key").string();
      settings.checkpoints.dir = dir.string();
    }
    std::vector<MessageRecord> copies(records.begin(), records.begin() + std::min(kRows, records.size()));
    state.ResumeTiming();
    rusage before{};
    ::getrusage(RUSAGE_SELF, &before);
    archive::Writer writer(settings);
    for (const MessageRecord& r : copies) {
      writer.submit(r);
      writer.finalCode(r.callId, r.cseq, r.sender, 200);
    }
    writer.drainAndStop();
    rusage after{};
    ::getrusage(RUSAGE_SELF, &after);
    auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
    cpuSeconds += seconds(after.ru_utime) + seconds(after.ru_stime) - seconds(before.ru_utime) - seconds(before.ru_stime);
    if (writer.checkpointer() != nullptr) signedCheckpoints += writer.checkpointer()->written();
    written += copies.size();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(written));
  const auto rows = static_cast<double>(written);
  state.counters["checkpoints"] = static_cast<double>(signedCheckpoints);
  state.counters["cpu_us_per_row"] = cpuSeconds * 1e6 / rows;
  std::filesystem::remove_all(dir);
}
BENCHMARK(writerWithCheckpoints)->Arg(0)->Arg(1)->Iterations(3)->UseRealTime()->Unit(benchmark::kMillisecond);

// Each thread is one hop: its own store and chain, its own Call-IDs, the
// same participants as the other hop (so the hops meet on conversations).
void postgresCommitRows(benchmark::State& state) {
  const char* server = std::getenv("SIPWARDEN_BENCH_PG_URL");
  if (server == nullptr) {
    state.SkipWithError("SIPWARDEN_BENCH_PG_URL is not set");
    return;
  }
  static std::string url;
  if (state.thread_index() == 0) {
    // A fresh schema per run, for all the run's threads.
    static int run = 0;
    const std::string schema = "bench_" + std::to_string(::getpid()) + "_" + std::to_string(run++);
    sipwarden::archive::pg::Connection(server).script("CREATE SCHEMA " + schema);
    url = std::string(server) + (std::strchr(server, '?') ? "&" : "?") + "options=-csearch_path%3D" + schema;
    sipwarden::archive::openStore(url, {});  // migrates once, before the threads write
  }
  static std::vector<MessageRecord> base = [] {
    std::vector<MessageRecord> out = commitRecords();
    for (auto& r : out) r.finalCode = 0;
    return out;
  }();
  std::vector<MessageRecord> records(base.begin(), base.begin() + 20'000);
  for (auto& r : records) r.callId += "-hop" + std::to_string(state.thread_index());
  constexpr std::uint32_t kBatch = 1000;
  std::unique_ptr<sipwarden::archive::Store> store;
  std::uint32_t next = 0;
  for (auto _ : state) {
    if (!store) {
      state.PauseTiming();
      store = sipwarden::archive::openStore(
          url, {30 * 60 * 1000, 0, "bench-hop-" + std::to_string(state.thread_index())});
      state.ResumeTiming();
    }
    std::vector<const MessageRecord*> batch;
    for (std::uint32_t i = next; i < next + kBatch; ++i) batch.push_back(&records[i]);
    store->begin(batch);
    if (next >= kBatch) {
      for (std::uint32_t i = next - kBatch; i < next; ++i) {
        store->updateFinalCode(records[i].callId, records[i].cseq, records[i].sender, 200);
      }
    }
    store->insertMessages(batch);  // as the writer does
    store->commit();
    next += kBatch;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(next));
}
BENCHMARK(postgresCommitRows)->Iterations(20)->Threads(1)->Threads(2)->UseRealTime()->Unit(benchmark::kMillisecond);

constexpr std::uint32_t kLargeArchive = 1'000'000;

Store& largeArchive() {
  static std::unique_ptr<Store> store = [] {
    const std::string path = (std::filesystem::temp_directory_path() / "sipwarden-bench-1m.db").string();
    auto opened = std::make_unique<Store>(path);
    if (opened->messageCount() < kLargeArchive) {
      const auto words = vocabulary();
      std::mt19937 random(11);
      for (std::uint32_t i = static_cast<std::uint32_t>(opened->messageCount()); i < kLargeArchive;) {
        opened->begin();
        for (int j = 0; j < 5000 && i < kLargeArchive; ++j) opened->insertMessage(makeRecord(i++, random, words));
        opened->commit();
      }
      sqlite3_exec(opened->handle(), "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
    }
    std::fprintf(stderr, "1M archive: %.0f bytes per message\n",
                 static_cast<double>(std::filesystem::file_size(path)) / kLargeArchive);
    return opened;
  }();
  return *store;
}

void query(benchmark::State& state, const char* sql, const std::vector<std::string>& arguments) {
  Store& store = largeArchive();
  sqlite3_stmt* statement = nullptr;
  sqlite3_prepare_v2(store.handle(), sql, -1, &statement, nullptr);
  std::size_t pick = 0;
  std::int64_t rows = 0;
  for (auto _ : state) {
    sqlite3_reset(statement);
    sqlite3_bind_text(statement, 1, arguments[pick % arguments.size()].c_str(), -1, SQLITE_TRANSIENT);
    ++pick;
    while (sqlite3_step(statement) == SQLITE_ROW) ++rows;
  }
  sqlite3_finalize(statement);
  state.counters["rows_per_query"] = static_cast<double>(rows) / static_cast<double>(state.iterations());
}

void ftsTwoWords(benchmark::State& state) {
  const auto words = vocabulary();
  std::vector<std::string> queries;
  for (std::size_t i = 200; i < 1800; i += 97) queries.push_back(words[i] + " " + words[(i * 13) % 1000 + 100]);
  query(state,
        "SELECT m.id, m.time_ms, m.sender, m.text FROM messages_fts f JOIN messages m ON m.id = f.rowid "
        "WHERE messages_fts MATCH ?1 ORDER BY m.time_ms DESC LIMIT 100",
        queries);
}
BENCHMARK(ftsTwoWords)->Unit(benchmark::kMillisecond);

void participantLast100(benchmark::State& state) {
  std::vector<std::string> users;
  for (int i = 0; i < 5000; i += 173) users.push_back("user" + std::to_string(i) + "@example.com");
  query(state,
        "SELECT id, time_ms, text FROM messages WHERE sender = ?1 UNION ALL "
        "SELECT id, time_ms, text FROM messages WHERE recipient = ?1 ORDER BY 2 DESC LIMIT 100",
        users);
}
BENCHMARK(participantLast100)->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  sipwarden::archive::tuneSqliteForProcess();  // as sipwarden's main does
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
