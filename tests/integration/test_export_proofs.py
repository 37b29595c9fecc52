"""Verifiable exports and the audit trail's chain through the running hop
(issue 18): messages pass the hop, which signs checkpoints with a Merkle
root; `sipwarden export --checkpoints` writes proofs.json, and `sipwarden
export verify` checks the export on its own (the archive deleted first), in
each format. One byte changed in one message's text fails naming that
message; a changed header fails naming the file; a forged proof or an
export verified with another key fails. Holds and purges by hand are audit
records: a hold deleted with sqlite3 is caught by `archive verify`."""
import base64
import json
import os
import shutil
import sqlite3
import subprocess

from harness import BINARY, AnsweringPeer, HopTestCase, message_request, status_of


class ExportProofs(HopTestCase):
    def setUp(self):
        super().setUp()
        self.dir = self.temp_dir("sipwarden-export-proofs-")
        self.db = os.path.join(self.dir, "archive.db")
        self.key = os.path.join(self.dir, "hop.key")
        self.checkpoints = os.path.join(self.dir, "checkpoints")
        os.mkdir(self.checkpoints)
        result = subprocess.run([BINARY, "archive", "keygen", "--out", self.key], capture_output=True, text=True,
                                timeout=30)
        self.assertEqual(result.returncode, 0, result.stderr)

    def run_hop(self, bodies):
        config = json.dumps({"archive": {"path": self.db, "hop_id": "edge-1", "batch_ms": 20,
                                         "checkpoints": {"key": self.key, "dir": self.checkpoints,
                                                         "every_rows": 3, "every_seconds": 1}},
                             "plugins": [{"plugin": "archive", "on_archive_failure": "reject"}]})
        upstream = AnsweringPeer()
        self.cleanups.append(upstream.stop)
        warden = self.hop("--upstream", f"127.0.0.1:{upstream.port}", config=config)
        caller = self.peer()
        for i, body in enumerate(bodies):
            caller.send(message_request(caller.port, call_id=f"export-{i}", body=body), warden.port)
            self.assertEqual(status_of(caller.recv())[0], 200)
        self.assertEqual(warden.stop(), 0)  # a checkpoint at stop covers every row

    def cli(self, *args):
        return subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=120)

    def export(self, out, fmt):
        conversation = sqlite3.connect(self.db).execute("SELECT max(conversation_id) FROM messages").fetchone()[0]
        return self.cli("export", "--db", self.db, "--conversation", str(conversation), "--format", fmt,
                        "--out", out, "--checkpoints", self.checkpoints)

    def verify_export(self, out, key=None):
        return self.cli("export", "verify", out, "--public-key", key or self.key + ".pub")

    def test_an_export_verifies_without_the_archive_and_one_changed_byte_is_named(self):
        texts = ["the quarterly budget is attached", "réunion à 10h — salle 4", "tell nobody about <project x>",
                 "ok", "see you"]
        self.run_hop(texts)
        for fmt in ("eml", "json", "html"):
            with self.subTest(format=fmt):
                out = os.path.join(self.dir, "export-" + fmt)
                result = self.export(out, fmt)
                self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
                self.assertIn("proofs for 5 messages", result.stdout)
                moved = os.path.join(self.dir, "elsewhere-" + fmt)
                shutil.copytree(out, moved)  # checked where the archive is not
                result = self.verify_export(moved)
                self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
                self.assertIn("OK, 5 messages in 1 files", result.stdout)
                name = [n for n in os.listdir(moved) if n.startswith("conversation-")][0]
                path = os.path.join(moved, name)
                with open(path, "rb") as f:
                    original = f.read()
                with open(os.path.join(moved, "proofs.json")) as f:
                    ids = [m["id"] for m in json.load(f)["messages"]]
                # One byte of the third message's text.
                changed = original.replace(b"nobody", b"nobodY")
                self.assertNotEqual(changed, original)
                with open(path, "wb") as f:
                    f.write(changed)
                result = self.verify_export(moved)
                self.assertEqual(result.returncode, 3, result.stdout)
                self.assertIn(f"message {ids[2]} ({name})", result.stdout)
                # A header outside any message's text: the file is named.
                with open(path, "wb") as f:
                    f.write(original.replace(b"Conversation", b"Konversation", 1) if fmt != "json"
                            else original.replace(b'"kind"', b'"kinD"', 1))
                result = self.verify_export(moved)
                self.assertEqual(result.returncode, 3, result.stdout)
                self.assertIn(name, result.stdout)
                with open(path, "wb") as f:
                    f.write(original)
                self.assertEqual(self.verify_export(moved).returncode, 0)

    def test_a_forged_record_proof_or_key_fails(self):
        self.run_hop(["alpha", "bravo", "charlie", "delta"])
        out = os.path.join(self.dir, "export")
        self.assertEqual(self.export(out, "json").returncode, 0)
        proofs_path = os.path.join(out, "proofs.json")
        with open(proofs_path) as f:
            original = f.read()
        proofs = json.loads(original)
        # The record rewritten: the hash no longer matches.
        proofs["messages"][1]["record"]["text"] = base64.b64encode(b"bravissimo").decode()
        with open(proofs_path, "w") as f:
            json.dump(proofs, f)
        result = self.verify_export(out)
        self.assertEqual(result.returncode, 3, result.stdout)
        self.assertIn(f"message {proofs['messages'][1]['id']}", result.stdout)
        # A proof element flipped.
        proofs = json.loads(original)
        element = proofs["messages"][0]["proof"][0]
        proofs["messages"][0]["proof"][0] = ("0" if element[0] != "0" else "1") + element[1:]
        with open(proofs_path, "w") as f:
            json.dump(proofs, f)
        result = self.verify_export(out)
        self.assertEqual(result.returncode, 3, result.stdout)
        self.assertIn("does not lead to the signed root", result.stdout)
        # Another key.
        with open(proofs_path, "w") as f:
            f.write(original)
        other = os.path.join(self.dir, "other.key")
        self.assertEqual(self.cli("archive", "keygen", "--out", other).returncode, 0)
        result = self.verify_export(out, other + ".pub")
        self.assertEqual(result.returncode, 3, result.stdout)
        self.assertIn("bad signature", result.stdout)

    def test_reordered_repeated_or_moved_messages_fail(self):
        self.run_hop(["first", "second", "third"])
        out = os.path.join(self.dir, "export")
        self.assertEqual(self.export(out, "json").returncode, 0)
        proofs_path = os.path.join(out, "proofs.json")
        with open(proofs_path) as f:
            original = f.read()

        def attempt(change, expected):
            proofs = json.loads(original)
            change(proofs)
            with open(proofs_path, "w") as f:
                json.dump(proofs, f)
            result = self.verify_export(out)
            self.assertEqual(result.returncode, 3, result.stdout)
            self.assertIn(expected, result.stdout)

        def swap(p):
            p["messages"][0], p["messages"][1] = p["messages"][1], p["messages"][0]

        def repeat(p):
            p["messages"][1] = dict(p["messages"][2], id=p["messages"][1]["id"])

        def move(p):
            p["files"][0]["conversation"]["id"] += 1
            p["files"][0]["name"] = f"conversation-{p['files'][0]['conversation']['id']}.json"
            for m in p["messages"]:
                m["file"] = p["files"][0]["name"]

        def rename(p):
            p["files"][0]["name"] = "conversation-continued.json"

        def stranger(p):
            p["files"][0]["conversation"]["participants"] = base64.b64encode(
                b"alice@example.com,mallory@example.com").decode()

        attempt(rename, "is not the one file of conversation")
        attempt(stranger, "is not between the participants")
        attempt(swap, "out of order")
        attempt(repeat, "repeats the chain's row")
        attempt(move, "not to the file's conversation")
        with open(proofs_path, "w") as f:
            f.write(original)
        self.assertEqual(self.verify_export(out).returncode, 0)

    def test_a_message_left_out_of_the_middle_is_named(self):
        self.run_hop(["one", "two", "the one to hide", "four", "five"])
        # The export made from a doctored copy: the third message taken out
        # (its hash left as a tombstone, so every proof still leads to the
        # signed root), the file rendered without it by sipwarden itself.
        doctored = os.path.join(self.dir, "doctored.db")
        shutil.copy(self.db, doctored)
        with sqlite3.connect(doctored) as db:
            hidden = db.execute("SELECT id FROM messages WHERE text = 'the one to hide'").fetchone()[0]
            db.execute("INSERT INTO messages_fts (messages_fts, rowid, text) SELECT 'delete', id, text FROM messages "
                       "WHERE id = ?", (hidden,))
            db.execute("INSERT INTO tombstones (id, hash, purged_ms) SELECT id, hash, 0 FROM messages WHERE id = ?",
                       (hidden,))
            db.execute("DELETE FROM outcomes WHERE message_id = ?", (hidden,))
            db.execute("DELETE FROM messages WHERE id = ?", (hidden,))
            following = db.execute("SELECT min(id) FROM messages WHERE id > ?", (hidden,)).fetchone()[0]
        for fmt in ("json", "eml"):
            with self.subTest(format=fmt):
                out = os.path.join(self.dir, "hidden-" + fmt)
                conversation = sqlite3.connect(doctored).execute(
                    "SELECT max(conversation_id) FROM messages").fetchone()[0]
                result = self.cli("export", "--db", doctored, "--conversation", str(conversation), "--format", fmt,
                                  "--out", out, "--checkpoints", self.checkpoints)
                self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
                result = self.verify_export(out)
                self.assertEqual(result.returncode, 3, result.stdout)
                self.assertIn(f"the message before message {following} in its conversation", result.stdout)
                self.assertIn("left out", result.stdout)

    def test_holds_and_purges_by_hand_are_records_and_a_deleted_hold_is_caught(self):
        self.run_hop(["one", "two"])
        purge = self.cli("archive", "purge", "--db", self.db, "--older-than-days", "0")
        self.assertEqual(purge.returncode, 0, purge.stderr)
        self.assertIn("purged 2 messages", purge.stdout)
        hold = self.cli("archive", "hold", "--db", self.db, "--participant", "sip:alice@example.com",
                        "--reason", "matter 12")
        self.assertEqual(hold.returncode, 0, hold.stdout + hold.stderr)
        verify = self.cli("archive", "verify", "--db", self.db, "--checkpoints", self.checkpoints,
                          "--public-key", self.key + ".pub")
        self.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)
        self.assertIn("purge by hand: record", verify.stdout)
        audit = self.cli("query", "audit", "--db", self.db, "--format", "json")
        self.assertIn("matter%2012", audit.stdout.replace("matter 12", "matter%2012"))
        with sqlite3.connect(self.db) as db:
            db.execute("DELETE FROM holds")
        verify = self.cli("archive", "verify", "--db", self.db)
        self.assertEqual(verify.returncode, 3, verify.stdout)
        self.assertIn("legal hold on participant", verify.stdout)
