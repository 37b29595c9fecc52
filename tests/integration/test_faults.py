"""Hostile input and broken neighbours, bounded in count and time: a flood
of 100,000 malformed datagrams with valid messages interleaved (every valid
one still delivered, RSS flat), a TCP stream of garbage, an upstream that
answers after Timer F, and an upstream that resets every TCP connection."""
import os
import random
import socket
import threading
import time

from harness import (CORPUS, AnsweringPeer, HopTestCase, header, message_request, reply_to, status_of)


def malformed(rng, templates):
    """One hostile datagram: random bytes, a cut or corrupted real message,
    or a message with absurd values."""
    kind = rng.randrange(5)
    if kind == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))
    template = rng.choice(templates)
    if kind == 1:
        return template[:rng.randrange(1, len(template))]
    if kind == 2:
        data = bytearray(template)
        for _ in range(rng.randrange(1, 20)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return bytes(data)
    if kind == 3:
        return template.replace(b"Content-Length: ", b"Content-Length: 99999", 1)
    return template.replace(b"CSeq: 1 ", b"CSeq: 99999999999999999999 ", 1)


class Flood(HopTestCase):
    def test_malformed_flood_with_valid_messages_interleaved(self):
        upstream = AnsweringPeer()
        self.cleanups.append(upstream.stop)
        warden = self.hop("--upstream", f"127.0.0.1:{upstream.port}")
        sender = self.peer()
        templates = [message_request(sender.port, call_id=f"template-{i}") for i in range(3)]
        torture = os.path.join(CORPUS, "conformance", "rfc4475")
        for name in sorted(os.listdir(torture))[:20]:
            with open(os.path.join(torture, name), "rb") as source:
                templates.append(source.read())
        rng = random.Random(4475)
        valid = {}
        answered = set()
        done = threading.Event()

        def collect():
            while not done.is_set():
                data = sender.recv(timeout=0.2)
                if data and status_of(data)[0] == 200:
                    answered.add(header(data, "Call-ID"))

        collector = threading.Thread(target=collect, daemon=True)
        collector.start()
        total, rss_early = 100_000, None
        started = time.time()
        for i in range(total):
            if i % 500 == 0:
                call_id = f"valid-{i}"
                valid[call_id] = message_request(sender.port, call_id=call_id)
                sender.send(valid[call_id], warden.port)
            sender.send(malformed(rng, templates), warden.port)
            if i % 1000 == 999:
                time.sleep(0.05)  # about 20,000 datagrams a second
            if i == 10_000:
                rss_early = warden.rss_kb()
        # a UA retransmits what was not answered (Timer E); the kernel may
        # drop datagrams in a burst, the hop must not lose accepted ones
        for _ in range(10):
            time.sleep(0.5)
            missing = [call_id for call_id in valid if call_id not in answered]
            if not missing:
                break
            for call_id in missing:
                sender.send(valid[call_id], warden.port)
        done.set()
        collector.join(timeout=2)
        self.assertLess(time.time() - started, 120)
        self.assertEqual(sorted(set(valid) - answered), [])
        self.assertEqual(warden.process.poll(), None, "the hop died")
        growth = warden.rss_kb() - rss_early
        self.assertLess(growth, 8 * 1024, f"RSS grew by {growth} kB")

    def test_tcp_stream_of_garbage(self):
        upstream = AnsweringPeer()
        self.cleanups.append(upstream.stop)
        warden = self.hop("--upstream", f"127.0.0.1:{upstream.port}")
        rng = random.Random(5118)
        garbage = socket.create_connection(("127.0.0.1", warden.port), timeout=2)
        self.cleanups.append(garbage.close)
        try:
            for _ in range(256):
                garbage.sendall(bytes(rng.randrange(256) for _ in range(4096)))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the hop may cut a stream it cannot frame
        caller = self.peer()
        caller.send(message_request(caller.port, call_id="after-tcp-garbage"), warden.port)
        self.assertEqual(status_of(caller.recv(timeout=5))[0], 200)
        clean = socket.create_connection(("127.0.0.1", warden.port), timeout=2)
        self.cleanups.append(clean.close)
        clean.sendall(b"\r\n\r\n")
        self.assertEqual(clean.recv(16), b"\r\n")


class BrokenUpstreams(HopTestCase):
    def test_upstream_answering_after_timer_f_gets_the_caller_408(self):
        upstream = self.peer()
        warden = self.hop("--upstream", f"127.0.0.1:{upstream.port}", config='{"timers": {"t1_ms": 50}}')
        caller = self.peer()
        caller.send(message_request(caller.port, call_id="slow-1"), warden.port)
        request = upstream.recv()
        self.assertIsNotNone(request)
        started = time.time()
        reply = caller.recv(timeout=10)
        self.assertEqual(status_of(reply)[0], 408)
        self.assertLess(time.time() - started, 8)  # Timer F = 64 x T1 = 3.2 s
        time.sleep(0.5)
        # Far too late: the client transaction is gone, so RFC 3261 §16.7
        # has the hop relay it statelessly; the caller's transaction, already
        # completed by the 408, absorbs it.
        upstream.send(reply_to(request, 200, "OK"), warden.port)
        late = caller.recv(timeout=1.0)
        self.assertTrue(late is None or status_of(late)[0] == 200)
        caller.send(message_request(caller.port, call_id="slow-2"), warden.port)
        self.assertIsNotNone(upstream.recv())  # and the hop goes on

    def test_upstream_resetting_tcp_connections(self):
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        server.settimeout(0.2)
        self.cleanups.append(server.close)
        resets = []
        stop = threading.Event()

        def reset_every_connection():
            while not stop.is_set():
                try:
                    connection, _ = server.accept()
                except socket.timeout:
                    continue
                connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                connection.close()  # linger 0: RST
                resets.append(1)

        thread = threading.Thread(target=reset_every_connection, daemon=True)
        thread.start()
        self.cleanups.append(stop.set)
        port = server.getsockname()[1]
        warden = self.hop("--upstream", f"127.0.0.1:{port};transport=tcp", config='{"timers": {"t1_ms": 50}}')
        caller = self.peer()
        for i in range(5):
            caller.send(message_request(caller.port, call_id=f"reset-{i}"), warden.port)
            reply = caller.recv(timeout=8)
            self.assertIn(status_of(reply)[0], (408, 503), reply)
        self.assertGreater(len(resets), 0)
        self.assertEqual(warden.process.poll(), None)
