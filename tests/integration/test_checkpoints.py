"""Signed checkpoints through the running hop (issue 18): the hop signs its
chain heads into a directory under SIPp load, is killed with SIGKILL,
restarts, and `archive verify --checkpoints` passes; a row deleted with
sqlite3 afterwards (the chain head rewound to hide it) fails with exit 3."""
import http.server
import json
import os
import threading
import sqlite3
import ssl
import stat
import subprocess
import tempfile

from harness import BINARY, AnsweringPeer, HopTestCase, message_request, status_of
from tls_support import TestCa


class Checkpoints(HopTestCase):
    def setUp(self):
        super().setUp()
        self.dir = tempfile.mkdtemp(prefix="sipwarden-checkpoints-")
        self.db = os.path.join(self.dir, "archive.db")
        self.key = os.path.join(self.dir, "hop.key")
        self.checkpoints = os.path.join(self.dir, "checkpoints")
        os.mkdir(self.checkpoints)

    def keygen(self):
        result = subprocess.run([BINARY, "archive", "keygen", "--out", self.key], capture_output=True, text=True,
                                timeout=30)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

    def config(self, **checkpoints):
        settings = {"key": self.key, "dir": self.checkpoints, "every_rows": 100, "every_seconds": 1}
        settings.update(checkpoints)
        return json.dumps({"archive": {"path": self.db, "hop_id": "edge-1", "batch_ms": 50, "batch_rows": 50,
                                       "checkpoints": settings},
                           "plugins": [{"plugin": "archive", "on_archive_failure": "reject"}]})

    def verify(self, *extra):
        return subprocess.run([BINARY, "archive", "verify", "--db", self.db, "--checkpoints", self.checkpoints,
                               "--public-key", self.key + ".pub", *extra], capture_output=True, text=True, timeout=120)

    def lines(self):
        with open(os.path.join(self.checkpoints, "edge-1.checkpoints")) as f:
            return [json.loads(line) for line in f if line.strip()]

    def test_keygen_writes_a_private_key_only_the_owner_reads_and_never_overwrites(self):
        self.keygen()
        self.assertEqual(stat.S_IMODE(os.stat(self.key).st_mode), 0o600)
        with open(self.key + ".pub") as public:
            self.assertIn("BEGIN PUBLIC KEY", public.read())
        again = subprocess.run([BINARY, "archive", "keygen", "--out", self.key], capture_output=True, text=True,
                               timeout=30)
        self.assertNotEqual(again.returncode, 0)
        self.assertIn("never overwritten", again.stderr)

    def test_a_key_others_can_read_is_refused_naming_the_setting(self):
        self.keygen()
        os.chmod(self.key, 0o644)
        handle, path = tempfile.mkstemp(suffix=".json", dir=self.dir)
        with os.fdopen(handle, "w") as out:
            out.write(self.config())
        result = subprocess.run([BINARY, "check-config", path], capture_output=True, text=True, timeout=30)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("archive.checkpoints.key", result.stdout + result.stderr)

    def check_config(self, config):
        handle, path = tempfile.mkstemp(suffix=".json", dir=self.dir)
        with os.fdopen(handle, "w") as out:
            out.write(config)
        return subprocess.run([BINARY, "check-config", path], capture_output=True, text=True, timeout=30)

    def test_config_errors_name_the_setting(self):
        self.keygen()
        for settings, named in [({"dir": os.path.join(self.dir, "nowhere")}, "archive.checkpoints.dir"),
                                ({"every_rows": 0}, "archive.checkpoints.every_rows"),
                                ({"every_seconds": "60"}, "archive.checkpoints.every_seconds"),
                                ({"syslog": 1}, "archive.checkpoints.syslog"),
                                ({"keys": "x"}, "archive.checkpoints.keys"),
                                ({"post_url": "ftp://x/"}, "archive.checkpoints.post_url"),
                                ({"key": os.path.join(self.dir, "missing.key")}, "archive.checkpoints.key")]:
            result = self.check_config(self.config(**settings))
            self.assertNotEqual(result.returncode, 0, settings)
            self.assertIn(named, result.stdout + result.stderr, settings)
        self.assertEqual(self.check_config(self.config(syslog=True)).returncode, 0)

    def test_killed_under_load_restarted_and_verified_then_a_deleted_row_is_caught(self):
        self.keygen()
        delivered = self.kill_under_load(self.config())
        self.assertGreater(len(delivered), 100)
        signed = self.lines()
        self.assertGreater(len(signed), 0, "checkpoints every 100 rows under load")
        self.assertTrue(all(a["rows"] <= b["rows"] for a, b in zip(signed, signed[1:])))

        # Restarted: it signs what was committed after its last checkpoint,
        # then more traffic, then a clean stop signs the rest.
        upstream = AnsweringPeer()
        self.cleanups.append(upstream.stop)
        warden = self.hop("--upstream", f"127.0.0.1:{upstream.port}", config=self.config())
        caller = self.peer()
        for i in range(5):
            caller.send(message_request(caller.port, call_id=f"after-restart-{i}", body=f"after {i}"), warden.port)
            self.assertEqual(status_of(caller.recv())[0], 200)
        self.assertEqual(warden.stop(), 0)
        with sqlite3.connect(self.db) as db:
            total = db.execute("SELECT count(*) FROM messages").fetchone()[0]
        self.assertEqual(self.lines()[-1]["rows"], total, "the clean stop signed every row")

        result = self.verify()
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("extends all", result.stdout)

        # One row deleted (its final code and index entry too) and the chain
        # head rewound: the chain alone cannot tell.
        with sqlite3.connect(self.db) as db:
            last = db.execute("SELECT max(id) FROM messages").fetchone()[0]
            db.execute("INSERT INTO messages_fts (messages_fts, rowid, text) SELECT 'delete', id, text FROM messages "
                       "WHERE id = ?", (last,))
            db.execute("DELETE FROM outcomes WHERE message_id = ?", (last,))
            db.execute("DELETE FROM messages WHERE id = ?", (last,))
            db.execute("UPDATE chain_head SET last_id = (SELECT max(id) FROM messages), "
                       "last_hash = (SELECT hash FROM messages ORDER BY id DESC LIMIT 1), rows = rows - 1, "
                       "outcomes_last_id = (SELECT max(id) FROM outcomes), "
                       "outcomes_last_hash = (SELECT hash FROM outcomes ORDER BY id DESC LIMIT 1), "
                       "outcomes_rows = (SELECT count(*) FROM outcomes), "
                       # the Merkle frontier blanked, as before schema 008:
                       # verify then skips it, and an attacker knows that
                       "frontier = ''")
            # and each conversation's link back to its newest remaining row
            db.execute("UPDATE conversations SET last_hash = coalesce((SELECT hash FROM messages WHERE conversation_id = conversations.id ORDER BY id DESC LIMIT 1), '')")
        plain = subprocess.run([BINARY, "archive", "verify", "--db", self.db], capture_output=True, text=True,
                               timeout=120)
        self.assertEqual(plain.returncode, 0, "without checkpoints this passes: " + plain.stdout)
        result = self.verify()
        self.assertEqual(result.returncode, 3, result.stdout + result.stderr)
        self.assertIn(f"row {last} ", result.stdout)
        self.assertIn("TAMPERED at checkpoint", result.stdout)

    def test_a_forged_checkpoint_fails_with_exit_3(self):
        self.keygen()
        upstream = AnsweringPeer()
        self.cleanups.append(upstream.stop)
        warden = self.hop("--upstream", f"127.0.0.1:{upstream.port}", config=self.config())
        caller = self.peer()
        caller.send(message_request(caller.port, call_id="forged-1", body="one"), warden.port)
        self.assertEqual(status_of(caller.recv())[0], 200)
        self.assertEqual(warden.stop(), 0)
        path = os.path.join(self.checkpoints, "edge-1.checkpoints")
        with open(path) as f:
            line = json.loads(f.readline())
        line["rows"] = 0
        with open(path, "a") as f:
            f.write(json.dumps(line) + "\n")
        result = self.verify()
        self.assertEqual(result.returncode, 3, result.stdout)
        self.assertIn("checkpoint 2: bad signature", result.stdout)

    def collector(self, tls=None):
        """An HTTP(S) server on loopback that keeps what is POSTed to it."""
        received = []

        class Collector(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers["Content-Length"])
                received.append((self.path, self.headers["Content-Type"], self.rfile.read(length).decode()))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Collector)
        scheme = "http"
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            server.socket = context.wrap_socket(server.socket, server_side=True)
            scheme = "https"
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.cleanups.append(server.server_close)
        self.cleanups.append(server.shutdown)
        return received, f"{scheme}://127.0.0.1:{server.server_address[1]}"

    def post_three(self, url, prefix="posted"):
        upstream = AnsweringPeer()
        self.cleanups.append(upstream.stop)
        warden = self.hop("--upstream", f"127.0.0.1:{upstream.port}", config=self.config(post_url=url))
        caller = self.peer()
        for i in range(3):
            caller.send(message_request(caller.port, call_id=f"{prefix}-{i}", body="hi"), warden.port)
            self.assertEqual(status_of(caller.recv())[0], 200)
        self.assertEqual(warden.stop(), 0)
        return warden.output()

    def test_checkpoints_are_posted_to_a_collector(self):
        received, base = self.collector()
        self.keygen()
        self.post_three(base + "/checkpoints?hop=edge-1")
        with open(os.path.join(self.checkpoints, "edge-1.checkpoints")) as f:
            lines = [line.rstrip("\n") for line in f]
        self.assertGreater(len(lines), 0)
        self.assertEqual([body for _, _, body in received], lines, "each line, once, as written")
        self.assertEqual({(path, kind) for path, kind, _ in received}, {("/checkpoints?hop=edge-1", "application/json")})

    def test_an_https_collector_is_trusted_only_through_the_system_cas(self):
        ca = TestCa(self.dir)
        received, base = self.collector(tls=ca.issue("collector", "localhost"))
        self.keygen()
        output = self.post_three(base + "/c")
        self.assertEqual(received, [], "a certificate no trusted CA signed is refused")
        self.assertIn("written, but a copy failed", output)
        previous = os.environ.get("SSL_CERT_FILE")
        os.environ["SSL_CERT_FILE"] = ca.cert  # OpenSSL's default CAs, for this hop only
        try:
            self.post_three(base + "/c", prefix="trusted")
        finally:
            if previous is None:
                del os.environ["SSL_CERT_FILE"]
            else:
                os.environ["SSL_CERT_FILE"] = previous
        self.assertEqual(len(received), 1)
        self.assertEqual(json.loads(received[0][2]), self.lines()[-1])

    def test_a_collector_that_is_down_costs_its_copy_not_the_checkpoint(self):
        self.keygen()
        upstream = AnsweringPeer()
        self.cleanups.append(upstream.stop)
        warden = self.hop("--upstream", f"127.0.0.1:{upstream.port}", config=self.config(post_url="http://127.0.0.1:9/"))
        caller = self.peer()
        caller.send(message_request(caller.port, call_id="unposted", body="hi"), warden.port)
        self.assertEqual(status_of(caller.recv())[0], 200)
        self.assertEqual(warden.stop(), 0)
        self.assertEqual(len(self.lines()), 1)
        self.assertIn("written, but a copy failed", warden.output())
        self.assertEqual(self.verify().returncode, 0)

    def test_a_missing_checkpoint_directory_is_a_usage_error_not_ok(self):
        self.keygen()
        result = subprocess.run([BINARY, "archive", "verify", "--db", self.db, "--checkpoints",
                                 os.path.join(self.dir, "nowhere"), "--public-key", self.key + ".pub"],
                                capture_output=True, text=True, timeout=30)
        self.assertEqual(result.returncode, 2, result.stdout + result.stderr)

    def test_verify_with_the_hops_config_checks_its_checkpoints(self):
        self.keygen()
        upstream = AnsweringPeer()
        self.cleanups.append(upstream.stop)
        config = os.path.join(self.dir, "sipwarden.json")
        with open(config, "w") as f:
            f.write(self.config())
        warden = self.hop("--upstream", f"127.0.0.1:{upstream.port}", "--config", config)
        caller = self.peer()
        caller.send(message_request(caller.port, call_id="config-1", body="one"), warden.port)
        self.assertEqual(status_of(caller.recv())[0], 200)
        self.assertEqual(warden.stop(), 0)
        result = subprocess.run([BINARY, "archive", "verify", "--config", config], capture_output=True, text=True,
                                timeout=60)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("extends all", result.stdout)
        # A checkpoint the archive no longer matches: --config alone finds it.
        with sqlite3.connect(self.db) as db:
            db.execute("UPDATE chain_head SET frontier = ''")
            db.execute("UPDATE messages SET hash = 'x' || substr(hash, 2) WHERE id = (SELECT max(id) FROM messages)")
        result = subprocess.run([BINARY, "archive", "verify", "--config", config], capture_output=True, text=True,
                                timeout=60)
        self.assertEqual(result.returncode, 3, result.stdout + result.stderr)
