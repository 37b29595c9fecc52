"""file_filter in the running hop: file offers in each wire form answered
488 (INVITE) or 403 (MESSAGE) with a Warning and not forwarded, allowed
offers forwarded byte for byte, and config errors at start-up."""
import json
import os
import re
import subprocess
import tempfile

from harness import BINARY, CORPUS, HopTestCase, free_port, header, reply_to, status_of


def plugins_config(*plugins):
    return json.dumps({"plugins": list(plugins)})


def sample(name, port, branch):
    """A corpus sample addressed back to the caller on `port`."""
    with open(os.path.join(CORPUS, "samples", name), "rb") as handle:
        data = handle.read()
    via = f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch={branch};rport".encode()
    return re.sub(rb"Via: SIP/2\.0/UDP [^\r\n]+", via, data, count=1)


def body_of(data):
    return data.split(b"\r\n\r\n", 1)[1]


def ack_for(invite, response):
    """The ACK a UAC sends for a non-2xx final response (same branch)."""
    head = invite.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    uri = head[0].split(b" ")[1]
    keep = [l for l in head[1:] if l.split(b":")[0].lower() in (b"via", b"from", b"call-id", b"max-forwards")]
    to = [l for l in response.split(b"\r\n") if l.lower().startswith(b"to:")][0]
    return (b"ACK " + uri + b" SIP/2.0\r\n" + b"\r\n".join(keep) + b"\r\n" + to + b"\r\n"
            + b"CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n")


class FileFilterOnTheWire(HopTestCase):
    def start(self, **options):
        self.upstream = self.peer()
        block = {"plugin": "file_filter"}
        block.update(options)
        self.warden = self.hop("--upstream", f"127.0.0.1:{self.upstream.port}", config=plugins_config(block))
        self.caller = self.peer()

    def final_response(self):
        """The first non-100 response the caller gets."""
        while True:
            data = self.caller.recv()
            self.assertIsNotNone(data, "no final response")
            if status_of(data)[0] != 100:
                return data

    def test_blocked_rfc5547_invite_is_answered_488_with_warning_and_not_forwarded(self):
        self.start()
        invite = sample("13-rfc5547-invite-invoice-pdf-exe.sip", self.caller.port, "z9hG4bKff13")
        self.caller.send(invite, self.warden.port)
        answer = self.final_response()
        self.assertEqual(status_of(answer), (488, "Not Acceptable Here"))
        self.assertEqual(header(answer, "Warning"), '399 sipwarden "file_filter: blocked extension .exe"')
        self.caller.send(ack_for(invite, answer), self.warden.port)
        self.assertIsNone(self.upstream.recv(timeout=0.5), "a blocked offer is not forwarded")

    def test_blocked_lync_invite_is_answered_488(self):
        self.start()
        invite = sample("11-lync-filetransfer-invite-setup-msi.sip", self.caller.port, "z9hG4bKff11")
        self.caller.send(invite, self.warden.port)
        answer = self.final_response()
        self.assertEqual(status_of(answer)[0], 488)
        self.assertEqual(header(answer, "Warning"), '399 sipwarden "file_filter: blocked extension .msi"')
        self.caller.send(ack_for(invite, answer), self.warden.port)
        self.assertIsNone(self.upstream.recv(timeout=0.5))

    def test_blocked_ocs_message_is_answered_403_and_not_forwarded(self):
        self.start()
        self.caller.send(sample("10-ocs-msmsgsinvite-report-exe.sip", self.caller.port, "z9hG4bKff10"),
                         self.warden.port)
        answer = self.caller.recv()
        self.assertEqual(status_of(answer), (403, "Forbidden"))
        self.assertEqual(header(answer, "Warning"), '399 sipwarden "file_filter: blocked extension .exe"')
        self.assertIsNone(self.upstream.recv(timeout=0.5))

    def test_allowed_offer_is_forwarded_unchanged(self):
        self.start()
        invite = sample("12-rfc5547-invite-photo-jpg.sip", self.caller.port, "z9hG4bKff12")
        self.caller.send(invite, self.warden.port)
        forwarded = self.upstream.recv()
        self.assertIsNotNone(forwarded, "an allowed offer is forwarded")
        self.assertEqual(body_of(forwarded), body_of(invite))
        self.assertEqual(header(forwarded, "Content-Length"), header(invite, "Content-Length"))
        self.assertEqual(header(forwarded, "Content-Type"), "application/sdp")
        self.upstream.send(reply_to(forwarded, 603, "Decline"), self.warden.port)
        self.assertEqual(status_of(self.final_response())[0], 603)

    def test_block_all_blocks_the_allowed_photo_and_off_lets_the_exe_through(self):
        self.start(action="block_all")
        self.caller.send(sample("12-rfc5547-invite-photo-jpg.sip", self.caller.port, "z9hG4bKff12a"),
                         self.warden.port)
        answer = self.final_response()
        self.assertEqual(status_of(answer)[0], 488)
        self.assertEqual(header(answer, "Warning"), '399 sipwarden "file_filter: file transfer not allowed"')

        upstream = self.peer()
        warden = self.hop("--upstream", f"127.0.0.1:{upstream.port}",
                          config=plugins_config({"plugin": "file_filter", "action": "off"}))
        message = sample("10-ocs-msmsgsinvite-report-exe.sip", self.caller.port, "z9hG4bKff10off")
        self.caller.send(message, warden.port)
        forwarded = upstream.recv()
        self.assertIsNotNone(forwarded)
        self.assertEqual(body_of(forwarded), body_of(message))

    def test_custom_list(self):
        self.start(extensions=["jpg"])
        self.caller.send(sample("12-rfc5547-invite-photo-jpg.sip", self.caller.port, "z9hG4bKff12c"),
                         self.warden.port)
        self.assertEqual(header(self.final_response(), "Warning"),
                         '399 sipwarden "file_filter: blocked extension .jpg"')
        self.caller.send(sample("13-rfc5547-invite-invoice-pdf-exe.sip", self.caller.port, "z9hG4bKff13c"),
                         self.warden.port)
        self.assertIsNotNone(self.upstream.recv(), ".exe is not on the custom list")


class FileFilterConfig(HopTestCase):
    def test_bad_action_stops_start_up_with_the_key(self):
        handle, path = tempfile.mkstemp(suffix=".json")
        with os.fdopen(handle, "w") as out:
            out.write(plugins_config({"plugin": "file_filter", "action": "block"}))
        result = subprocess.run([BINARY, "run", "--config", path, "--listen", f"udp:127.0.0.1:{free_port()}"],
                                capture_output=True, text=True, timeout=10)
        os.unlink(path)
        self.assertEqual(result.returncode, 1)
        self.assertIn("plugins[0].action: expected block_all|block_list|off", result.stderr)


if __name__ == "__main__":
    import unittest
    unittest.main()
