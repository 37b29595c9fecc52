"""TLS against a real SIP stack: Kamailio 5.6 (Debian's kamailio and
kamailio-tls-modules) with tests/integration/kamailio/tls_relay.cfg, on
either side of sipwarden, with SIPp user agents over UDP at both ends.

    SIPp UAC -udp-> sipwarden -tls-> Kamailio -udp-> SIPp UAS
    SIPp UAC -udp-> Kamailio -tls-> sipwarden -udp-> SIPp UAS

MESSAGEs and INVITE/ACK/BYE calls; the calls' ACK and BYE follow the
Record-Route sets both proxies built across the transport change."""
import json
import os
import shutil
import socket
import tempfile
import time
import unittest

from harness import ROOT, HopTestCase, Sipp, free_port
from tls_support import WithTestCa

KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"
CONFIG = os.path.join(ROOT, "tests", "integration", "kamailio", "tls_relay.cfg")


def wait_for_tcp(port, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


class KamailioTls(WithTestCa, HopTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.kam_cert, cls.kam_key = cls.ca.issue("kamailio", "kamailio.test")

    def kamailio(self, udp_dst, tls_dst):
        self.kam_udp = free_port()
        self.kam_tls = free_port()
        workdir = tempfile.mkdtemp(prefix="kamailio-", dir=self.dir)
        log_path = os.path.join(workdir, "kamailio.log")
        defines = {"SW_UDP": str(self.kam_udp), "SW_TLS": str(self.kam_tls), "SW_UDP_DST": f'"{udp_dst}"',
                   "SW_TLS_DST": f'"{tls_dst}"', "SW_CERT": f'"{self.kam_cert}"', "SW_KEY": f'"{self.kam_key}"',
                   "SW_CA": f'"{self.ca.cert}"'}
        command = [KAMAILIO, "-f", CONFIG, "-DD", "-E", "-w", workdir, "-P", os.path.join(workdir, "pid"),
                   "-Y", workdir, "-m", "64", "-M", "16"]
        for name, value in defines.items():
            command += ["-A", f"{name}={value}"]
        self.background(command, log_path)
        self.assertTrue(wait_for_tcp(self.kam_tls), open(log_path).read()[-3000:])
        self.kam_log = log_path

    def tls_settings(self):
        return {"tls": {"certificate": self.hop_cert, "private_key": self.hop_key, "ca": self.ca.cert}}

    SCENARIOS = (("uac_message.xml", "uas_message.xml", 20), ("uac_invite.xml", "uas_invite.xml", 10))

    def run_uac(self, uac, entry_port, calls, warden):
        run = Sipp(uac, target=f"127.0.0.1:{entry_port}", calls=calls, rate=20,
                   extra=("-default_behaviors", "all,-abortunexp")).run()
        detail = run.output[-2500:] + warden.output()[-2500:] + open(self.kam_log).read()[-2500:]
        self.assertEqual(run.count("Successful call"), calls, detail)
        self.assertEqual(run.count("Failed call"), 0, detail)

    def test_sipwarden_to_kamailio_over_tls(self):
        for uac, uas, calls in self.SCENARIOS:
            uas_port = free_port()
            self.sipp_background(uas, port=uas_port)
            # Kamailio only ever receives TLS from the hop here (its UDP side
            # points at the UAS), so every success crossed TLS.
            self.kamailio(udp_dst=f"sip:127.0.0.1:{uas_port}", tls_dst="sip:127.0.0.1:9")
            warden = self.hop("--listen", f"tls:127.0.0.1:{free_port()}",
                              "--upstream", f"127.0.0.1:{self.kam_tls};transport=tls",
                              config=json.dumps(self.tls_settings()))
            self.run_uac(uac, warden.port, calls, warden)
            warden.stop()

    def test_kamailio_to_sipwarden_over_tls(self):
        for uac, uas, calls in self.SCENARIOS:
            uas_port = free_port()
            self.sipp_background(uas, port=uas_port)
            tls_port = free_port()
            warden = self.hop("--listen", f"tls:127.0.0.1:{tls_port}", "--upstream", f"127.0.0.1:{uas_port}",
                              config=json.dumps(self.tls_settings()))
            # Kamailio forwards everything from the UAC to the hop's TLS port.
            self.kamailio(udp_dst="sip:127.0.0.1:9", tls_dst=f"sip:127.0.0.1:{tls_port}")
            self.run_uac(uac, self.kam_udp, calls, warden)
            warden.stop()

if __name__ == "__main__":
    unittest.main()
