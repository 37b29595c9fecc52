"""Querying the archive: `sipwarden query` and `sipwarden export` on a
seeded archive, and the admin server started by `sipwarden run` (tokens and
roles, pagination, metrics, the audit trail), also while the hop writes."""
import base64
import json
import os
import re
import subprocess
import time

from harness import BINARY, AnsweringPeer, Sipwarden, message_request, status_of
from query_support import AUDITOR, METRICS, QueryTestCase


class QueryCommandLine(QueryTestCase):
    def test_text_search_as_table_json_and_csv(self):
        table = self.cli("query", "messages", "--db", self.db, "--text", "quarterly report", "--utc").stdout
        lines = table.splitlines()
        self.assertEqual(len(lines), 3, table)
        self.assertTrue(lines[0].startswith("ID  TIME (UTC)"), table)
        self.assertEqual(lines[0].index("TEXT"), lines[1].index("Yes, the quarterly"))  # aligned
        self.assertIn("2026-11-02 09:01:00", lines[1])
        items = json.loads(self.cli("query", "messages", "--db", self.db, "--text", "quarterly report",
                                    "--format", "json").stdout)["items"]
        self.assertEqual([m["text"] for m in items],
                         ["Yes, the quarterly report looks good", "Hello Bob, did you see the quarterly report?"])
        csv = self.cli("query", "messages", "--db", self.db, "--text", "lunch", "--format", "csv").stdout
        self.assertIn('"Lunch tomorrow? <b>bring</b> the ""plan"""', csv)

    def test_filters(self):
        def ids(*args):
            out = self.cli("query", "messages", "--db", self.db, "--format", "json", *args).stdout
            return [m["id"] for m in json.loads(out)["items"]]
        self.assertEqual(ids("--verdict", "blocked"), [3])
        self.assertEqual(ids("--verdict", "modified", "--rule", "url_filter:defang"), [4])
        self.assertEqual(ids("--tag", "dlp=credentials"), [3])
        self.assertEqual(ids("--call-id", "pager-c2"), [6])
        self.assertEqual(ids("--participant", "sip:carol@example.com"), [6, 5])
        self.assertEqual(ids("--from", "alice@example.com", "--to", "bob@example.com"), [3, 1])
        self.assertEqual(ids("--since", "2026-11-02T09:02:00Z", "--until", "2026-11-02T10:04:00Z"), [5, 4, 3])
        self.assertEqual(len(ids("--since", "36500d", "--limit", "100")), 31)  # relative: a hundred years back
        result = self.cli("query", "messages", "--db", self.db, "--since", "soon", check=False)
        self.assertEqual(result.returncode, 2)
        self.assertIn("since: expected a date", result.stderr)

    def test_pages_follow_the_cursor(self):
        seen = []
        args = ["query", "messages", "--db", self.db, "--limit", "7"]
        cursor = None
        for _ in range(10):
            result = self.cli(*args, *(["--cursor", cursor] if cursor else []))
            seen += [int(line.split()[0]) for line in result.stdout.splitlines()[1:]]
            match = re.search(r"--cursor (\S+)", result.stderr)
            if not match:
                break
            cursor = match.group(1)
        self.assertEqual(sorted(seen), list(range(1, 32)))

    def test_conversation_transcript_marks_blocked_and_modified(self):
        out = self.cli("query", "conversation", "1", "--db", self.db, "--utc").stdout
        self.assertIn("alice@example.com -> bob@example.com: [BLOCKED] Here is the password: hunter2", out)
        self.assertIn("[MODIFIED] Look at hxxp://evil[.]example/report\n    original: Look at http://evil.example/report",
                      out)
        self.assertLess(out.index("Hello Bob"), out.index("Yes, the quarterly"))
        self.assertEqual(self.cli("query", "conversation", "99", "--db", self.db, check=False).returncode, 1)

    def test_calls_and_conversations(self):
        calls = self.cli("query", "calls", "--db", self.db, "--participant", "bob@example.com", "--utc").stdout
        self.assertIn("answered", calls)
        self.assertIn("60.0s", calls)
        self.assertNotIn("busy", calls)
        convs = json.loads(self.cli("query", "conversations", "--db", self.db, "--verdict", "blocked",
                                    "--format", "json").stdout)["items"]
        self.assertEqual([(c["id"], c["blocked"], c["modified"]) for c in convs], [(1, 1, 1)])

    def test_stats(self):
        out = self.cli("query", "stats", "--db", self.db).stdout
        self.assertIn("messages       31 (29 delivered, 1 blocked, 1 modified, 0 failed)", out)
        self.assertIn("calls          2 (1 answered)", out)
        stats = json.loads(self.cli("query", "stats", "--db", self.db, "--since", "2026-11-02T10:00:00Z",
                                    "--format", "json").stdout)
        self.assertEqual((stats["messages"], stats["conversations"], stats["calls"]), (27, 2, 1))

    def test_export_eml_with_manifest(self):
        out = os.path.join(self.dir, "export")
        self.cli("export", "--db", self.db, "--participant", "alice@example.com", "--format", "eml", "--out", out)
        self.assertEqual(sorted(os.listdir(out)), ["conversation-1.eml", "conversation-2.eml", "manifest.sha256"])
        check = subprocess.run(["sha256sum", "-c", "manifest.sha256"], cwd=out, capture_output=True, text=True,
                               timeout=30)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        with open(os.path.join(out, "conversation-1.eml"), newline="") as eml:
            text = eml.read()
        self.assertTrue(text.startswith("From: alice@example.com\r\nTo: bob@example.com\r\n"), text[:200])
        self.assertIn("[BLOCKED]", text)
        # Tampering with an exported file shows.
        with open(os.path.join(out, "conversation-2.eml"), "a") as eml:
            eml.write("x")
        self.assertNotEqual(subprocess.run(["sha256sum", "-c", "manifest.sha256"], cwd=out, capture_output=True,
                                           timeout=30).returncode, 0)

    def test_every_search_and_export_is_audited(self):
        self.cli("query", "messages", "--db", self.db, "--text", "quarterly")
        self.cli("export", "--db", self.db, "--conversation", "1", "--format", "html", "--out",
                 os.path.join(self.dir, "html"))
        rows = json.loads(self.cli("query", "audit", "--db", self.db, "--format", "json").stdout)["items"]
        self.assertEqual([(r["who"], r["action"], r["results"]) for r in rows],
                         [("cli:tester", "export", 1), ("cli:tester", "messages", 2)])
        self.assertEqual(rows[1]["query"], "text=quarterly&limit=50")


class AdminServer(QueryTestCase):
    def test_no_valid_token_401_and_nothing_else(self):
        self.admin_hop()
        for path in ("/api/v1/messages", "/api/v1/conversations/1", "/metrics", "/api/v1/stats", "/secret"):
            for token in (None, "wrong-token-0123456789abcdef", AUDITOR[:-1]):
                status, headers, body = self.http.get(path, token)
                self.assertEqual((status, body), (401, b"unauthorized\n"), path)
                self.assertEqual(headers.get("WWW-Authenticate"), 'Bearer realm="sipwarden"')
        self.assertEqual(self.cli("query", "audit", "--db", self.db, "--format", "json").stdout.count('"api:'), 0)

    def test_roles(self):
        self.admin_hop()
        self.assertEqual(self.http.get("/metrics", METRICS)[0], 200)
        self.assertEqual(self.http.get("/metrics", AUDITOR)[0], 403)
        self.assertEqual(self.http.get("/api/v1/messages", METRICS)[0], 403)
        self.assertEqual(self.http.get("/api/v1/messages", AUDITOR)[0], 200)

    def test_api_filters_pages_transcript_stats_and_audit(self):
        self.admin_hop()
        found = self.http.json("/api/v1/messages?text=%22quarterly%20report%22")
        self.assertEqual(len(found["items"]), 2)
        seen, cursor = [], ""
        for _ in range(10):
            page = self.http.json("/api/v1/messages?limit=6" + (f"&cursor={cursor}" if cursor else ""))
            seen += [m["id"] for m in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        self.assertEqual(sorted(seen), list(range(1, 32)))
        transcript = self.http.json("/api/v1/conversations/1")
        self.assertEqual([m["verdict"] for m in transcript["messages"]], ["delivered", "delivered", "blocked", "modified"])
        self.assertEqual(transcript["messages"][3]["original_text"], "Look at http://evil.example/report")
        calls = self.http.json("/api/v1/calls?participant=carol@example.com")["items"]
        self.assertEqual([c["disposition"] for c in calls], ["busy"])
        stats = self.http.json("/api/v1/stats")
        self.assertEqual((stats["messages"], stats["blocked"], stats["calls"]), (31, 1, 2))
        status, _, body = self.http.get("/api/v1/messages?verdict=maybe", AUDITOR)
        self.assertEqual(status, 400)
        self.assertIn(b"verdict: expected", body)
        status, headers, body = self.http.get("/api/v1/conversations/1/export?format=eml", AUDITOR)
        self.assertEqual(status, 200)
        self.assertTrue(body.startswith(b"From: alice@example.com\r\n"))
        rows = self.http.json("/api/v1/audit?limit=100")["items"]
        actions = [r["action"] for r in rows if r["who"] == "api:carol"]
        self.assertEqual(actions[:5], ["export", "stats", "calls", "conversation", "messages"])
        self.assertIn({"who": "api:carol", "action": "messages", "results": 2},
                      [{k: r[k] for k in ("who", "action", "results")} for r in rows])

    def test_live_archive_metrics_and_health(self):
        upstream = AnsweringPeer()
        self.cleanups.append(upstream.stop)
        warden = self.admin_hop(upstream=upstream.port)
        self.assertEqual(self.http.get("/healthz")[0], 200)
        self.assertEqual(self.http.get("/readyz")[:3:2], (200, b"ready\n"))
        caller = self.peer()
        caller.send(message_request(caller.port, call_id="live-1", body="fresh words while running"), warden.port)
        self.assertEqual(status_of(caller.recv())[0], 200)
        # The hop commits within its batch time; the API reads the live file.
        deadline, items = time.time() + 10, []
        while time.time() < deadline and not items:
            items = self.http.json("/api/v1/messages?text=fresh%20running")["items"]
            time.sleep(0.05)
        self.assertEqual([m["call_id"] for m in items], ["live-1"])
        # The command line reads the same live archive.
        out = self.cli("query", "messages", "--db", self.db, "--text", "fresh", "--format", "json").stdout
        self.assertEqual(len(json.loads(out)["items"]), 1)
        deadline, metrics = time.time() + 10, ""
        while time.time() < deadline and 'sipwarden_requests_total{method="MESSAGE"} 1' not in metrics:
            metrics = self.http.get("/metrics", METRICS)[2].decode()
            time.sleep(0.1)
        self.assertIn('sipwarden_requests_total{method="MESSAGE"} 1', metrics)
        self.assertIn('sipwarden_responses_relayed_total{class="2xx"} 1', metrics)
        self.assertIn('sipwarden_plugin_invocations_total{plugin="plugins[0] (archive)"} 1', metrics)
        self.assertIn("sipwarden_archive_queue_depth 0", metrics)
        self.assertRegex(metrics, r'sipwarden_archive_commit_seconds_bucket\{le="\+Inf"\} [1-9]')
        self.assertIn("sipwarden_connections_open 0", metrics)

    def test_api_json_is_valid_utf8_whatever_the_body_held(self):
        upstream = AnsweringPeer()
        self.cleanups.append(upstream.stop)
        warden = self.admin_hop(upstream=upstream.port)
        caller = self.peer()
        # NULs, a lone surrogate (ED A0 80), an overlong '/', a stray byte.
        body = b"odd \0 \xed\xa0\x80 \xc0\xaf \xff \x80 bytes"
        request = message_request(caller.port, call_id="odd-1", body="").replace(b"Content-Length: 0", (
            f"Content-Length: {len(body)}").encode()) + body
        caller.send(request, warden.port)
        self.assertEqual(status_of(caller.recv())[0], 200)
        deadline, items = time.time() + 10, []
        while time.time() < deadline and not items:
            status, _, raw = self.http.get("/api/v1/messages?call_id=odd-1", AUDITOR)
            self.assertEqual(status, 200)
            items = json.loads(raw.decode("utf-8", errors="strict"))["items"]
            time.sleep(0.05)
        self.assertEqual(len(items), 1)
        self.assertEqual(base64.b64decode(items[0]["raw_body_base64"]), body)
        self.assertIn("\ufffd", items[0]["text"])
        conversation = items[0]["conversation_id"]
        for path in (f"/api/v1/conversations/{conversation}", f"/api/v1/conversations/{conversation}/export?format=json"):
            status, _, raw = self.http.get(path, AUDITOR)
            self.assertEqual(status, 200)
            messages = json.loads(raw.decode("utf-8", errors="strict"))["messages"]
            self.assertEqual(base64.b64decode(messages[-1]["raw_body_base64"]), body)
        # The unreadable filter: accepted in either form, refused otherwise.
        self.assertEqual(self.http.get("/api/v1/messages?unreadable=true", AUDITOR)[0], 200)
        self.assertEqual(self.http.get("/api/v1/conversations?unreadable=1", AUDITOR)[0], 200)
        status, _, raw = self.http.get("/api/v1/messages?unreadable=maybe", AUDITOR)
        self.assertEqual((status, b"unreadable: expected true or false" in raw), (400, True))
        status, _, raw = self.http.get("/api/v1/calls?unreadable=true", AUDITOR)
        self.assertEqual(status, 400)

    def test_policy_test_json_is_valid_utf8_with_the_bytes_in_base64(self):
        body = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xcb\x48\xcd\xc9\xc9\x07\x00\x86\xa6\x10\x36\x05\x00\x00\x00"
        sip = os.path.join(self.dir, "gzip.sip")
        with open(sip, "wb") as out:
            out.write(b"MESSAGE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK1\r\n"
                      b"Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\n"
                      b"Call-ID: gz-1\r\nCSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\nContent-Encoding: gzip\r\n"
                      + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        config = os.path.join(self.dir, "policy.json")
        with open(config, "w") as out:
            json.dump({"plugins": [{"plugin": "probe", "tag": "seen=1"}]}, out)
        result = subprocess.run([BINARY, "policy", "test", "--json", "--config", config, sip], capture_output=True,
                                timeout=30)
        self.assertEqual(result.returncode, 0, result.stderr)
        outcome = json.loads(result.stdout.decode("utf-8", errors="strict"))[0]
        self.assertTrue(base64.b64decode(outcome["message_base64"]).endswith(body))
        self.assertIn("\ufffd", outcome["message"])

    def test_busy_admin_port_is_refused_with_its_key(self):
        import socket
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen(1)
            port = taken.getsockname()[1]
            config = json.dumps({"archive": {"path": self.db}, "admin": {
                "listen": f"127.0.0.1:{port}", "tokens": [{"name": "a", "role": "auditor", "token": AUDITOR}]}})
            warden = Sipwarden(config=config)
            with self.assertRaises(RuntimeError) as refused:
                warden.start()
            warden.stop()
        self.assertIn(f"config error: admin.listen: cannot listen on 127.0.0.1:{port}", str(refused.exception))

    def test_bad_admin_config_is_refused_with_its_key(self):
        for admin, expected in (
                ({"listen": "0.0.0.0:8080"}, "admin.listen: '0.0.0.0' is not a loopback address"),
                ({"tokens": [{"name": "x", "role": "god", "token": "0123456789abcdef0"}]},
                 "admin.tokens[0].role: expected metrics or auditor"),
                ({"tokens": [{"name": "x", "role": "metrics", "token": "short"}]},
                 "admin.tokens[0].token: a token needs at least 16 characters")):
            config = json.dumps({"archive": {"path": self.db}, "admin": admin})
            warden = Sipwarden(config=config)
            with self.assertRaises(RuntimeError) as refused:
                warden.start()
            warden.stop()
            self.assertIn(expected, str(refused.exception))
