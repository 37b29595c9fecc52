// The transaction table alone (manual clock, no SIP): indexes, the timer
// queue with one entry per transaction, compaction into Linger records,
// their expiry side by side, and keys a newer transaction took over.
#include <gtest/gtest.h>

#include <Poco/Net/SocketAddress.h>

#include "proxy/transaction_table.h"

namespace sipwarden::proxy {
namespace {

using transport::Protocol;
using transport::Target;

const Target kCaller{Protocol::Udp, Poco::Net::SocketAddress("192.0.2.10", 5060), 0};
const Target kNextHop{Protocol::Udp, Poco::Net::SocketAddress("192.0.2.20", 5060), 0};

class TransactionTableTest : public ::testing::Test {
 protected:
  Cell& add(const std::string& serverKey) {
    auto cell = std::make_unique<Cell>();
    cell->serverKey = serverKey;
    cell->replyTarget = kCaller;
    return table.add(std::move(cell));
  }
  // A cell whose request was answered and forwarded: both sides finished
  // and lingering, as after a final response over UDP.
  Cell& answered(const std::string& serverKey, const std::string& clientKey, Millis serverLinger,
                 Millis clientLinger) {
    Cell& cell = add(serverKey);
    cell.candidates = {kNextHop};
    cell.clientKey = clientKey;
    table.indexClient(cell, clientKey);
    cell.ended = true;
    cell.lastResponse = "SIP/2.0 404 Not Found\r\n\r\n";
    cell.ackBytes = "ACK sip:x SIP/2.0\r\n\r\n";
    cell.serverState = ServerState::Completed;
    cell.clientState = ClientState::Completed;
    table.schedule(cell, TimerId::ServerLinger, serverLinger);
    table.schedule(cell, TimerId::ClientLinger, clientLinger);
    return cell;
  }
  std::vector<std::uint64_t> advance(Millis by) {
    clock.advance(by);
    std::vector<std::uint64_t> fired;
    table.runDue([&](Cell& cell) {
      fired.push_back(cell.id);
      cell.deadlines = {};
    });
    return fired;
  }

  ManualClock clock;
  TransactionTable table{clock};
};

TEST_F(TransactionTableTest, NewTransactionsGetIdsAndAreFoundByTheirServerKey) {
  Cell& first = add("b1|MESSAGE");
  Cell& second = add("b2|MESSAGE");
  EXPECT_NE(first.id, second.id);
  EXPECT_EQ(table.findServer("b1|MESSAGE"), &first);
  EXPECT_EQ(table.find(second.id), &second);
  EXPECT_EQ(table.findServer("b3|MESSAGE"), nullptr);
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(table.inFlightCount(), 2u);
}

TEST_F(TransactionTableTest, ACellWithBothSidesDoneIsErasedWithItsKeys) {
  Cell& cell = add("b1|MESSAGE");
  cell.clientKey = "c1|MESSAGE";
  table.indexClient(cell, cell.clientKey);
  cell.ended = true;
  cell.serverState = ServerState::Terminated;
  cell.clientState = ClientState::Terminated;
  table.eraseIfDone(cell);
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.findServer("b1|MESSAGE"), nullptr);
  EXPECT_EQ(table.findClient("c1|MESSAGE"), nullptr);
}

TEST_F(TransactionTableTest, AFinishedSideLeavesItsIndexAtOnce) {
  Cell& cell = add("b1|INVITE");
  cell.clientKey = "c1|INVITE";
  table.indexClient(cell, cell.clientKey);
  cell.clientState = ClientState::Calling;
  table.schedule(cell, TimerId::ClientTimeout, Millis(32000));
  cell.serverState = ServerState::Terminated;
  table.eraseIfDone(cell);
  EXPECT_EQ(table.findServer("b1|INVITE"), nullptr) << "a reused branch starts a new transaction";
  EXPECT_EQ(table.findClient("c1|INVITE"), &cell) << "the client side still runs";
}

TEST_F(TransactionTableTest, ALingeringCellBecomesACompactRecordThatStillAbsorbs) {
  Cell& cell = answered("b1|MESSAGE", "c1|MESSAGE", Millis(5000), Millis(5000));
  cell.request = nullptr;
  const std::size_t before = table.heldBufferBytes();
  table.eraseIfDone(cell);
  EXPECT_EQ(table.lingeringCount(), 1u);
  EXPECT_EQ(table.findServer("b1|MESSAGE"), nullptr);
  const Linger* server = table.findLingeringServer("b1|MESSAGE");
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(server->lastResponse(), "SIP/2.0 404 Not Found\r\n\r\n");
  EXPECT_EQ(server->replyTarget.address, kCaller.address);
  const Linger* client = table.findLingeringClient("c1|MESSAGE");
  ASSERT_EQ(client, server);
  EXPECT_EQ(client->ackBytes(), "ACK sip:x SIP/2.0\r\n\r\n");
  ASSERT_NE(client->downstream, nullptr);
  EXPECT_EQ(client->downstream->address, kNextHop.address);
  EXPECT_LT(table.heldBufferBytes(), before);
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(table.inFlightCount(), 0u);
}

TEST_F(TransactionTableTest, EachSideOfALingeringRecordExpiresOnItsOwnDeadline) {
  table.eraseIfDone(answered("b1|MESSAGE", "c1|MESSAGE", Millis(5000), Millis(2000)));
  EXPECT_TRUE(advance(Millis(1999)).empty());
  EXPECT_NE(table.findLingeringClient("c1|MESSAGE"), nullptr);
  EXPECT_TRUE(advance(Millis(1)).empty()) << "records expire inside the table, not through fire";
  EXPECT_EQ(table.findLingeringClient("c1|MESSAGE"), nullptr);
  EXPECT_NE(table.findLingeringServer("b1|MESSAGE"), nullptr);
  EXPECT_EQ(table.lingeringCount(), 1u);
  advance(Millis(3000));
  EXPECT_EQ(table.findLingeringServer("b1|MESSAGE"), nullptr);
  EXPECT_EQ(table.size(), 0u);
}

TEST_F(TransactionTableTest, ARetransmittedTwoHundredKeepsTheServerSideLonger) {
  table.eraseIfDone(answered("b1|INVITE", "c1|INVITE", Millis(5000), Millis(5000)));
  advance(Millis(4000));
  Linger* linger = table.findLingeringServer("b1|INVITE");
  ASSERT_NE(linger, nullptr);
  table.extendServerLinger(*linger, Millis(5000));
  advance(Millis(2000));
  EXPECT_NE(table.findLingeringServer("b1|INVITE"), nullptr);
  EXPECT_EQ(table.findLingeringClient("c1|INVITE"), nullptr);
  advance(Millis(3000));
  EXPECT_EQ(table.size(), 0u);
}

TEST_F(TransactionTableTest, CompactionLeavesAKeyANewerTransactionTookOver) {
  Cell& old = answered("b1|MESSAGE", "c1|MESSAGE", Millis(5000), Millis(5000));
  // The caller reused the branch: the server side of the old cell ended
  // first, and a new transaction took the key.
  old.serverState = ServerState::Terminated;
  old.deadline(TimerId::ServerLinger).reset();
  table.eraseIfDone(old);
  Cell& reused = add("b1|MESSAGE");
  EXPECT_EQ(table.findServer("b1|MESSAGE"), &reused);
  EXPECT_EQ(table.findLingeringServer("b1|MESSAGE"), nullptr);
  EXPECT_NE(table.findLingeringClient("c1|MESSAGE"), nullptr);
}

TEST_F(TransactionTableTest, ACellWithWorkLeftIsNotCompacted) {
  Cell& cell = answered("b1|INVITE", "c1|INVITE", Millis(5000), Millis(5000));
  table.schedule(cell, TimerId::ServerRetransmit, Millis(500));  // Timer G still resends the final
  table.eraseIfDone(cell);
  EXPECT_EQ(table.lingeringCount(), 0u);
  EXPECT_EQ(table.findServer("b1|INVITE"), &cell);
  Cell& notEnded = answered("b2|INVITE", "c2|INVITE", Millis(5000), Millis(5000));
  notEnded.ended = false;  // the filters were not told the outcome yet
  table.eraseIfDone(notEnded);
  EXPECT_EQ(table.findServer("b2|INVITE"), &notEnded);
}

TEST_F(TransactionTableTest, DueCellsFireInDeadlineOrderAndNeverEarly) {
  Cell& late = add("late|MESSAGE");
  Cell& early = add("early|MESSAGE");
  table.schedule(late, TimerId::ClientTimeout, Millis(300));
  table.schedule(early, TimerId::ClientTimeout, Millis(100));
  EXPECT_TRUE(advance(Millis(99)).empty());
  EXPECT_EQ(advance(Millis(1)), std::vector<std::uint64_t>{early.id});
  EXPECT_EQ(advance(Millis(500)), std::vector<std::uint64_t>{late.id});
}

TEST_F(TransactionTableTest, OneQueueEntryPerTransactionAtItsEarliestDeadline) {
  Cell& cell = add("b1|MESSAGE");
  table.schedule(cell, TimerId::ClientTimeout, Millis(32000));
  table.schedule(cell, TimerId::ClientRetransmit, Millis(500));
  table.schedule(cell, TimerId::ServerTimeout, Millis(32000));
  table.schedule(cell, TimerId::ClientLinger, Millis(5000));
  EXPECT_EQ(table.queuedTimerCount(), 2u) << "only an earlier deadline adds an entry";
  // Firing at 500 ms re-arms the cell at its next deadline (5 s), once.
  clock.advance(Millis(500));
  int fired = 0;
  table.runDue([&](Cell& due) {
    ++fired;
    due.deadline(TimerId::ClientRetransmit).reset();
  });
  EXPECT_EQ(fired, 1);
  EXPECT_EQ(table.timeUntilNext(Millis(60000)), Millis(4500));
}

TEST_F(TransactionTableTest, TheWaitUntilTheNextTimerRoundsUpAndIsCapped) {
  EXPECT_EQ(table.timeUntilNext(Millis(100)), Millis(100)) << "nothing queued";
  Cell& cell = add("b1|MESSAGE");
  table.schedule(cell, TimerId::ClientTimeout, Millis(250));
  EXPECT_EQ(table.timeUntilNext(Millis(100)), Millis(100));
  EXPECT_EQ(table.timeUntilNext(Millis(1000)), Millis(250));
  clock.advance(Millis(300));
  EXPECT_EQ(table.timeUntilNext(Millis(1000)), Millis(0)) << "overdue: no negative waits";
}

TEST_F(TransactionTableTest, SelectNamesLiveCellsByIdSoActingOnOneMayEraseOthers) {
  Cell& a = add("a|MESSAGE");
  add("b|MESSAGE");
  a.clientState = ClientState::Calling;
  const auto ids = table.select([](const Cell& cell) { return cell.clientState == ClientState::Calling; });
  EXPECT_EQ(ids, std::vector<std::uint64_t>{a.id});
}

}  // namespace
}  // namespace sipwarden::proxy
