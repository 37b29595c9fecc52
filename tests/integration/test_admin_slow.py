"""Containment of the admin server, on the real binary: crowds of slow and
idle clients on 127.0.0.1 must not keep /healthz or an auditor's search
from answering within 100 ms (before, nine clients sending a header line
every 3 s starved /healthz, and 80 got every new connection reset); bad
parameters get 400 with a reason; JSON stays valid UTF-8 whatever bytes
the archive holds.

Every crowd is bounded in size (200) and time (a few seconds); every
socket is closed at the end of its test."""
import http.client
import json
import socket
import sqlite3
import threading
import time

from query_support import AUDITOR, QueryTestCase

CROWD = 200
HEADER_TIMEOUT_MS = 2000
SEARCH = "/api/v1/messages?text=quarterly&limit=5"


class Crowd:
    """CROWD connections to the admin port on a thread, each kept up for
    `seconds`: `slow` ones send one byte of a request head every
    `interval` seconds and never finish it, idle ones send nothing. A
    connection the server closes is opened again (as an attacker would), and
    how long each lived is kept."""

    def __init__(self, port, slow, seconds, interval=0.5):
        self.port, self.slow, self.seconds, self.interval = port, slow, seconds, interval
        self.lifetimes = []      # seconds from connect to the server's close
        self.connect_failures = 0
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self.thread.start()
        if not self.ready.wait(timeout=20):
            raise RuntimeError("the crowd did not connect")
        return self

    def __exit__(self, *exc):
        self.thread.join(timeout=self.seconds + 20)

    def _connect(self):
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=2)
        except OSError:
            self.connect_failures += 1
            return None
        sock.setblocking(False)
        if self.slow:
            try:
                sock.send(b"GET /healthz HTTP/1.1\r\n")
            except OSError:
                pass
        return [sock, time.monotonic()]

    def _closed_by_server(self, sock):
        try:
            return sock.recv(4096) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    def _run(self):
        conns = [c for c in (self._connect() for _ in range(CROWD)) if c]
        self.ready.set()
        end = time.monotonic() + self.seconds
        while time.monotonic() < end:
            for i, conn in enumerate(conns):
                sock, since = conn
                gone = self._closed_by_server(sock)
                if not gone and self.slow:
                    try:
                        sock.send(b"X")
                    except BlockingIOError:
                        pass
                    except OSError:
                        gone = True
                if gone:
                    self.lifetimes.append(time.monotonic() - since)
                    sock.close()
                    conns[i] = self._connect() or conn
            time.sleep(self.interval)
        for sock, _ in conns:
            sock.close()


class AdminContainment(QueryTestCase):
    def start_admin(self):
        self.admin_hop(admin={"header_timeout_ms": HEADER_TIMEOUT_MS})

    def timed(self, path, token=None):
        """(status, seconds) for one request on a new connection."""
        start = time.monotonic()
        connection = http.client.HTTPConnection("127.0.0.1", self.admin_port, timeout=2)
        try:
            connection.request("GET", path, headers={"Authorization": "Bearer " + token} if token else {})
            response = connection.getresponse()
            response.read()
            return response.status, time.monotonic() - start
        except OSError as error:
            return repr(error), time.monotonic() - start
        finally:
            connection.close()

    def assert_answers_fast(self, seconds):
        """/healthz and an audited search, on new connections, answer 200
        within 100 ms each, for `seconds`."""
        samples = []
        end = time.monotonic() + seconds
        while time.monotonic() < end and len(samples) < 200:
            samples.append(("/healthz",) + self.timed("/healthz"))
            samples.append(("search",) + self.timed(SEARCH, AUDITOR))
            time.sleep(0.1)
        self.assertGreaterEqual(len(samples), 10)
        slow = [s for s in samples if s[1] != 200 or s[2] > 0.1]
        self.assertEqual(slow, [], f"{len(slow)} of {len(samples)} answers late or failed")

    def test_slow_clients_do_not_starve_health_or_search(self):
        self.start_admin()
        with Crowd(self.admin_port, slow=True, seconds=HEADER_TIMEOUT_MS / 1000 * 3) as crowd:
            time.sleep(0.5)  # every slow client is in and dribbling
            self.assert_answers_fast(seconds=4)
        self.assertEqual(crowd.connect_failures, 0)  # no new connection was refused or reset
        # The head has one deadline, however steadily it dribbles: none of
        # them lived much past header_timeout_ms.
        self.assertGreater(len(crowd.lifetimes), CROWD)
        self.assertLess(max(crowd.lifetimes), HEADER_TIMEOUT_MS / 1000 + 1.5)

    def test_idle_connections_do_not_starve_health_or_search(self):
        self.start_admin()
        with Crowd(self.admin_port, slow=False, seconds=5) as crowd:
            time.sleep(0.5)
            self.assert_answers_fast(seconds=3)
        self.assertEqual(crowd.connect_failures, 0)
        self.assertLess(max(crowd.lifetimes), HEADER_TIMEOUT_MS / 1000 + 1.5)

    def test_bad_parameters_are_400_with_a_reason(self):
        self.start_admin()
        for path, reason in (
                ("/api/v1/messages?text=%zz%", b"text: malformed percent-encoding"),
                ("/api/v1/messages?since=2026-02-31", b"since: no such date"),
                ("/api/v1/messages?until=2026-13-01", b"until: no such date"),
                ("/api/v1/messages?since=2026-11-02T25:00", b"since: no such time of day"),
                ("/api/v1/messages?limit=ten", b"limit: expected a number"),
                ("/api/v1/calls?disposition=perhaps", b"disposition: expected"),
                ("/api/v1/conversations/1/export?format=pdf", b"format"),
                ("/api/v1/messages?cursor=%%%", b"cursor: malformed percent-encoding")):
            status, _, body = self.http.get(path, AUDITOR)
            self.assertEqual(status, 400, (path, body))
            self.assertIn(reason, json.loads(body)["error"].encode(), path)
        # Without a token, still 401 and nothing else.
        self.assertEqual(self.http.get("/api/v1/messages?text=%zz%")[0], 401)
        # A leap day exists.
        self.assertEqual(self.http.get("/api/v1/messages?since=2028-02-29", AUDITOR)[0], 200)

    def test_json_is_valid_utf8_whatever_the_archive_holds(self):
        # Bytes a client may have sent: stray continuation bytes, an overlong
        # slash, a lone surrogate, NUL, and a truncated sequence at the end.
        raw = b"caf\xc3\xa9 \x80\xff \xc0\xaf \xed\xa0\x80 nul\x00here \xe2\x82"
        with sqlite3.connect(self.db) as db:
            db.execute("UPDATE messages SET text = CAST(? AS TEXT), sender_name = CAST(? AS TEXT) WHERE id = 1",
                       (raw, b"Al\xffce"))
        self.start_admin()
        for path in ("/api/v1/conversations/1", "/api/v1/messages?limit=100",
                     "/api/v1/conversations/1/export?format=json", "/api/v1/messages?since=%FF"):
            status, _, body = self.http.get(path, AUDITOR)
            self.assertIn(status, (200, 400), path)
            text = body.decode("utf-8")  # strict: raises on any invalid byte
            parsed = json.loads(text)
            if path.endswith("since=%FF"):
                self.assertIn("\ufffd", parsed["error"])  # the bad value echoed, made valid
                continue
            messages = parsed["messages"] if "messages" in parsed else parsed["items"]
            first = next(m for m in messages if m["id"] == 1)
            self.assertEqual(first["text"], "caf\u00e9 \ufffd\ufffd \ufffd\ufffd \ufffd\ufffd\ufffd nul\x00here \ufffd\ufffd")
            self.assertEqual(first["sender_name"], "Al\ufffdce")
