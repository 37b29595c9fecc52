"""The PostgreSQL archive through running hops: two hops sharing one
database (SIPp traffic split between them, one conversation, every message
once, a chain per hop), the same query, API and console tests as on SQLite
(on a fixture archive moved with `archive migrate`), tamper detection, and
refusals with a clear reason."""
import base64
import json
import os
import subprocess
import tempfile

import time

from harness import (BINARY, AnsweringPeer, HopTestCase, Sipp, Sipwarden, free_port, header, message_request,
                     status_of)
from pg_support import SCRIPT, fresh_database, psql, scalar
from query_support import QueryTestCase
from test_console import Console
from test_archive import AWKWARD, bytes_message
from test_query import AdminServer, QueryCommandLine


def run_cli(*args):
    return subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=120)


class SharedArchive(HopTestCase):
    def setUp(self):
        super().setUp()
        self.url = fresh_database()

    def config(self, mode="reject", **archive):
        settings = {"url": self.url, "batch_ms": 5}
        settings.update(archive)
        return json.dumps({"archive": settings,
                           "plugins": [{"plugin": "call_log"}, {"plugin": "archive", "on_archive_failure": mode}]})

    def test_two_hops_archive_one_conversation_with_every_message_once(self):
        uas_port = free_port()
        self.sipp_background("uas_message.xml", port=uas_port)
        hops = [self.hop("--upstream", f"127.0.0.1:{uas_port}", config=self.config()) for _ in range(2)]
        # Both SIPp clients send as sipp@127.0.0.1 to service@127.0.0.1: one
        # pager conversation whose messages alternate between the hops.
        runs = [Sipp("uac_message.xml", target=f"127.0.0.1:{hop.port}", calls=150, rate=150).start()
                for hop in hops]
        for run in runs:
            self.cleanups.append(run.stop)
            run.output = run.process.communicate(timeout=60)[0].decode("utf-8", "replace")
            self.assertEqual(run.count("Successful call"), 150, run.output[-2000:])
        for hop in hops:
            self.assertEqual(hop.stop(), 0, hop.output()[-2000:])
        self.assertEqual(scalar(self.url, "SELECT count(*) FROM messages"), 300)
        self.assertEqual(scalar(self.url, "SELECT count(DISTINCT call_id) FROM messages"), 300)
        per_hop = psql(self.url, "SELECT hop_id, count(*) FROM messages GROUP BY hop_id ORDER BY hop_id")
        self.assertEqual(sorted(int(count) for _, count in per_hop), [150, 150], per_hop)
        self.assertEqual(scalar(self.url, "SELECT count(*) FROM conversations"), 1)
        items = json.loads(run_cli("query", "messages", "--db", self.url, "--format", "json", "--limit", "1000").stdout)
        self.assertEqual([m["final_code"] for m in items["items"]], [200] * 300)
        verify = run_cli("archive", "verify", "--db", self.url)
        self.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)
        self.assertIn("OK, 300 messages, 2 chains intact; 300 final codes sealed", verify.stdout)
        conversations = json.loads(run_cli("query", "conversations", "--db", self.url, "--format", "json").stdout)
        self.assertEqual([c["messages"] for c in conversations["items"]], [300])

    def test_bodies_are_kept_byte_for_byte_and_sealed(self):
        upstream = AnsweringPeer()
        self.cleanups.append(upstream.stop)
        hop = self.hop("--upstream", f"127.0.0.1:{upstream.port}", config=self.config())
        caller = self.peer()
        image = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(range(256))
        for request in (bytes_message(caller.port, "pg-raw-1", AWKWARD, "text/plain;charset=utf-8"),
                        bytes_message(caller.port, "pg-image-1", image, "image/png")):
            caller.send(request, hop.port)
            self.assertEqual(status_of(caller.recv(timeout=3))[0], 200)
        self.assertEqual(hop.stop(), 0, hop.output()[-2000:])
        stored = dict(psql(self.url, "SELECT call_id, encode(raw_body, 'hex') FROM messages"))
        self.assertEqual(bytes.fromhex(stored["pg-raw-1"]), AWKWARD)
        self.assertEqual(bytes.fromhex(stored["pg-image-1"]), image)
        text = psql(self.url, "SELECT text FROM messages WHERE call_id = 'pg-raw-1'")[0][0]
        self.assertIn("\ufffd", text)
        verify = run_cli("archive", "verify", "--db", self.url)
        self.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)
        listed = subprocess.run([BINARY, "query", "messages", "--db", self.url, "--unreadable", "--format", "json"],
                                capture_output=True, timeout=60)
        items = json.loads(listed.stdout.decode("utf-8", errors="strict"))["items"]
        # Both: an image gives no text, and bytes invalid in the declared
        # charset are unreadable to the SDK's reader.
        self.assertEqual({m["call_id"]: base64.b64decode(m["raw_body_base64"]) for m in items},
                         {"pg-image-1": image, "pg-raw-1": AWKWARD})
        self.assertTrue(all(m["unreadable"] for m in items))
        psql(self.url, "UPDATE messages SET raw_body = '\\x00'::bytea WHERE call_id = 'pg-raw-1'")
        self.assertEqual(run_cli("archive", "verify", "--db", self.url).returncode, 3)

    def test_tampering_is_found_in_the_hops_chain(self):
        uas_port = free_port()
        self.sipp_background("uas_message.xml", port=uas_port)
        hop = self.hop("--upstream", f"127.0.0.1:{uas_port}", config=self.config(hop_id="edge-1"))
        run = Sipp("uac_message.xml", target=f"127.0.0.1:{hop.port}", calls=20, rate=100).run()
        self.assertEqual(run.count("Successful call"), 20, run.output[-2000:])
        hop.stop()
        psql(self.url, "UPDATE messages SET text = 'nothing to see' WHERE id = 7")
        verify = run_cli("archive", "verify", "--db", self.url)
        self.assertEqual(verify.returncode, 3, verify.stdout + verify.stderr)
        self.assertIn("TAMPERED at row 7", verify.stdout)
        self.assertIn("hop 'edge-1'", verify.stdout)

    def test_a_second_hop_with_the_same_hop_id_is_refused(self):
        self.hop(config=self.config(hop_id="edge-1"))
        second = Sipwarden(config=self.config(hop_id="edge-1"))
        with self.assertRaises(RuntimeError) as refused:
            second.start()
        self.assertIn("another sipwarden is writing this archive as hop 'edge-1'", str(refused.exception))

    def test_an_unreachable_server_is_refused_at_start(self):
        dead = f"postgresql://sipwarden@127.0.0.1:{free_port()}/nowhere"
        check = run_cli("check-config", self._write(json.dumps({"archive": {"url": dead}})))
        self.assertEqual(check.returncode, 0, "the config itself is valid: " + check.stdout + check.stderr)
        warden = Sipwarden(config=json.dumps({"archive": {"url": dead}, "plugins": [{"plugin": "archive"}]}))
        with self.assertRaises(RuntimeError) as refused:
            warden.start()
        self.assertIn("cannot connect to " + dead, str(refused.exception))
        bad = run_cli("check-config", self._write(json.dumps({"archive": {"url": "mysql://x/y"}})))
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("archive.url: unknown archive scheme 'mysql'", bad.stdout + bad.stderr)

    def test_reject_mode_answers_503_while_the_server_is_down_and_resumes_after(self):
        # A server of this test's own, since it is stopped halfway.
        directory = tempfile.mkdtemp(prefix="sipwarden-pg-")
        url = subprocess.run([SCRIPT, "start", directory], check=True, capture_output=True, text=True,
                             timeout=60).stdout.strip()
        self.cleanups.append(lambda: subprocess.run([SCRIPT, "stop", directory], timeout=60))
        upstream = AnsweringPeer()
        self.cleanups.append(upstream.stop)
        self.url = url
        warden = self.hop("--upstream", f"127.0.0.1:{upstream.port}", config=self.config("reject"))
        caller = self.peer()
        answers = {}

        def send(call_id):
            caller.send(message_request(caller.port, call_id=call_id, body="text of " + call_id), warden.port)
            reply = caller.recv(timeout=10)
            answers[call_id] = status_of(reply)[0]
            return reply

        for i in range(5):
            self.assertEqual(status_of(send(f"before-{i}"))[0], 200)
        subprocess.run([SCRIPT, "stop", directory], check=True, timeout=60)
        refused = send("while-down")
        self.assertEqual(status_of(refused)[0], 503, refused)
        self.assertIsNotNone(header(refused, "Retry-After"), refused)
        subprocess.run([SCRIPT, "resume", directory], check=True, capture_output=True, timeout=60)
        deadline = time.time() + 20
        attempt = 0
        while time.time() < deadline and answers.get(f"after-{attempt - 1}") != 200:
            send(f"after-{attempt}")
            attempt += 1
            time.sleep(0.2)
        self.assertEqual(answers[f"after-{attempt - 1}"], 200, answers)
        self.assertEqual(warden.stop(), 0)
        delivered = sorted(call_id for call_id, code in answers.items() if code == 200)
        archived = sorted(row[0] for row in psql(url, "SELECT call_id FROM messages"))
        self.assertEqual(archived, delivered, "exactly the delivered messages are archived")
        self.assertEqual(run_cli("archive", "verify", "--db", url).returncode, 0)
        self.assertIn("archive write failed", warden.output())

    def test_kill_9_under_load_in_reject_mode_loses_nothing_that_reached_the_next_hop(self):
        delivered = self.kill_under_load(self.config("reject", batch_rows=50, batch_ms=50))
        archived = {row[0] for row in psql(self.url, "SELECT call_id FROM messages")}
        self.assertGreater(len(delivered), 100)
        self.assertEqual(delivered - archived, set())
        # The killed hop's open transaction died with its connection: the
        # chain ends at its last commit.
        self.assertEqual(run_cli("archive", "verify", "--db", self.url).returncode, 0)

    def _write(self, text):
        handle, path = tempfile.mkstemp(suffix=".json")
        with os.fdopen(handle, "w") as out:
            out.write(text)
        self.cleanups.append(lambda: os.remove(path))
        return path


class OnPostgres(QueryTestCase):
    """The SQLite fixture, moved into a fresh PostgreSQL database with
    `archive migrate`; the inherited tests then run against the URL."""

    def setUp(self):
        super().setUp()
        url = fresh_database()
        moved = run_cli("archive", "migrate", "--from", "sqlite://" + self.db, "--to", url)
        self.assertEqual(moved.returncode, 0, moved.stdout + moved.stderr)
        self.assertIn("verified: 31 messages", moved.stdout)
        self.db = url


class QueryCommandLineOnPostgres(QueryCommandLine, OnPostgres):
    pass


class AdminServerOnPostgres(AdminServer, OnPostgres):
    pass


class ConsoleOnPostgres(Console, OnPostgres):  # Console.setUp starts the hop: after the move
    pass


del QueryCommandLine, AdminServer, Console  # run once, in their own modules
