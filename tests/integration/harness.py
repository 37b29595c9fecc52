"""Shared pieces for integration tests: start the real sipwarden binary on
loopback ports, fake next hops made of plain sockets, and SIPp runs.

Every wait here is bounded; every process started is stopped in tearDown.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.environ.get("SIPWARDEN_BINARY", os.path.join(ROOT, "build", "release", "sipwarden"))
SIPP_DIR = os.path.join(ROOT, "tests", "sipp")
CORPUS = os.path.join(ROOT, "tests", "corpus")
# A message's final code as the query tools read it (messages m): the newest
# outcome record, else the code the row was written with.
FINAL_CODE = ("coalesce((SELECT o.final_code FROM outcomes o WHERE o.message_id = m.id "
              "ORDER BY o.id DESC LIMIT 1), m.final_code)")


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port")


class Sipwarden:
    """The hop under test, run in the foreground as an operator would."""

    def __init__(self, *args, config=None, binary=None):
        self.binary = binary or BINARY
        self.port = free_port()
        self.args = list(args)
        self.config_path = None
        if config is not None:
            handle, self.config_path = tempfile.mkstemp(suffix=".json")
            with os.fdopen(handle, "w") as out:
                out.write(config)
        self.log_path = tempfile.mktemp(suffix=".log")
        self.process = None

    def start(self):
        command = [self.binary, "run"]
        if self.config_path:
            command += ["--config", self.config_path]
        command += ["--listen", f"udp:127.0.0.1:{self.port}", "--listen", f"tcp:127.0.0.1:{self.port}"]
        command += self.args
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("sipwarden exited at start:\n" + self.output())
            # The ready line itself: "Address already in use" holds "ready" too.
            if re.search(r" ready$", self.output(), re.M):
                return self
            time.sleep(0.02)
        raise RuntimeError("sipwarden did not become ready:\n" + self.output())

    def output(self):
        with open(self.log_path) as log:
            return log.read()

    def wait_for_output(self, text, timeout=5.0):
        """Waits up to `timeout` seconds for `text` in the log; returns the log
        (the caller asserts, so a miss fails with the whole log to read)."""
        deadline = time.time() + timeout
        while text not in self.output() and time.time() < deadline:
            time.sleep(0.05)
        return self.output()

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process:
            self.log.close()
        return self.process.returncode if self.process else None

    def rss_kb(self):
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0


class UdpPeer:
    """A plain UDP socket on loopback that plays caller or next hop."""

    def __init__(self, port=0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        self.port = self.sock.getsockname()[1]

    def send(self, data, port):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendto(data, ("127.0.0.1", port))

    def recv(self, timeout=2.0):
        """One datagram as bytes, or None after `timeout` seconds."""
        self.sock.settimeout(timeout)
        try:
            data, _ = self.sock.recvfrom(65535)
            return data
        except socket.timeout:
            return None

    def recv_all(self, quiet=0.3):
        """Everything that arrives until `quiet` seconds pass with nothing."""
        out = []
        while True:
            data = self.recv(quiet)
            if data is None:
                return out
            out.append(data)

    def close(self):
        self.sock.close()


def status_of(data):
    match = re.match(rb"SIP/2.0 (\d{3}) ([^\r\n]*)", data or b"")
    return (int(match.group(1)), match.group(2).decode("utf-8", "replace")) if match else (None, None)


def header(data, name):
    """First value of a header (long name, case-insensitive) in raw bytes."""
    for line in data.split(b"\r\n")[1:]:
        if not line:
            break
        key, _, value = line.partition(b":")
        if key.strip().lower() == name.lower().encode():
            return value.strip().decode("utf-8", "replace")
    return None


def reply_to(request, code, reason, extra=""):
    """A response to raw request bytes, as a UAS would write it."""
    head = request.split(b"\r\n\r\n", 1)[0]
    lines = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and lines:
            lines[-1] += b" " + line.strip()  # unfold (RFC 3261 §7.3.1)
        else:
            lines.append(line)
    kept = [l for l in lines[1:] if l.split(b":")[0].strip().lower() in
            (b"via", b"v", b"from", b"f", b"to", b"t", b"call-id", b"i", b"cseq", b"record-route")]
    out = f"SIP/2.0 {code} {reason}\r\n".encode() + b"\r\n".join(kept) + b"\r\n"
    return out + extra.encode() + b"Content-Length: 0\r\n\r\n"


def body_of(data):
    """The body of a SIP message as bytes."""
    return data.split(b"\r\n\r\n", 1)[1]


def plugins_config(*blocks, **extra):
    """A config file's text running the plugin `blocks` in order, with any
    other top-level settings."""
    return json.dumps(dict(plugins=list(blocks), **extra))


def corpus_sample(name, port, branch):
    """A message of tests/corpus/samples addressed back to a caller on `port`."""
    with open(os.path.join(CORPUS, "samples", name), "rb") as handle:
        data = handle.read()
    via = f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch={branch};rport".encode()
    return re.sub(rb"Via: SIP/2\.0/UDP [^\r\n]+", via, data, count=1)


def ack_for(invite, response):
    """The ACK for a non-2xx final response to `invite` (same branch)."""
    head = invite.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    uri = head[0].split(b" ")[1]
    keep = [l for l in head[1:] if l.split(b":")[0].lower() in (b"via", b"from", b"call-id", b"max-forwards")]
    to = [l for l in response.split(b"\r\n") if l.lower().startswith(b"to:")][0]
    return (b"ACK " + uri + b" SIP/2.0\r\n" + b"\r\n".join(keep) + b"\r\n" + to + b"\r\n"
            + b"CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n")


def write_file(path, text):
    with open(path, "w") as out:
        out.write(text)


def message_request(port, call_id="it-1", branch=None, body="hello", extra="", max_forwards=70):
    """A MESSAGE as a UA at 127.0.0.1:`port` sends it; a new transaction
    (branch) per Call-ID unless `branch` is given."""
    branch = branch or "z9hG4bK" + re.sub(r"[^A-Za-z0-9]", "", call_id)
    body_bytes = body.encode()
    return (f"MESSAGE sip:bob@127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch={branch};rport\r\n"
            f"Max-Forwards: {max_forwards}\r\n"
            f"From: <sip:alice@example.com>;tag=a1\r\n"
            f"To: <sip:bob@example.com>\r\n"
            f"Call-ID: {call_id}\r\n"
            f"CSeq: 1 MESSAGE\r\n"
            f"{extra}"
            f"Content-Type: text/plain\r\n"
            f"Content-Length: {len(body_bytes)}\r\n\r\n").encode() + body_bytes


class Sipp:
    """One SIPp run, bounded in calls and time."""

    def __init__(self, scenario, target=None, port=None, transport="u1", calls=10, rate=50, extra=(), background=False):
        self.port = port or free_port()
        command = ["sipp", "-sf", os.path.join(SIPP_DIR, scenario), "-i", "127.0.0.1", "-p", str(self.port),
                   "-t", transport, "-nostdin", "-timeout", "30s", "-timeout_error", "-d", "100"]
        if target:
            command.insert(3, target)
        if not background:
            command += ["-m", str(calls), "-r", str(rate)]
        command += list(extra)
        self.command = command
        self.background = background
        self.process = None
        self.workdir = tempfile.mkdtemp(prefix="sipp-")

    def start(self):
        self.process = subprocess.Popen(self.command, cwd=self.workdir, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT)
        time.sleep(0.3)
        return self

    def run(self, timeout=60):
        result = subprocess.run(self.command, cwd=self.workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                timeout=timeout)
        self.output = result.stdout.decode("utf-8", "replace")
        self.returncode = result.returncode
        return self

    def count(self, what):
        """Cumulative count of a statistics line such as 'Successful call'."""
        match = re.search(re.escape(what) + r"\s*\|\s*\d+\s*\|\s*(\d+)", self.output)
        return int(match.group(1)) if match else None

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class HopTestCase(unittest.TestCase):
    """Stops every process a test started, whatever happened."""

    def setUp(self):
        self.cleanups = []

    def tearDown(self):
        for cleanup in reversed(self.cleanups):
            try:
                cleanup()
            except Exception:
                pass

    def hop(self, *args, config=None):
        warden = Sipwarden(*args, config=config)
        self.cleanups.append(warden.stop)
        return warden.start()

    def peer(self, port=0):
        peer = UdpPeer(port)
        self.cleanups.append(peer.close)
        return peer

    def answered_hop(self, *args, config=None):
        """A hop forwarding to an AnsweringPeer that answers 200; returns both."""
        upstream = AnsweringPeer()
        self.cleanups.append(upstream.stop)
        return self.hop("--upstream", f"127.0.0.1:{upstream.port}", *args, config=config), upstream

    def temp_dir(self, prefix):
        """A directory of this test's own, removed with its contents in tearDown."""
        path = tempfile.mkdtemp(prefix=prefix)
        self.cleanups.append(lambda: shutil.rmtree(path, ignore_errors=True))
        return path

    def start_relay(self, *args, config=None):
        """A next hop (self.upstream), a hop forwarding to it with `args` and
        `config` (self.warden), and a caller (self.caller); returns the three."""
        self.upstream = self.peer()
        self.warden = self.hop("--upstream", f"127.0.0.1:{self.upstream.port}", *args, config=config)
        self.caller = self.peer()
        return self.upstream, self.warden, self.caller

    def relay(self, request):
        """Sends `request` from the caller through the hop, answers it 200 at
        the next hop, checks the caller gets that 200; returns what the next
        hop got."""
        self.caller.send(request, self.warden.port)
        forwarded = self.upstream.recv()
        self.assertIsNotNone(forwarded, "the request reaches the next hop")
        self.upstream.send(reply_to(forwarded, 200, "OK"), self.warden.port)
        self.assertEqual(status_of(self.caller.recv())[0], 200)
        return forwarded

    def final_response(self):
        """The first non-100 response the caller gets."""
        while True:
            data = self.caller.recv()
            self.assertIsNotNone(data, "no final response")
            if status_of(data)[0] != 100:
                return data

    def background(self, command, log_path, env=None, stop_signal=signal.SIGTERM, stop_timeout=10):
        """Starts another program (a softphone, a second proxy) with its
        output in `log_path`; it is stopped in tearDown with `stop_signal`,
        then killed after `stop_timeout` seconds."""
        log = open(log_path, "w")
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

        def stop():
            if process.poll() is None:
                process.send_signal(stop_signal)
                try:
                    process.wait(timeout=stop_timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            log.close()
        self.cleanups.append(stop)
        return process

    def kill_under_load(self, config):
        """Runs a hop with `config` in front of an answering next hop, kills
        it with SIGKILL two seconds into SIPp MESSAGEs at 400/s, and returns
        the Call-IDs that reached the next hop."""
        warden, upstream = self.answered_hop(config=config)
        load = Sipp("uac_message.xml", target=f"127.0.0.1:{warden.port}", calls=5000, rate=400)
        load.start()
        self.cleanups.append(load.stop)
        time.sleep(2.0)
        warden.stop(sig=signal.SIGKILL)
        load.stop()
        time.sleep(0.3)
        return set(upstream.call_ids)

    def sipp_background(self, scenario, **kwargs):
        sipp = Sipp(scenario, background=True, **kwargs)
        self.cleanups.append(sipp.stop)
        return sipp.start()


class AnsweringPeer:
    """A next hop on a thread: answers every request with `code` and
    remembers the Call-IDs it received (bounded by the test's traffic)."""

    def __init__(self, code=200):
        import threading
        self.peer = UdpPeer()
        self.port = self.peer.port
        self.code = code
        self.call_ids = set()
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            data = self.peer.recv(timeout=0.2)
            if not data or data.startswith(b"SIP/2.0") or data.startswith(b"ACK"):
                continue
            call_id = header(data, "Call-ID") or header(data, "i")
            self.call_ids.add(call_id)
            try:
                self.peer.sock.sendto(reply_to(data, self.code, "OK"), self._source(data))
            except OSError:
                pass

    @staticmethod
    def _source(data):
        via = header(data, "Via") or ""
        match = re.search(r"SIP/2.0/UDP ([0-9.]+):(\d+)", via)
        return (match.group(1), int(match.group(2)))

    def stop(self):
        self.running = False
        self.thread.join(timeout=2)
        self.peer.close()
