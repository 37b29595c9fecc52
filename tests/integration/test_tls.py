"""TLS on the real hop: a test CA made at test time, TLS in and UDP out
(and back) with the double Record-Route, TLS to a next hop with its
certificate checked, mutual TLS with an allowed-subjects list, TLS 1.2 as
the floor, certificate reload on SIGHUP, and config errors naming the key.
SIPp in Debian is built without TLS, so the TLS side is Python's ssl."""
import json
import os
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
import unittest

from harness import BINARY, HopTestCase, free_port, message_request, reply_to, status_of
from tls_support import TestCa, TlsClient, TlsNextHop, WithTestCa, client_context


def tls_request(method, client_port, call_id, request_uri="sip:bob@example.com", extra="", body="hello",
                cseq=1, to_tag=""):
    body_bytes = body.encode()
    to = "<sip:bob@example.com>" + (f";tag={to_tag}" if to_tag else "")
    content_type = "Content-Type: text/plain\r\n" if body_bytes else ""
    return (f"{method} {request_uri} SIP/2.0\r\n"
            f"Via: SIP/2.0/TLS 127.0.0.1:{client_port};branch=z9hG4bK{call_id}{method}{cseq}\r\n"
            f"Max-Forwards: 70\r\n"
            f"From: <sip:alice@example.com>;tag=alice1\r\n"
            f"To: {to}\r\n"
            f"Call-ID: {call_id}\r\n"
            f"CSeq: {cseq} {method}\r\n"
            f"Contact: <sip:alice@127.0.0.1:{client_port};transport=tls>\r\n"
            f"{extra}{content_type}"
            f"Content-Length: {len(body_bytes)}\r\n\r\n").encode() + body_bytes


def values(message, name):
    out = []
    for line in message.split(b"\r\n\r\n")[0].split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name.lower().encode():
            out += [v.strip().decode() for v in value.split(b",")]
    return out


class TlsTestCase(WithTestCa, HopTestCase):
    HOP_NAME = "hop-one.test"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.alice_cert, cls.alice_key = cls.ca.issue("alice", "alice-ua", "DNS:alice.example.com")
        cls.mallory_cert, cls.mallory_key = cls.ca.issue("mallory", "mallory-ua", "DNS:mallory.example.com")
        cls.upstream_cert, cls.upstream_key = cls.ca.issue("upstream", "upstream.test")
        cls.rogue = TestCa(cls.dir, "rogue CA")
        cls.rogue_cert, cls.rogue_key = cls.rogue.issue("rogue-upstream", "upstream.test")

    def tls_hop(self, tls=None, upstream_args=(), extra=None):
        self.tls_port = free_port()
        settings = {"tls": tls or {"certificate": self.hop_cert, "private_key": self.hop_key, "ca": self.ca.cert}}
        settings.update(extra or {})
        return self.hop("--listen", f"tls:127.0.0.1:{self.tls_port}", *upstream_args, config=json.dumps(settings))

    def client(self, cert=None, key=None, **kwargs):
        client = TlsClient(self.tls_port, client_context(self.ca.cert, cert, key), **kwargs)
        self.cleanups.append(client.close)
        return client


class TlsIn(TlsTestCase):
    def test_message_over_tls_goes_out_over_udp_and_the_answer_comes_back(self):
        upstream = self.peer()
        warden = self.tls_hop(upstream_args=("--upstream", f"127.0.0.1:{upstream.port}"))
        client = self.client()
        client.send(tls_request("MESSAGE", client.port, "tls-msg-1"))
        forwarded = upstream.recv()
        self.assertIsNotNone(forwarded, warden.output())
        via = values(forwarded, "Via")
        self.assertTrue(via[0].startswith(f"SIP/2.0/UDP 127.0.0.1:{warden.port};branch=z9hG4bK"), via)
        self.assertTrue(via[1].startswith(f"SIP/2.0/TLS 127.0.0.1:{client.port}"), via)
        self.assertTrue(forwarded.endswith(b"hello"))
        upstream.send(reply_to(forwarded, 200, "OK"), warden.port)
        answer = client.recv()
        self.assertEqual(status_of(answer)[0], 200, warden.output())
        self.assertEqual(len(values(answer, "Via")), 1, "our Via is removed")

    def test_dialog_keeps_each_side_on_its_transport(self):
        upstream = self.peer()
        warden = self.tls_hop(upstream_args=("--upstream", f"127.0.0.1:{upstream.port}"))
        client = self.client()
        client.send(tls_request("INVITE", client.port, "tls-call-1", body=""))
        self.assertEqual(status_of(client.recv())[0], 100)
        invite = upstream.recv()
        self.assertIsNotNone(invite, warden.output())
        record_route = values(invite, "Record-Route")
        self.assertEqual(record_route, [f"<sip:127.0.0.1:{warden.port};lr>",
                                        f"<sip:127.0.0.1:{self.tls_port};transport=tls;lr>"])
        ok = reply_to(invite, 200, "OK", f"Contact: <sip:bob@127.0.0.1:{upstream.port}>\r\n")
        ok = ok.replace(b"To: <sip:bob@example.com>", b"To: <sip:bob@example.com>;tag=bob1")
        upstream.send(ok, warden.port)
        answer = client.recv()
        self.assertEqual(status_of(answer)[0], 200, warden.output())
        self.assertEqual(values(answer, "Record-Route"), record_route)

        # The callee hangs up over UDP with the route set reversed; the hop
        # takes both of its entries and reaches the caller over its TLS
        # connection (the Contact names it).
        bye = (f"BYE sip:alice@127.0.0.1:{client.port};transport=tls SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP 127.0.0.1:{upstream.port};branch=z9hG4bKbyeup1\r\n"
               f"Route: {record_route[0]}, {record_route[1]}\r\n"
               "Max-Forwards: 70\r\nFrom: <sip:bob@example.com>;tag=bob1\r\n"
               "To: <sip:alice@example.com>;tag=alice1\r\nCall-ID: tls-call-1\r\nCSeq: 1 BYE\r\n"
               "Content-Length: 0\r\n\r\n").encode()
        upstream.send(bye, warden.port)
        relayed = client.recv()
        self.assertIsNotNone(relayed, warden.output())
        self.assertTrue(relayed.startswith(b"BYE sip:alice@127.0.0.1"), relayed)
        self.assertEqual(values(relayed, "Route"), [], "both of our Route entries are consumed")
        self.assertTrue(values(relayed, "Via")[0].startswith(f"SIP/2.0/TLS 127.0.0.1:{self.tls_port}"))
        client.send(reply_to(relayed, 200, "OK"))
        self.assertEqual(status_of(upstream.recv())[0], 200, warden.output())

    def test_tls_below_1_2_is_refused(self):
        warden = self.tls_hop()
        context = client_context(self.ca.cert)
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
        with self.assertRaises((ssl.SSLError, OSError)):
            TlsClient(self.tls_port, context)
        self.assertIn("unsupported protocol", warden.wait_for_output("unsupported protocol", timeout=2),
                      "the hop, not the client, refused")
        # and TLS 1.2 exactly is accepted
        context = client_context(self.ca.cert)
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        client = TlsClient(self.tls_port, context)
        self.cleanups.append(client.close)
        self.assertEqual(client.sock.version(), "TLSv1.2")

    def test_a_silent_connection_is_closed_after_the_header_timeout(self):
        import socket
        self.tls_hop(extra={"tcp": {"header_timeout_ms": 300}})
        raw = socket.create_connection(("127.0.0.1", self.tls_port), timeout=5)
        self.cleanups.append(raw.close)
        started = time.time()
        self.assertEqual(raw.recv(10), b"", "the hop closes a handshake that never starts")
        self.assertLess(time.time() - started, 4)


class MutualTls(TlsTestCase):
    def mtls_hop(self, upstream):
        return self.tls_hop(tls={"certificate": self.hop_cert, "private_key": self.hop_key, "ca": self.ca.cert,
                                 "verify_client": "required", "allowed_subjects": ["alice-ua"]},
                            upstream_args=("--upstream", f"127.0.0.1:{upstream.port}"))

    def test_an_allowed_client_certificate_passes(self):
        upstream = self.peer()
        warden = self.mtls_hop(upstream)
        client = self.client(self.alice_cert, self.alice_key)
        client.send(tls_request("MESSAGE", client.port, "mtls-1"))
        self.assertIsNotNone(upstream.recv(), warden.output())

    def test_a_certificate_outside_the_list_or_none_is_refused(self):
        upstream = self.peer()
        warden = self.mtls_hop(upstream)
        for cert, key in ((self.mallory_cert, self.mallory_key), (None, None)):
            try:
                client = self.client(cert, key)
                # TLS 1.3 completes the client's side before the server has
                # judged its certificate; the refusal shows as a close.
                client.send(tls_request("MESSAGE", client.port, "mtls-refused"))
                self.assertIsNone(client.recv())
            except (ssl.SSLError, OSError):
                pass
        self.assertIsNone(upstream.recv(timeout=0.5))
        output = warden.output()
        self.assertIn("mallory-ua", output)
        self.assertIn("not in tls.allowed_subjects", output)


class TlsOut(TlsTestCase):
    def answer_ok(self, message):
        return None if message.startswith(b"ACK") else reply_to(message, 200, "OK")

    def send_over_tls(self, certificate, key, call_id):
        """One MESSAGE from a UDP caller through a hop whose next hop, over
        TLS, presents `certificate`; returns the hop, the next hop and the
        caller's reply."""
        next_hop = TlsNextHop(certificate, key, self.answer_ok)
        self.cleanups.append(next_hop.stop)
        warden = self.tls_hop(upstream_args=("--upstream", f"127.0.0.1:{next_hop.port};transport=tls"))
        caller = self.peer()
        caller.send(message_request(caller.port, call_id=call_id), warden.port)
        return warden, next_hop, caller.recv(timeout=3)

    def test_udp_in_tls_out_to_a_verified_next_hop(self):
        warden, next_hop, reply = self.send_over_tls(self.upstream_cert, self.upstream_key, "tls-out-1")
        self.assertEqual(status_of(reply)[0], 200, warden.output())
        self.assertEqual(len(next_hop.received), 1)
        via = values(next_hop.received[0], "Via")
        self.assertTrue(via[0].startswith(f"SIP/2.0/TLS 127.0.0.1:{self.tls_port};branch="), via)

    def test_a_next_hop_with_an_untrusted_certificate_is_not_used(self):
        warden, next_hop, reply = self.send_over_tls(self.rogue_cert, self.rogue_key, "tls-out-2")
        self.assertIn(status_of(reply)[0], (408, 503), reply)
        self.assertEqual(next_hop.received, [], "nothing is sent to an unverified peer")
        self.assertIn("certificate verify failed", warden.output())

    def test_client_certificate_presented_to_a_next_hop_that_asks(self):
        next_hop = TlsNextHop(self.upstream_cert, self.upstream_key, self.answer_ok, ca=self.ca.cert,
                              require_client_cert=True)
        self.cleanups.append(next_hop.stop)
        warden = self.tls_hop(tls={"certificate": self.hop_cert, "private_key": self.hop_key, "ca": self.ca.cert,
                                   "client_certificate": self.hop_cert, "client_private_key": self.hop_key},
                              upstream_args=("--upstream", f"127.0.0.1:{next_hop.port};transport=tls"))
        caller = self.peer()
        caller.send(message_request(caller.port, call_id="tls-out-3"), warden.port)
        self.assertEqual(status_of(caller.recv(timeout=3))[0], 200, warden.output())
        subject = dict(item[0] for item in next_hop.peer_certificates[0]["subject"])
        self.assertEqual(subject["commonName"], "hop-one.test")


class Reload(TlsTestCase):
    def test_sighup_rereads_the_certificate_and_open_connections_stay(self):
        live_cert = os.path.join(self.dir, "live.pem")
        live_key = os.path.join(self.dir, "live.key")
        shutil.copy(self.hop_cert, live_cert)
        shutil.copy(self.hop_key, live_key)
        upstream = self.peer()
        warden = self.tls_hop(tls={"certificate": live_cert, "private_key": live_key},
                              upstream_args=("--upstream", f"127.0.0.1:{upstream.port}"))
        before = self.client()
        self.assertEqual(dict(i[0] for i in before.sock.getpeercert()["subject"])["commonName"], "hop-one.test")

        renewed_cert, renewed_key = self.ca.issue("hop-two", "hop-two.test")
        shutil.copy(renewed_cert, live_cert)
        shutil.copy(renewed_key, live_key)
        warden.process.send_signal(signal.SIGHUP)
        self.assertIn("TLS certificates re-read", warden.wait_for_output("TLS certificates re-read"))
        after = self.client()
        self.assertEqual(dict(i[0] for i in after.sock.getpeercert()["subject"])["commonName"], "hop-two.test")

        before.send(tls_request("MESSAGE", before.port, "reload-old-conn"))
        self.assertIsNotNone(upstream.recv(), "the connection opened before the reload still works")

    def test_a_broken_certificate_on_reload_keeps_the_running_one(self):
        live_cert = os.path.join(self.dir, "live2.pem")
        live_key = os.path.join(self.dir, "live2.key")
        shutil.copy(self.hop_cert, live_cert)
        shutil.copy(self.hop_key, live_key)
        warden = self.tls_hop(tls={"certificate": live_cert, "private_key": live_key})
        with open(live_cert, "w") as out:
            out.write("not a certificate\n")
        warden.process.send_signal(signal.SIGHUP)
        kept = "keeping the running TLS certificates"
        self.assertIn(kept, warden.wait_for_output(kept))
        client = self.client()
        self.assertEqual(dict(i[0] for i in client.sock.getpeercert()["subject"])["commonName"], "hop-one.test")


class AdminHttps(TlsTestCase):
    TOKEN = "metrics-token-0123456789abcdef"

    def test_admin_api_over_https_and_not_over_plain_http(self):
        import urllib.request
        import urllib.error
        port = free_port()
        admin = {"listen": f"127.0.0.1:{port}", "tls": {"certificate": self.hop_cert, "private_key": self.hop_key},
                 "tokens": [{"name": "prom", "role": "metrics", "token": self.TOKEN}]}
        warden = self.hop(config=json.dumps({"admin": admin}))
        self.assertIn(f"https://127.0.0.1:{port}", warden.output())
        request = urllib.request.Request(f"https://127.0.0.1:{port}/metrics",
                                         headers={"Authorization": "Bearer " + self.TOKEN})
        context = client_context(self.ca.cert)
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            self.assertEqual(response.status, 200)
            self.assertIn(b"sipwarden_", response.read())
        with self.assertRaises((urllib.error.URLError, ConnectionError, OSError)):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).read()

    def test_tls_counters_in_metrics(self):
        import urllib.request
        port = free_port()
        admin = {"listen": f"127.0.0.1:{port}", "tokens": [{"name": "prom", "role": "metrics", "token": self.TOKEN}]}
        self.tls_hop(extra={"admin": admin})
        self.client()  # one good handshake
        bad = client_context(self.ca.cert)
        bad.maximum_version = ssl.TLSVersion.TLSv1_2
        bad.set_ciphers("AES128-SHA")  # no forward secrecy: the hop refuses it
        with self.assertRaises((ssl.SSLError, OSError)):
            TlsClient(self.tls_port, bad)
        deadline = time.time() + 5
        text = ""
        while time.time() < deadline:  # the snapshot is refreshed once a second
            request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics",
                                             headers={"Authorization": "Bearer " + self.TOKEN})
            text = urllib.request.urlopen(request, timeout=5).read().decode()
            if "sipwarden_tls_failures_total 1" in text and "sipwarden_tls_handshakes_total 1" in text:
                break
            time.sleep(0.2)
        self.assertIn("sipwarden_tls_handshakes_total 1", text)
        self.assertIn("sipwarden_tls_failures_total 1", text)

    def test_a_non_loopback_admin_address_is_accepted_with_tls_only(self):
        path = os.path.join(self.dir, "admin-remote.json")
        admin = {"listen": "0.0.0.0:18443", "tokens": [{"name": "prom", "role": "metrics", "token": self.TOKEN}]}
        with open(path, "w") as out:
            json.dump({"admin": admin}, out)
        result = subprocess.run([BINARY, "check-config", path], capture_output=True, text=True, timeout=20)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("admin.listen", result.stderr)
        admin["tls"] = {"certificate": self.hop_cert, "private_key": self.hop_key}
        with open(path, "w") as out:
            json.dump({"admin": admin}, out)
        result = subprocess.run([BINARY, "check-config", path], capture_output=True, text=True, timeout=20)
        self.assertEqual(result.returncode, 0, result.stderr)
        admin["tls"]["private_key"] = self.alice_key
        with open(path, "w") as out:
            json.dump({"admin": admin}, out)
        result = subprocess.run([BINARY, "check-config", path], capture_output=True, text=True, timeout=20)
        self.assertIn("admin.tls", result.stderr)


class Example(TlsTestCase):
    def test_the_tls_example_config_runs_with_its_certificate_script(self):
        from harness import ROOT
        work = tempfile.mkdtemp(dir=self.dir)
        os.makedirs(os.path.join(work, "tls"))
        shutil.copy(os.path.join(ROOT, "examples", "tls", "make-test-certs.sh"), os.path.join(work, "tls"))
        with open(os.path.join(ROOT, "examples", "sipwarden-tls.json")) as example:
            config = example.read()
        subprocess.run(["bash", os.path.join(work, "tls", "make-test-certs.sh")], check=True, timeout=60,
                       capture_output=True)
        path = os.path.join(work, "sipwarden-tls.json")
        with open(path, "w") as out:
            out.write(config)
        result = subprocess.run([BINARY, "check-config", path], capture_output=True, text=True, timeout=20)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.tls_port = free_port()
        warden = self.hop("--config", path, "--listen", f"tls:127.0.0.1:{self.tls_port}")
        client = TlsClient(self.tls_port, client_context(os.path.join(work, "tls", "ca.pem")))
        self.cleanups.append(client.close)
        self.assertEqual(dict(i[0] for i in client.sock.getpeercert()["subject"])["commonName"], "sipwarden.example",
                         warden.output())


class ConfigErrors(TlsTestCase):
    def check(self, settings, listen_tls=True):
        if listen_tls:
            settings = dict(settings, listen=["udp:127.0.0.1:5999", "tls:127.0.0.1:5998"])
        handle, path = tempfile.mkstemp(suffix=".json")
        self.cleanups.append(lambda: os.unlink(path))
        with os.fdopen(handle, "w") as out:
            json.dump(settings, out)
        result = subprocess.run([BINARY, "check-config", path], capture_output=True, text=True, timeout=20)
        self.assertNotEqual(result.returncode, 0)
        return result.stderr

    def test_tls_listener_without_a_certificate(self):
        self.assertIn("tls.certificate", self.check({}))

    def test_unreadable_certificate_names_the_file(self):
        error = self.check({"tls": {"certificate": "/nonexistent/hop.pem", "private_key": self.hop_key}})
        self.assertIn("tls:", error)
        self.assertIn("/nonexistent/hop.pem", error)

    def test_key_that_does_not_match_the_certificate(self):
        error = self.check({"tls": {"certificate": self.hop_cert, "private_key": self.alice_key}})
        self.assertIn("does not match", error)

    def test_allowed_subjects_need_required_verification(self):
        error = self.check({"tls": {"certificate": self.hop_cert, "private_key": self.hop_key, "ca": self.ca.cert,
                                    "allowed_subjects": ["alice-ua"]}})
        self.assertIn("tls.allowed_subjects", error)

    def test_unknown_key(self):
        self.assertIn("tls.cert", self.check({"tls": {"cert": "x"}}))

    def test_relative_paths_are_relative_to_the_config_file(self):
        shutil.copy(self.hop_cert, os.path.join(self.dir, "rel.pem"))
        shutil.copy(self.hop_key, os.path.join(self.dir, "rel.key"))
        path = os.path.join(self.dir, "relative.json")
        with open(path, "w") as out:
            json.dump({"listen": ["udp:127.0.0.1:5999", "tls:127.0.0.1:5998"],
                       "tls": {"certificate": "rel.pem", "private_key": "rel.key"}}, out)
        result = subprocess.run([BINARY, "check-config", path], capture_output=True, text=True, timeout=20,
                                cwd="/")
        self.assertEqual(result.returncode, 0, result.stderr)


if __name__ == "__main__":
    unittest.main()
