"""Who may pass and how fast, on the real hop: source allow lists (403 or
silence), per-source MESSAGE rate limits (503 + Retry-After), the cap on TCP
connections from one address, and config errors naming the key. Clients
use other loopback addresses (127.0.0.2, .3) than the upstream (127.0.0.1),
which is exempt from both."""
import json
import socket
import subprocess
import tempfile
import time

from harness import BINARY, HopTestCase, header, message_request, status_of


def client(host):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    sock.settimeout(1.0)
    return sock


def request_from(sock, call_id):
    port = sock.getsockname()[1]
    text = message_request(port, call_id=call_id)
    return text.replace(b"127.0.0.1:%d" % port, b"%s:%d" % (sock.getsockname()[0].encode(), port))


def receive(sock, timeout=1.0):
    sock.settimeout(timeout)
    try:
        return sock.recv(65536)
    except socket.timeout:
        return None


class Admission(HopTestCase):
    def hop_with(self, settings):
        upstream = self.peer()
        warden = self.hop("--upstream", f"127.0.0.1:{upstream.port}", config=json.dumps(settings))
        return warden, upstream

    def test_sources_outside_the_allow_list_get_403(self):
        warden, upstream = self.hop_with({"access": {"allow": ["127.0.0.1/32", "10.0.0.0/8"]}})
        outsider = client("127.0.0.2")
        self.cleanups.append(outsider.close)
        outsider.sendto(request_from(outsider, "acl-1"), ("127.0.0.1", warden.port))
        reply = receive(outsider)
        self.assertIsNotNone(reply)
        self.assertEqual(status_of(reply)[0], 403)
        self.assertIsNone(upstream.recv(timeout=0.3))
        # the upstream's own address is exempt, and so is an allowed one
        insider = self.peer()
        insider.send(message_request(insider.port, call_id="acl-2"), warden.port)
        self.assertIsNotNone(upstream.recv())

    def test_denied_drop_answers_nothing(self):
        warden, upstream = self.hop_with({"access": {"allow": ["192.0.2.0/24"], "denied": "drop"}})
        outsider = client("127.0.0.2")
        self.cleanups.append(outsider.close)
        outsider.sendto(request_from(outsider, "acl-3"), ("127.0.0.1", warden.port))
        self.assertIsNone(receive(outsider, 0.8))
        self.assertIsNone(upstream.recv(timeout=0.2))

    def test_message_rate_per_source_answers_503_with_retry_after(self):
        warden, upstream = self.hop_with({"rate_limits": {"message_per_second": 2, "burst_seconds": 1,
                                                          "retry_after_s": 7}})
        chatty = client("127.0.0.2")
        quiet = client("127.0.0.3")
        self.cleanups += [chatty.close, quiet.close]
        for i in range(6):
            chatty.sendto(request_from(chatty, f"rate-{i}"), ("127.0.0.1", warden.port))
        replies = [receive(chatty, 0.5) for _ in range(4)]
        self.assertTrue(all(replies), replies)
        for reply in replies:
            self.assertEqual(status_of(reply)[0], 503)
            self.assertEqual(header(reply, "Retry-After"), "7")
        forwarded = [upstream.recv(timeout=0.5) for _ in range(2)]
        self.assertTrue(all(forwarded))
        self.assertIsNone(upstream.recv(timeout=0.3))
        # another source has its own bucket
        quiet.sendto(request_from(quiet, "rate-quiet"), ("127.0.0.1", warden.port))
        self.assertIsNotNone(upstream.recv())
        # and the chatty one gets a token back after half a second
        time.sleep(0.6)
        chatty.sendto(request_from(chatty, "rate-later"), ("127.0.0.1", warden.port))
        self.assertIsNotNone(upstream.recv())

    def test_tcp_connections_per_source_are_capped(self):
        warden, _ = self.hop_with({"tcp": {"max_connections_per_source": 3}})
        opened = []
        for _ in range(5):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.2", 0))
            sock.connect(("127.0.0.1", warden.port))
            sock.settimeout(1.0)
            opened.append(sock)
            self.cleanups.append(sock.close)
            time.sleep(0.1)

        def closed_by_hop(sock):
            try:
                return sock.recv(1) == b""
            except socket.timeout:
                return False
            except ConnectionResetError:
                return True

        states = [closed_by_hop(sock) for sock in opened]
        self.assertEqual(states, [False, False, False, True, True])
        other = socket.create_connection(("127.0.0.1", warden.port), timeout=1.0)
        self.cleanups.append(other.close)
        other.sendall(b"\r\n\r\n")  # a keep-alive ping is answered with a pong
        self.assertEqual(other.recv(16), b"\r\n")

    def test_bad_settings_name_the_key(self):
        for settings, key in (({"access": {"allow": ["10.0.0/8"]}}, "access.allow[0]"),
                              ({"access": {"denied": "ignore"}}, "access.denied"),
                              ({"rate_limits": {"message_per_second": -1}}, "rate_limits.message_per_second"),
                              ({"rate_limits": {"per_second": 1}}, "rate_limits.per_second")):
            with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as out:
                json.dump(settings, out)
            result = subprocess.run([BINARY, "check-config", out.name], capture_output=True, text=True, timeout=10)
            self.assertEqual(result.returncode, 1, settings)
            self.assertIn(key, result.stderr)
