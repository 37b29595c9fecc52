"""The archive through the running hop: SIPp traffic in both failure modes,
a full disk, kill -9 under load, blocked messages, and tamper detection,
counted against a real SQLite file."""
import base64
import email
import email.policy
import json
import os
import sqlite3
import subprocess
import tempfile
import time

from harness import (BINARY, FINAL_CODE, AnsweringPeer, HopTestCase, Sipp, free_port, header, message_request, status_of)


def rows(path, where="1=1"):
    with sqlite3.connect(path) as db:
        return db.execute(f"SELECT count(*) FROM messages WHERE {where}").fetchone()[0]


def call_ids(path):
    with sqlite3.connect(path) as db:
        return {row[0] for row in db.execute("SELECT call_id FROM messages")}


class ArchiveTestCase(HopTestCase):
    def setUp(self):
        super().setUp()
        self.dir = tempfile.mkdtemp(prefix="sipwarden-archive-")
        self.db = os.path.join(self.dir, "archive.db")

    def config(self, mode, plugins=(), **archive):
        settings = {"path": self.db, "batch_ms": 5}
        settings.update(archive)
        chain = list(plugins) + [{"plugin": "archive", "on_archive_failure": mode}]
        return json.dumps({"archive": settings, "plugins": chain})

    def verify(self):
        return subprocess.run([BINARY, "archive", "verify", "--db", self.db], capture_output=True, text=True,
                              timeout=60)

    def archive_messages(self, call_id, bodies):
        """One MESSAGE per body (Call-IDs call_id-0, -1, ...) through a hop
        archiving in deliver mode, each answered; the hop stopped after."""
        warden, _ = self.answered_hop(config=self.config("deliver"))
        caller = self.peer()
        for i, body in enumerate(bodies):
            caller.send(message_request(caller.port, call_id=f"{call_id}-{i}", body=body), warden.port)
            caller.recv()
        warden.stop()


class ArchiveModes(ArchiveTestCase):
    def run_traffic(self, mode, calls=300):
        uas_port = free_port()
        self.sipp_background("uas_message.xml", port=uas_port)
        warden = self.hop("--upstream", f"127.0.0.1:{uas_port}", config=self.config(mode))
        run = Sipp("uac_message.xml", target=f"127.0.0.1:{warden.port}", calls=calls, rate=200).run()
        self.assertEqual(run.count("Successful call"), calls, run.output[-2000:])
        self.assertEqual(warden.stop(), 0)
        self.assertEqual(rows(self.db), calls, warden.output()[-2000:])
        result = self.verify()
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn(f"OK, {calls} messages", result.stdout)
        with sqlite3.connect(self.db) as db:
            self.assertEqual(db.execute(f"SELECT count(*) FROM messages m WHERE {FINAL_CODE} = 200").fetchone()[0], calls)

    def test_deliver_mode_archives_every_message_once(self):
        self.run_traffic("deliver")

    def test_reject_mode_archives_before_forwarding(self):
        self.run_traffic("reject")

    def test_blocked_message_is_archived_as_blocked(self):
        upstream = self.peer()
        warden = self.hop("--upstream", f"127.0.0.1:{upstream.port}", config=self.config("reject", plugins=[
            {"plugin": "probe", "action": "reply", "code": 403, "reason": "Blocked", "tag": "rule=probe:test"}]))
        caller = self.peer()
        caller.send(message_request(caller.port, call_id="blocked-1", body="secret plans"), warden.port)
        self.assertEqual(status_of(caller.recv())[0], 403)
        warden.stop()
        with sqlite3.connect(self.db) as db:
            verdict, text, code, rules = db.execute(
                f"SELECT verdict, text, {FINAL_CODE}, rules FROM messages m WHERE call_id = 'blocked-1'").fetchone()
        self.assertEqual((verdict, text, code, rules), ("blocked", "secret plans", 403, "probe:test"))
        with sqlite3.connect(self.db) as db:
            self.assertEqual(db.execute("SELECT raw_body, received_content_type FROM messages").fetchone(),
                             (b"secret plans", "text/plain"))

    def test_modified_message_keeps_its_original_text(self):
        warden, _ = self.answered_hop(config=self.config("deliver", plugins=[
            {"plugin": "probe", "append_body": " [checked]"}]))
        caller = self.peer()
        caller.send(message_request(caller.port, call_id="modified-1", body="hello"), warden.port)
        self.assertEqual(status_of(caller.recv())[0], 200)
        warden.stop()
        with sqlite3.connect(self.db) as db:
            self.assertEqual(db.execute("SELECT verdict, text, original_text FROM messages").fetchone(),
                             ("modified", "hello [checked]", "hello"))

    def test_retransmission_is_archived_once(self):
        warden, _ = self.answered_hop(config=self.config("reject"))
        caller = self.peer()
        request = message_request(caller.port, call_id="retrans-archive")
        for _ in range(3):
            caller.send(request, warden.port)
        time.sleep(0.5)
        warden.stop()
        self.assertEqual(rows(self.db), 1)


class ArchiveFailure(ArchiveTestCase):
    def test_full_disk_in_reject_mode_answers_503_and_archives_what_was_delivered(self):
        warden, upstream = self.answered_hop(config=self.config("reject", max_pages=40, batch_rows=1))
        caller = self.peer()
        codes = {}
        for i in range(400):
            caller.send(message_request(caller.port, call_id=f"full-{i}", body="x" * 400), warden.port)
            answer = caller.recv(timeout=3)
            code, _ = status_of(answer)
            codes[f"full-{i}"] = code
            if code == 503:
                self.assertEqual(header(answer, "Retry-After"), "30")
                self.assertIn("archive", header(answer, "Warning"))
        warden.stop()
        delivered = {call for call, code in codes.items() if code == 200}
        rejected = {call for call, code in codes.items() if code == 503}
        self.assertTrue(delivered and rejected, codes)
        self.assertEqual(call_ids(self.db), delivered, "every delivered message is archived, no rejected one")
        self.assertEqual(upstream.call_ids, delivered, "a rejected message never reached the next hop")

    def locked_by_another_process(self, mode):
        """Messages sent while another process holds the archive's write
        lock for 3 s, then after it lets go: (code per Call-ID, archived)."""
        upstream = AnsweringPeer()
        self.cleanups.append(upstream.stop)
        settings = json.loads(self.config(mode, batch_rows=1))
        settings["timers"] = {"t1_ms": 100}  # a transaction waits 64 x T1 = 6.4 s for its commit
        warden = self.hop("--upstream", f"127.0.0.1:{upstream.port}", config=json.dumps(settings))
        caller = self.peer()
        caller.send(message_request(caller.port, call_id="before-lock"), warden.port)
        self.assertEqual(status_of(caller.recv(timeout=3))[0], 200)
        locker = sqlite3.connect(self.db, timeout=5, isolation_level=None)
        self.cleanups.append(locker.close)
        locker.execute("BEGIN EXCLUSIVE")
        codes = {}
        for i in range(5):
            caller.send(message_request(caller.port, call_id=f"locked-{i}"), warden.port)
            codes[f"locked-{i}"] = status_of(caller.recv(timeout=15))[0]
            time.sleep(0.3)
        time.sleep(max(0.0, 3.0 - 5 * 0.3))
        locker.execute("COMMIT")
        locker.close()
        deadline = time.time() + 60  # refused rows retry after a pause; recovery must come by itself
        recovered = False
        attempt = 0
        while time.time() < deadline and not recovered:
            caller.send(message_request(caller.port, call_id=f"after-{attempt}"), warden.port)
            code = status_of(caller.recv(timeout=15))[0]
            codes[f"after-{attempt}"] = code
            recovered = code == 200 and mode == "reject" or attempt >= 3
            attempt += 1
            time.sleep(0.5)
        warden.stop()
        return codes, call_ids(self.db), upstream.call_ids

    def test_locked_database_in_reject_mode_refuses_or_waits_and_recovers(self):
        codes, archived, delivered = self.locked_by_another_process("reject")
        self.assertTrue(set(codes.values()) <= {200, 503}, codes)
        answered = {call for call, code in codes.items() if code == 200}
        self.assertTrue(answered <= archived, "every message answered 200 is archived")
        self.assertEqual(delivered - {"before-lock"}, answered, "a refused message never reached the next hop")
        self.assertEqual(archived - {"before-lock"}, answered, "a refused message is never archived")
        self.assertEqual(codes[max((c for c in codes if c.startswith("after-")), key=lambda c: int(c[6:]))], 200)

    def test_locked_longer_than_a_transaction_waits_archives_no_refused_message(self):
        """The lock outlasts 64 x T1 (6.4 s here) and SQLite's 5 s busy wait:
        senders are answered 503 while their rows still sit in the writer's
        queue. When the lock goes, those rows must not be written (before
        the fix they were, as delivered, with final_code 503)."""
        upstream = AnsweringPeer()
        self.cleanups.append(upstream.stop)
        settings = json.loads(self.config("reject", batch_rows=1))
        settings["timers"] = {"t1_ms": 100}
        warden = self.hop("--upstream", f"127.0.0.1:{upstream.port}", config=json.dumps(settings))
        caller = self.peer()
        locker = sqlite3.connect(self.db, timeout=5, isolation_level=None)
        self.cleanups.append(locker.close)
        locker.execute("BEGIN EXCLUSIVE")
        locked_at = time.time()
        sent = [f"long-lock-{i}" for i in range(5)]
        for call_id in sent:  # all in flight at once, queued behind the first
            caller.send(message_request(caller.port, call_id=call_id), warden.port)
            time.sleep(0.3)
        codes = {}
        while len(codes) < len(sent):
            answer = caller.recv(timeout=15)
            codes[header(answer, "Call-ID")] = status_of(answer)[0]
        self.assertEqual(set(codes.values()), {503}, codes)
        time.sleep(max(0.0, locked_at + 8.0 - time.time()))
        locker.execute("COMMIT")
        locker.close()
        deadline = time.time() + 30
        attempt = 0
        while time.time() < deadline:
            caller.send(message_request(caller.port, call_id=f"after-long-{attempt}"), warden.port)
            if status_of(caller.recv(timeout=15))[0] == 200:
                break
            attempt += 1
            time.sleep(0.5)
        self.assertEqual(warden.stop(), 0)
        self.assertEqual(call_ids(self.db) & set(sent), set(), "no refused message is archived")
        self.assertEqual(upstream.call_ids & set(sent), set(), "no refused message reached the next hop")
        self.assertEqual(rows(self.db, f"call_id = 'after-long-{attempt}'"), 1)
        result = self.verify()
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

    def test_locked_database_in_deliver_mode_delivers_and_archives_after(self):
        codes, archived, delivered = self.locked_by_another_process("deliver")
        self.assertEqual(set(codes.values()), {200}, codes)
        self.assertEqual(delivered - {"before-lock"}, set(codes))
        self.assertEqual(archived - {"before-lock"}, set(codes), "rows queued while locked are written afterwards")

    def kill_under_load(self, mode, batch_rows):
        delivered = super().kill_under_load(self.config(mode, batch_rows=batch_rows, batch_ms=50))
        return delivered, call_ids(self.db)

    def test_kill_9_in_reject_mode_loses_nothing_that_reached_the_next_hop(self):
        delivered, archived = self.kill_under_load("reject", batch_rows=50)
        self.assertGreater(len(delivered), 100)
        self.assertEqual(delivered - archived, set())
        self.assertEqual(self.verify().returncode, 0)

    def test_kill_9_in_deliver_mode_loses_at_most_the_open_batch(self):
        delivered, archived = self.kill_under_load("deliver", batch_rows=50)
        self.assertGreater(len(delivered), 100)
        self.assertLessEqual(len(delivered - archived), 50 + 50, "one open batch and one being written")
        self.assertEqual(self.verify().returncode, 0)


class CallLog(ArchiveTestCase):
    def calls(self, uas, uac, calls):
        uas_port = free_port()
        self.sipp_background(uas, port=uas_port)
        config = json.dumps({"archive": {"path": self.db, "batch_ms": 5},
                             "plugins": [{"plugin": "call_log"}, {"plugin": "archive"}]})
        warden = self.hop("--upstream", f"127.0.0.1:{uas_port}", config=config)
        run = Sipp(uac, target=f"127.0.0.1:{warden.port}", calls=calls, rate=20).run()
        self.assertEqual(run.count("Successful call"), calls, run.output[-2000:])
        self.assertEqual(warden.stop(), 0)
        with sqlite3.connect(self.db) as db:
            return db.execute("SELECT disposition, ended_by, media, ringing_ms IS NOT NULL, duration_ms >= 0 "
                              "FROM calls").fetchall()

    def test_answered_calls_get_one_record_each(self):
        records = self.calls("uas_invite.xml", "uac_invite.xml", 10)
        self.assertEqual(records, [("answered", "caller", "audio", 1, 1)] * 10)

    def test_cancelled_calls(self):
        records = self.calls("uas_cancel.xml", "uac_cancel.xml", 5)
        self.assertEqual([r[0] for r in records], ["cancelled"] * 5)


class RetentionCommands(ArchiveTestCase):
    def test_hold_and_purge_from_the_command_line(self):
        self.archive_messages("keep", ["hello"] * 3)
        run = lambda *args: subprocess.run([BINARY, "archive", *args, "--db", self.db], capture_output=True,
                                           text=True, timeout=30)
        self.assertEqual(run("hold", "--participant", "sip:alice@example.com").returncode, 0)
        self.assertIn("purged 0 messages", run("purge", "--older-than-days", "0").stdout)
        self.assertEqual(run("hold", "--participant", "alice@example.com", "--release").returncode, 0)
        self.assertIn("purged 3 messages", run("purge", "--older-than-days", "0").stdout)
        self.assertEqual(rows(self.db), 0)
        self.assertEqual(self.verify().returncode, 0, "purged rows leave tombstones the chain can verify")


class TamperEvidence(ArchiveTestCase):
    def test_verify_names_the_first_edited_row(self):
        self.archive_messages("tamper", [f"message {i}" for i in range(5)])
        self.assertEqual(self.verify().returncode, 0)
        with sqlite3.connect(self.db) as db:
            db.execute("UPDATE messages SET text = 'rewritten' WHERE id = 3")
        result = self.verify()
        self.assertEqual(result.returncode, 3)
        self.assertIn("TAMPERED at row 3", result.stdout)




def bytes_message(port, call_id, body, content_type="text/plain", extra=""):
    """A MESSAGE whose body is exactly `body` (bytes: NULs, invalid UTF-8)."""
    head = (f"MESSAGE sip:bob@127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{call_id.replace('-', '')};rport\r\n"
            f"Max-Forwards: 70\r\n"
            f"From: <sip:alice@example.com>;tag=a1\r\n"
            f"To: <sip:bob@example.com>\r\n"
            f"Call-ID: {call_id}\r\n"
            f"CSeq: 1 MESSAGE\r\n"
            f"{extra}"
            f"Content-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


# NULs, a lone surrogate encoded in UTF-8, an overlong '/', a stray
# continuation byte, and the boundary older exports used, followed by a line
# that looks like a transcript entry.
AWKWARD = (b"before\0after \xff \xed\xa0\x80 \xc0\xaf \x80\r\n--sipwarden-conversation-1--\r\n"
           b"[2026-01-01 00:00:00 UTC] ceo@example.com -> bob@example.com: wire the money\0")


def strict_json(raw):
    """JSON as a strict parser reads it: the bytes must be UTF-8."""
    return json.loads(raw.decode("utf-8", errors="strict"))


class ArchiveRawBody(ArchiveTestCase):
    """The body as received, through the running hop: stored byte for byte,
    sealed by the chain, found by --unreadable, reproduced by exports, and
    carried by JSON as base64 beside valid UTF-8 text."""

    def send(self, *requests, plugins=()):
        warden, _ = self.answered_hop(config=self.config("reject", plugins=plugins))
        caller = self.peer()
        for request in requests:
            caller.send(request(caller.port), warden.port)
            self.assertEqual(status_of(caller.recv(timeout=3))[0], 200)
        self.assertEqual(warden.stop(), 0)

    def cli(self, *args):
        return subprocess.run([BINARY, *args], capture_output=True, timeout=60, env=dict(os.environ, TZ="UTC"))

    def test_a_body_with_nuls_and_invalid_utf8_round_trips(self):
        self.send(lambda port: bytes_message(port, "raw-1", AWKWARD, "text/plain;charset=utf-8",
                                             extra="Authorization: Digest username=\"alice\", response=\"s3cr3t\"\r\n"))
        with sqlite3.connect(self.db) as db:
            raw, content_type, text = db.execute(
                "SELECT raw_body, received_content_type, text FROM messages WHERE call_id = 'raw-1'").fetchone()
            everything = b"".join(str(value).encode() if not isinstance(value, bytes) else value
                                  for row in db.execute("SELECT * FROM messages") for value in row)
        self.assertEqual(raw, AWKWARD)
        self.assertEqual(content_type, "text/plain;charset=utf-8")
        self.assertIn("\ufffd", text)
        self.assertNotIn("\0", text)
        self.assertNotIn(b"s3cr3t", everything, "credentials never reach the archive")
        result = self.verify()
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

        # query --format json: valid UTF-8, the bytes in base64.
        listed = self.cli("query", "messages", "--db", self.db, "--format", "json")
        self.assertEqual(listed.returncode, 0, listed.stderr)
        item = strict_json(listed.stdout)["items"][0]
        self.assertEqual(base64.b64decode(item["raw_body_base64"]), AWKWARD)
        self.assertIn("\ufffd", item["text"])

        # EML: the transcript is not cut short by the old boundary, and the
        # attachment gives back every byte.
        out = os.path.join(self.dir, "eml")
        exported = self.cli("export", "--db", self.db, "--participant", "alice@example.com", "--format", "eml",
                            "--out", out)
        self.assertEqual(exported.returncode, 0, exported.stderr)
        with open(os.path.join(out, "conversation-1.eml"), "rb") as eml_file:
            eml = email.message_from_binary_file(eml_file, policy=email.policy.default)
        self.assertTrue(eml.is_multipart())
        parts = list(eml.walk())
        plain = [p for p in parts if p.get_content_type() == "text/plain" and p.get_filename() is None]
        self.assertEqual(len(plain), 1)
        transcript = plain[0].get_payload(decode=True).decode("utf-8", errors="replace")
        self.assertIn("    | --sipwarden-conversation-1--", transcript)
        self.assertNotIn("\n[2026-01-01", transcript, "no forged transcript line")
        attachments = [p for p in parts if p.get("X-Sipwarden-Message-Id")]
        self.assertEqual(len(attachments), 1)
        self.assertEqual(attachments[0].get_payload(decode=True), AWKWARD)
        self.assertEqual(str(attachments[0]["X-Sipwarden-Content-Type"]), "text/plain;charset=utf-8")

        # JSON export: strict UTF-8 and the bytes again.
        out = os.path.join(self.dir, "json")
        self.assertEqual(self.cli("export", "--db", self.db, "--participant", "alice@example.com", "--format", "json",
                                  "--out", out).returncode, 0)
        with open(os.path.join(out, "conversation-1.json"), "rb") as json_file:
            transcript = strict_json(json_file.read())
        self.assertEqual(base64.b64decode(transcript["messages"][0]["raw_body_base64"]), AWKWARD)

        # An edited body is found.
        with sqlite3.connect(self.db) as db:
            db.execute("UPDATE messages SET raw_body = ? WHERE call_id = 'raw-1'", (b"harmless",))
        self.assertEqual(self.verify().returncode, 3)

    def test_the_body_is_kept_as_received_when_a_filter_changed_it(self):
        self.send(lambda port: bytes_message(port, "edited-1", b"hello"),
                  plugins=[{"plugin": "probe", "append_body": " [checked]"}])
        with sqlite3.connect(self.db) as db:
            self.assertEqual(db.execute("SELECT text, original_text FROM messages").fetchone(),
                             ("hello [checked]", "hello"))
            self.assertEqual(db.execute("SELECT raw_body FROM messages").fetchone()[0], b"hello")

    def test_a_message_without_text_is_archived_and_found_by_unreadable(self):
        image = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(range(256))
        self.send(lambda port: bytes_message(port, "image-1", image, "image/png"),
                  lambda port: bytes_message(port, "octets-1", b"\0\x01\x02\xff", "application/octet-stream"),
                  lambda port: bytes_message(port, "text-1", b"plain words"))
        with sqlite3.connect(self.db) as db:
            stored = dict(db.execute("SELECT call_id, raw_body FROM messages").fetchall())
        self.assertEqual(stored["image-1"], image)
        self.assertEqual(stored["octets-1"], b"\0\x01\x02\xff")
        self.assertEqual(self.verify().returncode, 0)
        listed = self.cli("query", "messages", "--db", self.db, "--unreadable", "--format", "json")
        self.assertEqual(listed.returncode, 0, listed.stderr)
        items = strict_json(listed.stdout)["items"]
        self.assertEqual(sorted(item["call_id"] for item in items), ["image-1", "octets-1"])
        self.assertTrue(all(item["unreadable"] for item in items))
        table = self.cli("query", "messages", "--db", self.db, "--unreadable").stdout.decode()
        self.assertIn("[UNREADABLE image/png]", table)


if __name__ == "__main__":
    import unittest
    unittest.main()
