"""Containment (issue 16): hostile Lua policies, senders feeding them text,
reloads of runaway scripts and a filter stuck where no budget reaches. For
each, through the running hop: an OPTIONS sent to the hop every 20 ms during
the attack is answered within 100 ms (p99), the script's messages follow its
fail mode, other traffic keeps flowing, and SIGTERM ends the hop in time.
The same scripts under `sipwarden policy test` end with an error naming the
limit, the file and the line."""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

from harness import (BINARY, AnsweringPeer, HopTestCase, free_port, header, message_request, status_of, write_file)

# Each hostile script, the message text that triggers it (None: any), and
# what `policy test` must name. Every script would run for seconds or forever
# (or grow the hop without bound) without the limits.
HOSTILE = {
    "pcall_swallows_the_budget": (
        "function on_request(msg)\n"
        "  while true do pcall(function() while true do end end) end\n"
        "end\n", None, r"pcall_swallows_the_budget.lua:2: instruction budget of \d+ exceeded"),
    "xpcall_handler_loops": (
        "function on_request(msg)\n"
        "  while true do\n"
        "    xpcall(function() while true do end end, function(e) while true do end end)\n"
        "  end\n"
        "end\n", None, r"xpcall_handler_loops.lua:\d: instruction budget of \d+ exceeded"),
    "finalizer_loops": (
        "function on_request(msg)\n"
        "  setmetatable({}, {__gc = function() while true do end end})\n"
        "  collectgarbage()\n"
        "end\n", None, r"finalizer_loops.lua:2: setmetatable: __gc is not allowed"),
    "close_handler_loops": (
        "function on_request(msg)\n"
        "  local guard <close> = setmetatable({}, {__close = function() while true do end end})\n"
        "  while true do end\n"
        "end\n", None, r"close_handler_loops.lua:\d: instruction budget of \d+ exceeded"),
    "memory_error_swallowed": (
        "function on_request(msg)\n"
        "  while true do\n"
        "    pcall(function() local t = {} while true do t[#t + 1] = string.rep('x', 4096) .. #t end end)\n"
        "  end\n"
        "end\n", None, r"memory_error_swallowed.lua:3: (memory limit of \d+ KiB reached|instruction budget)"),
    "trim_idiom_on_sender_text": (
        "function on_request(msg)\n"
        "  local trimmed = msg.text:match('^%s*(.-)%s*$')\n"
        "  msg:tag('length', #trimmed)\n"
        "end\n", "x" + " " * 60000 + "y", r"trim_idiom_on_sender_text.lua:2: instruction budget of \d+ exceeded"),
    "regex_gsub_on_a_megabyte": (
        "function on_request(msg)\n"
        "  local big = string.rep(msg.text, 15)\n"
        "  for i = 1, 200 do big = sw.re.gsub(big, 'a', 'b') end\n"
        "end\n", "a" * 60000, r"regex_gsub_on_a_megabyte.lua:3: instruction budget of \d+ exceeded"),
    "table_move_sparse": (
        "function on_request(msg)\n"
        "  table.move({}, 1, 1e9, 2)\n"
        "end\n", None, r"table_move_sparse.lua:2: instruction budget of \d+ exceeded"),
}


def options_request(hop_port, own_port, number):
    return (f"OPTIONS sip:127.0.0.1:{hop_port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{own_port};branch=z9hG4bKping{number}\r\n"
            "Max-Forwards: 70\r\n"
            "From: <sip:monitor@example.com>;tag=m1\r\n"
            "To: <sip:monitor@example.com>\r\n"
            f"Call-ID: ping-{number}\r\n"
            f"CSeq: {number} OPTIONS\r\n"
            "Content-Length: 0\r\n\r\n").encode()


class Pinger:
    """OPTIONS to the hop every 20 ms on a thread, each answer's delay kept.
    Bounded: stops after `limit` seconds even if nobody stops it."""

    def __init__(self, hop_port, limit=30.0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.005)
        self.hop_port = hop_port
        self.limit = limit
        self.sent = {}
        self.delays = []
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        own = self.sock.getsockname()[1]
        start = time.monotonic()
        number = 0
        next_send = start
        while self.running and time.monotonic() - start < self.limit:
            now = time.monotonic()
            if now >= next_send:
                number += 1
                self.sent[f"ping-{number}"] = now
                self.sock.sendto(options_request(self.hop_port, own, number), ("127.0.0.1", self.hop_port))
                next_send += 0.020
            try:
                data, _ = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            call_id = header(data, "Call-ID")
            if call_id in self.sent and status_of(data)[0] == 200:
                self.delays.append(time.monotonic() - self.sent.pop(call_id))

    def stop(self):
        self.running = False
        self.thread.join(timeout=5)
        self.sock.close()
        # A ping still unanswered 100 ms after it was sent counts as late.
        now = time.monotonic()
        late = [now - sent for sent in self.sent.values() if now - sent > 0.1]
        return sorted(self.delays + late)


def p99(delays):
    return delays[min(len(delays) - 1, int(len(delays) * 0.99))]


class TcpCaller:
    """A UA on one TCP connection: sends a request, reads one response."""

    def __init__(self, hop_port):
        self.sock = socket.create_connection(("127.0.0.1", hop_port), timeout=10)
        self.port = self.sock.getsockname()[1]
        self.buffer = b""

    def request(self, call_id, body, extra=""):
        data = message_request(self.port, call_id=call_id, body=body, extra=extra)
        self.sock.sendall(data.replace(b"SIP/2.0/UDP", b"SIP/2.0/TCP", 1))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            head, separator, rest = self.buffer.partition(b"\r\n\r\n")
            if separator:
                length = int(header(head + b"\r\n", "Content-Length") or 0)
                if len(rest) >= length:
                    self.buffer = rest[length:]
                    return head
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buffer += chunk
        return None

    def close(self):
        self.sock.close()


def attack(hop_port, name, text, seconds):
    """Sends MESSAGEs carrying `text` over TCP, one after the other, for
    `seconds` (at most 100), from a process of its own: in this process the
    interpreter lock would delay the pinger's thread and blur what the hop
    does. Returns the response codes."""
    body = tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False)
    body.write(text)
    body.close()
    script = ("import json, sys, time\n"
              "from test_containment import TcpCaller\n"
              "from harness import status_of\n"
              f"text = open({body.name!r}).read()\n"
              f"caller = TcpCaller({hop_port})\n"
              "codes = []\n"
              "started = time.monotonic()\n"
              f"while time.monotonic() - started < {seconds} and len(codes) < 100:\n"
              f"    codes.append(status_of(caller.request('{name}-%d' % len(codes), text))[0])\n"
              "print(json.dumps(codes))\n")
    try:
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                                cwd=os.path.dirname(os.path.abspath(__file__)))
    finally:
        os.unlink(body.name)
    if result.returncode != 0:
        raise AssertionError("the attacking process failed: " + result.stderr[-2000:])
    return json.loads(result.stdout)


class ContainmentCase(HopTestCase):
    def setUp(self):
        super().setUp()
        self.dir = self.temp_dir("containment-")
        self.upstream = AnsweringPeer()
        self.cleanups.append(self.upstream.stop)

    def assert_stops_in_time(self, warden, grace_s):
        started = time.monotonic()
        code = warden.stop(timeout=grace_s + 5)
        self.assertEqual(code, 0, warden.output()[-3000:])
        self.assertLess(time.monotonic() - started, grace_s + 1.0)

    def assert_options_kept_answering(self, delays):
        self.assertGreaterEqual(len(delays), 20, "too few pings answered")
        self.assertLess(p99(delays), 0.100, f"OPTIONS p99 {p99(delays) * 1000:.1f} ms; worst {delays[-5:]}")


class HostileScripts(ContainmentCase):
    def test_each_hostile_script_is_stopped_and_the_hop_keeps_relaying(self):
        for name, (source, text, _) in HOSTILE.items():
            with self.subTest(script=name):
                script = os.path.join(self.dir, name + ".lua")
                write_file(script, source)
                config = json.dumps({"shutdown_grace_ms": 2000, "plugins": [
                    {"plugin": "lua_policy", "fail_mode": "closed", "fail_code": 503,
                     "methods": ["MESSAGE"], "scripts": [{"file": script}]}]})
                warden = self.hop("--upstream", f"127.0.0.1:{self.upstream.port}", config=config)
                pinger = Pinger(warden.port)
                try:
                    time.sleep(0.1)
                    codes = attack(warden.port, name, text or "hello", seconds=1.5)
                    time.sleep(0.2)
                finally:
                    delays = pinger.stop()
                self.assertGreater(len(codes), 3)
                self.assertEqual(codes, [503] * len(codes))
                self.assert_options_kept_answering(delays)
                # Traffic the script does not see (OPTIONS is local; an INFO
                # is not in `methods`) keeps flowing to the next hop.
                client = self.peer()
                info = message_request(client.port, call_id=f"{name}-info").replace(
                    b"MESSAGE sip:", b"INFO sip:").replace(b"CSeq: 1 MESSAGE", b"CSeq: 1 INFO")
                client.send(info, warden.port)
                self.assertEqual(status_of(client.recv(timeout=3))[0], 200)
                self.assertIn(f"{name}-info", self.upstream.call_ids)
                self.assert_stops_in_time(warden, 2.0)

    def test_a_burst_of_messages_that_each_run_to_the_deadline_is_shed(self):
        # 150 datagrams at once, each making the script run to its deadline
        # (50 ms): without a cap on the scripts' share of the SIP thread
        # they would hold it for 7.5 s, and every OPTIONS would wait.
        script = os.path.join(self.dir, "slow.lua")
        write_file(script, "function on_request(msg) while true do end end\n")
        config = json.dumps({"plugins": [
            {"plugin": "lua_policy", "fail_mode": "closed", "fail_code": 503, "instruction_budget": 2000000000,
             "methods": ["MESSAGE"], "scripts": [{"file": script}]}]})
        warden = self.hop("--upstream", f"127.0.0.1:{self.upstream.port}", config=config)
        pinger = Pinger(warden.port)
        sender = self.peer()
        try:
            time.sleep(0.2)
            for number in range(150):
                sender.send(message_request(sender.port, call_id=f"burst-{number}"), warden.port)
            answers = []
            deadline = time.monotonic() + 15
            while len(answers) < 150 and time.monotonic() < deadline:
                data = sender.recv(timeout=1)
                if data is not None and status_of(data)[0] != 100:
                    answers.append(status_of(data)[0])
            time.sleep(0.3)
        finally:
            delays = pinger.stop()
        self.assertEqual(answers, [503] * 150)
        self.assert_options_kept_answering(delays)
        warden.stop()
        log = warden.output()
        self.assertIn("deadline of 50 ms exceeded", log)
        self.assertIn("not run: the scripts used their share of the SIP thread", log)

    def test_policy_test_names_the_limit_file_and_line(self):
        message = os.path.join(self.dir, "message.sip")
        for name, (source, text, expected) in HOSTILE.items():
            with self.subTest(script=name):
                script = os.path.join(self.dir, name + ".lua")
                write_file(script, source)
                with open(message, "wb") as out:
                    out.write(message_request(5070, call_id=name, body=text or "hello"))
                started = time.monotonic()
                result = subprocess.run([BINARY, "policy", "test", "--script", script, message],
                                        capture_output=True, text=True, timeout=30)
                self.assertLess(time.monotonic() - started, 10)
                self.assertRegex(result.stdout + result.stderr, expected)

    def test_what_a_script_keeps_is_capped(self):
        script = os.path.join(self.dir, "hoarder.lua")
        # Caches a large text per sender in sw.shared, floods the log and adds
        # headers and tags without end: each must meet its cap.
        write_file(script,
              "function on_request(msg)\n"
              "  local what = msg:header('X-What')\n"
              "  if what == 'shared' then\n"
              "    for i = 1, 400 do sw.shared.set(msg.call_id .. i, string.rep('x', 60000)) end\n"
              "  elseif what == 'log' then\n"
              "    local line = string.rep('y', 5000)\n"
              "    for i = 1, 2000 do sw.log('info', line) end\n"
              "  elseif what == 'headers' then\n"
              "    for i = 1, 1000 do msg:add_header('X-Spam', string.rep('z', 1000)) end\n"
              "  elseif what == 'tags' then\n"
              "    for i = 1, 1000 do msg:tag('t' .. i, 'v') end\n"
              "  end\n"
              "end\n")
        config = json.dumps({"plugins": [
            {"plugin": "lua_policy", "fail_mode": "closed", "fail_code": 503, "deadline_ms": 1000,
             "instruction_budget": 50000000, "scripts": [{"file": script}]}]})
        warden = self.hop("--upstream", f"127.0.0.1:{self.upstream.port}", config=config)
        client = self.peer()
        rss_before = warden.rss_kb()
        for attempt in range(12):
            client.send(message_request(client.port, call_id=f"shared-{attempt}", extra="X-What: shared\r\n"),
                        warden.port)
            self.assertEqual(status_of(client.recv(timeout=5))[0], 503, "sw.shared must refuse when full")
        growth_mb = (warden.rss_kb() - rss_before) / 1024
        self.assertLess(growth_mb, 48, "sw.shared grew the hop past its 16 MiB cap")
        client.send(message_request(client.port, call_id="log-1", extra="X-What: log\r\n"), warden.port)
        self.assertEqual(status_of(client.recv(timeout=5))[0], 200)
        for what in ("headers", "tags"):
            client.send(message_request(client.port, call_id=f"{what}-1", extra=f"X-What: {what}\r\n"), warden.port)
            self.assertEqual(status_of(client.recv(timeout=5))[0], 503, what)
        warden.stop()
        log = warden.output()
        self.assertIn("sw.shared is full", log)
        self.assertIn("more than 64 edits in one call", log)
        self.assertIn("more than 64 tags in one call", log)
        self.assertLess(os.path.getsize(warden.log_path), 2_000_000, "sw.log wrote without a limit")
        self.assertIn("cut at 4 KiB", log)
        # The next line after a suppressed burst says how many were dropped.
        client2 = self.peer()
        warden2 = self.hop("--upstream", f"127.0.0.1:{self.upstream.port}", config=config)
        client2.send(message_request(client2.port, call_id="log-2", extra="X-What: log\r\n"), warden2.port)
        self.assertEqual(status_of(client2.recv(timeout=5))[0], 200)
        time.sleep(0.3)
        client2.send(message_request(client2.port, call_id="log-3", extra="X-What: log\r\n"), warden2.port)
        self.assertEqual(status_of(client2.recv(timeout=5))[0], 200)
        warden2.stop()
        self.assertRegex(warden2.output(), r"\(\d+ earlier lines suppressed: sw.log rate limit\)")


class StreamFairness(ContainmentCase):
    def test_a_client_that_keeps_its_tcp_socket_full_does_not_starve_udp(self):
        warden = self.hop("--upstream", f"127.0.0.1:{self.upstream.port}")
        pinger = Pinger(warden.port)
        # 30,000 pipelined OPTIONS (about 9 MB) written as fast as the hop
        # reads, their answers drained on a thread, from a process of its own.
        flood = ("import socket, sys, threading\n"
                 "sys.path.insert(0, '.')\n"
                 "from test_containment import options_request\n"
                 f"sock = socket.create_connection(('127.0.0.1', {warden.port}))\n"
                 "own = sock.getsockname()[1]\n"
                 "def drain():\n"
                 "    while sock.recv(1 << 20):\n"
                 "        pass\n"
                 "threading.Thread(target=drain, daemon=True).start()\n"
                 f"data = b''.join(options_request({warden.port}, own, n).replace(b'SIP/2.0/UDP', b'SIP/2.0/TCP')"
                 " for n in range(30000))\n"
                 "sock.sendall(data)\n"
                 "print(len(data))\n")
        try:
            time.sleep(0.2)
            result = subprocess.run([sys.executable, "-c", flood], capture_output=True, text=True, timeout=60,
                                    cwd=os.path.dirname(os.path.abspath(__file__)))
            time.sleep(0.3)
        finally:
            delays = pinger.stop()
        self.assertEqual(result.returncode, 0, result.stderr[-2000:])
        self.assert_options_kept_answering(delays)
        self.assert_stops_in_time(warden, 5.0)


class RunawayReload(ContainmentCase):
    def test_saving_a_runaway_or_broken_script_keeps_the_old_policy(self):
        script = os.path.join(self.dir, "policy.lua")
        good = ("function on_request(msg)\n"
                "  if msg:header('X-Probe') then msg:reply(488, 'Generation 1') end\n"
                "end\n")
        write_file(script, good)
        config = json.dumps({"shutdown_grace_ms": 2000,
                             "plugins": [{"plugin": "lua_policy", "scripts": [{"file": script}]}]})
        warden = self.hop("--upstream", f"127.0.0.1:{self.upstream.port}", config=config)
        client = self.peer()
        pinger = Pinger(warden.port)
        runaways = [
            "while true do pcall(function() while true do end end) end\nfunction on_request(msg) end\n",
            "local t = setmetatable({}, {__gc = function() while true do end end})\nfunction on_request(msg) end\n",
            "function on_request(msg)\n  if then end\nend\n",
            "local s = ('x' .. string.rep(' ', 60000) .. 'y'):match('^%s*(.-)%s*$')\nfunction on_request(msg) end\n",
        ]
        try:
            for number, text in enumerate(runaways):
                write_file(script, text)
                time.sleep(1.6)  # the watch looks once a second
                client.send(message_request(client.port, call_id=f"reload-{number}", extra="X-Probe: 1\r\n"),
                            warden.port)
                self.assertEqual(status_of(client.recv(timeout=3)), (488, "Generation 1"), text)
        finally:
            delays = pinger.stop()
        self.assert_options_kept_answering(delays)
        self.assert_stops_in_time(warden, 2.0)
        log = warden.output()
        self.assertEqual(log.count("reload failed, keeping the running chain"), len(runaways), log[-3000:])
        self.assertIn("policy.lua:1: instruction budget", log)
        self.assertIn("__gc is not allowed", log)


class Watchdog(ContainmentCase):
    def admin_hop(self, stall_ms, grace_ms=5000):
        self.admin_port = free_port()
        config = json.dumps({
            "watchdog_ms": 300, "shutdown_grace_ms": grace_ms,
            "admin": {"listen": f"127.0.0.1:{self.admin_port}",
                      "tokens": [{"name": "prom", "role": "metrics", "token": "m" * 32}]},
            "plugins": [{"plugin": "probe", "stall_ms": stall_ms}]})
        return self.hop("--upstream", f"127.0.0.1:{self.upstream.port}", config=config)

    def get(self, path, token=None):
        request = urllib.request.Request(f"http://127.0.0.1:{self.admin_port}{path}")
        if token:
            request.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(request, timeout=2) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def test_a_stalled_sip_thread_is_logged_counted_and_fails_healthz(self):
        warden = self.admin_hop(stall_ms=1500)
        self.assertEqual(self.get("/healthz")[0], 200)
        client = self.peer()
        client.send(message_request(client.port, call_id="stall-1", extra="X-Probe-Stall: 1\r\n"), warden.port)
        time.sleep(0.8)  # past watchdog_ms, inside the stall
        status, body = self.get("/healthz")
        self.assertEqual(status, 503, body)
        self.assertIn("probe stalling on purpose", body)
        self.assertEqual(status_of(client.recv(timeout=5))[0], 200)  # the stalled message still goes through
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and self.get("/healthz")[0] != 200:
            time.sleep(0.05)
        self.assertEqual(self.get("/healthz")[0], 200)
        time.sleep(1.2)  # the metrics snapshot is refreshed every second
        metrics = self.get("/metrics", token="m" * 32)[1]
        self.assertRegex(metrics, r"(?m)^sipwarden_sip_thread_stalls_total 1$")
        self.assertRegex(metrics, r"(?m)^sipwarden_sip_thread_stalled 0$")
        warden.stop()
        self.assertRegex(warden.output(), r"watchdog: SIP thread stalled for \d+ ms \(watchdog_ms 300\) in probe")

    def test_sigterm_ends_a_hop_stuck_in_a_filter(self):
        warden = self.admin_hop(stall_ms=120000, grace_ms=1000)
        client = self.peer()
        client.send(message_request(client.port, call_id="stuck-1", extra="X-Probe-Stall: 1\r\n"), warden.port)
        time.sleep(0.5)
        started = time.monotonic()
        warden.process.send_signal(signal.SIGTERM)
        code = warden.process.wait(timeout=10)
        self.assertLess(time.monotonic() - started, 1.0 + 1.0 + 0.5)
        self.assertEqual(code, 1)
        self.assertRegex(warden.output(), r"did not stop within the shutdown grace .* in probe stalling on purpose")


if __name__ == "__main__":
    import unittest
    unittest.main()
