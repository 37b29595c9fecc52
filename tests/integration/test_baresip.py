"""A real softphone through the hop: two baresip 1.0 user agents (Debian's
baresip-core) on 127.0.0.1, the caller using sipwarden as its outbound
proxy, the callee answering automatically. Each plays a short WAV file,
and the call ends when the file does. The hop record-routes the dialog,
so the BYE crosses it too, and its call log gets the answered call."""
import json
import math
import os
import shutil
import struct
import subprocess
import time
import unittest
import wave

from harness import BINARY, HopTestCase, free_port

BARESIP = shutil.which("baresip") or "/usr/bin/baresip"


def tone(path, seconds):
    with wave.open(path, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / 8000)))
                                 for i in range(8000 * seconds)))


class Baresip(HopTestCase):
    def setUp(self):
        super().setUp()
        self.dir = self.temp_dir("sipwarden-baresip-")
        self.tone = os.path.join(self.dir, "tone.wav")
        tone(self.tone, 2)

    def agent(self, name, sip_port, account):
        home = os.path.join(self.dir, name)
        os.makedirs(home)
        rtp = free_port()
        with open(os.path.join(home, "config"), "w") as out:
            out.write(f"sip_listen 127.0.0.1:{sip_port}\n"
                      "net_interface 127.0.0.1\n"
                      f"audio_source aufile,{self.tone}\n"
                      f"audio_player aufile,{os.path.join(home, 'heard.wav')}\n"
                      f"audio_alert aufile,{os.path.join(home, 'alert.wav')}\n"
                      "module_path /usr/lib/baresip/modules\n"
                      "module g711.so\nmodule aufile.so\nmodule_app account.so\nmodule_app menu.so\n"
                      f"rtp_ports {rtp}-{rtp + 9}\n")
        with open(os.path.join(home, "accounts"), "w") as out:
            out.write(account + "\n")
        return home

    def start(self, home, *args, seconds):
        return self.background([BARESIP, "-f", home, "-t", str(seconds), *args], os.path.join(home, "baresip.log"))

    def log_of(self, home):
        with open(os.path.join(home, "baresip.log"), errors="replace") as log:
            return log.read()

    def call_through_the_hop(self, transport):
        db = os.path.join(self.dir, "archive.db")
        warden = self.hop(config=json.dumps({"archive": {"path": db, "batch_ms": 5},
                                             "plugins": [{"plugin": "call_log"}]}))
        bob_port = free_port()
        bob = self.agent("bob", bob_port, "<sip:bob@127.0.0.1>;regint=0;answermode=auto")
        outbound = f"sip:127.0.0.1:{warden.port};lr" + (";transport=tcp" if transport == "tcp" else "")
        alice = self.agent("alice", free_port(), f'<sip:alice@127.0.0.1>;regint=0;outbound="{outbound}"')
        self.start(bob, seconds=12)
        time.sleep(0.5)
        caller = self.start(alice, "-e", f"/dial sip:bob@127.0.0.1:{bob_port}", seconds=8)
        caller.wait(timeout=15)
        alice_log, bob_log = self.log_of(alice), self.log_of(bob)
        detail = alice_log[-2000:] + bob_log[-2000:] + warden.output()[-2000:]
        self.assertIn("Call established: sip:bob@127.0.0.1", alice_log, detail)
        self.assertIn("Call established: sip:alice@127.0.0.1", bob_log, detail)
        self.assertRegex(alice_log + bob_log, r"terminated \(duration: [1-9]", detail)
        warden.stop()  # drains the archive queue
        result = subprocess.run([BINARY, "query", "calls", "--db", db, "--format", "json"], capture_output=True,
                                text=True, timeout=30)
        self.assertEqual(result.returncode, 0, result.stderr)
        calls = json.loads(result.stdout)
        calls = calls.get("items", calls) if isinstance(calls, dict) else calls
        self.assertEqual(len(calls), 1, result.stdout)
        self.assertEqual(calls[0]["disposition"], "answered", result.stdout)
        self.assertIn(calls[0]["ended_by"], ("caller", "callee"), result.stdout)
        return calls[0]

    def test_a_call_over_udp(self):
        self.call_through_the_hop("udp")

    def test_a_call_over_tcp(self):
        self.call_through_the_hop("tcp")


if __name__ == "__main__":
    unittest.main()
