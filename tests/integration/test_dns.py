"""Name lookups on the real hop, against a DNS server of the test's own on
127.0.0.1 (`dns.servers`): SRV with priorities and failover, A records,
NXDOMAIN answered 503 and cached, answers cached, and a slow name server
delaying only the requests that need it."""
import json
import time

from dns_support import A, SRV, FakeDns
from harness import AnsweringPeer, HopTestCase, header, message_request, status_of


def to_name(port, host, call_id):
    """A MESSAGE from a UA at 127.0.0.1:`port` for a user at `host`."""
    text = message_request(port, call_id=call_id)
    return text.replace(f"MESSAGE sip:bob@127.0.0.1:{port} SIP/2.0".encode(), f"MESSAGE sip:bob@{host} SIP/2.0".encode())


class Dns(HopTestCase):
    def setUp(self):
        super().setUp()
        self.dns = FakeDns()
        self.cleanups.append(self.dns.stop)

    def dns_hop(self, **dns):
        settings = {"dns": dict({"servers": [f"127.0.0.1:{self.dns.port}"]}, **dns)}
        return self.hop(config=json.dumps(settings))

    def answered_by_name(self, host, call_id):
        """Starts a hop that resolves through the test's DNS and checks that a
        MESSAGE for a user at `host` through it is answered 200; returns the
        hop and the caller."""
        warden = self.dns_hop()
        caller = self.peer()
        caller.send(to_name(caller.port, host, call_id), warden.port)
        self.assertEqual(status_of(caller.recv(timeout=3))[0], 200, warden.output())
        return warden, caller

    def answering(self, code=200):
        peer = AnsweringPeer(code)
        self.cleanups.append(peer.stop)
        return peer

    def test_srv_then_a_gives_the_next_hop(self):
        callee = self.answering()
        self.dns.add_srv("_sip._udp.example.test", 10, 0, callee.port, "proxy1.example.test")
        self.dns.add_a("proxy1.example.test")
        warden, caller = self.answered_by_name("example.test", "srv-1")
        self.assertEqual(callee.call_ids, {"srv-1"})

        # cached: a second request asks nothing more
        asked = len(self.dns.questions)
        caller.send(to_name(caller.port, "example.test", "srv-2"), warden.port)
        self.assertEqual(status_of(caller.recv(timeout=3))[0], 200)
        self.assertEqual(len(self.dns.questions), asked)

    def test_srv_priorities_fail_over_on_503(self):
        busy = self.answering(503)
        spare = self.answering(200)
        self.dns.add_srv("_sip._udp.failover.test", 10, 5, busy.port, "busy.failover.test")
        self.dns.add_srv("_sip._udp.failover.test", 20, 5, spare.port, "spare.failover.test")
        self.dns.add_a("busy.failover.test")
        self.dns.add_a("spare.failover.test")
        self.answered_by_name("failover.test", "srv-failover")
        self.assertEqual(busy.call_ids, {"srv-failover"})
        self.assertEqual(spare.call_ids, {"srv-failover"})

    def test_a_host_with_a_port_skips_srv(self):
        callee = self.answering()
        self.dns.add_a("direct.test")
        self.answered_by_name(f"direct.test:{callee.port}", "a-only")
        self.assertEqual(self.dns.asked("_sip._udp.direct.test", SRV), 0)
        self.assertGreaterEqual(self.dns.asked("direct.test", A), 1)

    def test_an_unknown_name_gets_503_and_the_failure_is_cached(self):
        warden = self.dns_hop()
        caller = self.peer()
        caller.send(to_name(caller.port, "nowhere.test", "nx-1"), warden.port)
        reply = caller.recv(timeout=3)
        self.assertEqual(status_of(reply), (503, "Cannot resolve nowhere.test"), warden.output())
        asked = len(self.dns.questions)
        caller.send(to_name(caller.port, "nowhere.test", "nx-2"), warden.port)
        self.assertEqual(status_of(caller.recv(timeout=3))[0], 503)
        self.assertEqual(len(self.dns.questions), asked, "the negative answer is cached")

    def test_a_slow_name_server_delays_only_the_requests_that_need_it(self):
        upstream_callee = self.answering()
        slow_callee = self.answering()
        self.dns.add_a("slow.test")
        self.dns.delays["slow.test"] = 1.5
        warden = self.dns_hop()
        slow_caller = self.peer()
        fast_caller = self.peer()
        started = time.time()
        slow_caller.send(to_name(slow_caller.port, f"slow.test:{slow_callee.port}", "slow-1"), warden.port)
        fast_caller.send(to_name(fast_caller.port, f"127.0.0.1:{upstream_callee.port}", "fast-1"), warden.port)
        self.assertEqual(status_of(fast_caller.recv(timeout=3))[0], 200)
        fast = time.time() - started
        self.assertEqual(status_of(slow_caller.recv(timeout=5))[0], 200, warden.output())
        slow = time.time() - started
        self.assertLess(fast, 0.8, "the request to an address did not wait for the slow lookup")
        self.assertGreater(slow, 1.4)

    def test_a_lookup_slower_than_the_transaction_gets_503(self):
        self.dns.add_a("stuck.test")
        self.dns.delays["stuck.test"] = 3
        # T1 = 20 ms: the request waits 64 x T1 = 1.28 s for its answer
        settings = {"dns": {"servers": [f"127.0.0.1:{self.dns.port}"]}, "timers": {"t1_ms": 20}}
        warden = self.hop(config=json.dumps(settings))
        caller = self.peer()
        caller.send(to_name(caller.port, "stuck.test:5999", "stuck-1"), warden.port)
        reply = caller.recv(timeout=5)
        self.assertEqual(status_of(reply)[0], 503, warden.output())
        self.assertIn("DNS lookup timed out", header(reply, "Warning") or "")


if __name__ == "__main__":
    import unittest
    unittest.main()
