"""file_filter in the running hop: file offers in each wire form answered
488 (INVITE) or 403 (MESSAGE) with a Warning and not forwarded, allowed
offers forwarded byte for byte, names that cannot be read refused, disguised
names judged and logged escaped, RCS file transfer over HTTP, and config
errors at start-up."""
import os
import re
import subprocess
import tempfile

from harness import (BINARY, HopTestCase, ack_for, body_of, corpus_sample, free_port, header, plugins_config, reply_to,
                     status_of)


class FileFilterOnTheWire(HopTestCase):
    def start(self, **options):
        self.start_relay(config=plugins_config({"plugin": "file_filter", **options}))

    def test_blocked_rfc5547_invite_is_answered_488_with_warning_and_not_forwarded(self):
        self.start()
        invite = corpus_sample("13-rfc5547-invite-invoice-pdf-exe.sip", self.caller.port, "z9hG4bKff13")
        self.caller.send(invite, self.warden.port)
        answer = self.final_response()
        self.assertEqual(status_of(answer), (488, "Not Acceptable Here"))
        self.assertEqual(header(answer, "Warning"), '399 sipwarden "file_filter: blocked extension .exe"')
        self.caller.send(ack_for(invite, answer), self.warden.port)
        self.assertIsNone(self.upstream.recv(timeout=0.5), "a blocked offer is not forwarded")

    def test_blocked_lync_invite_is_answered_488(self):
        self.start()
        invite = corpus_sample("11-lync-filetransfer-invite-setup-msi.sip", self.caller.port, "z9hG4bKff11")
        self.caller.send(invite, self.warden.port)
        answer = self.final_response()
        self.assertEqual(status_of(answer)[0], 488)
        self.assertEqual(header(answer, "Warning"), '399 sipwarden "file_filter: blocked extension .msi"')
        self.caller.send(ack_for(invite, answer), self.warden.port)
        self.assertIsNone(self.upstream.recv(timeout=0.5))

    def test_blocked_ocs_message_is_answered_403_and_not_forwarded(self):
        self.start()
        self.caller.send(corpus_sample("10-ocs-msmsgsinvite-report-exe.sip", self.caller.port, "z9hG4bKff10"),
                         self.warden.port)
        answer = self.caller.recv()
        self.assertEqual(status_of(answer), (403, "Forbidden"))
        self.assertEqual(header(answer, "Warning"), '399 sipwarden "file_filter: blocked extension .exe"')
        self.assertIsNone(self.upstream.recv(timeout=0.5))

    def test_allowed_offer_is_forwarded_unchanged(self):
        self.start()
        invite = corpus_sample("12-rfc5547-invite-photo-jpg.sip", self.caller.port, "z9hG4bKff12")
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
        self.caller.send(corpus_sample("12-rfc5547-invite-photo-jpg.sip", self.caller.port, "z9hG4bKff12a"),
                         self.warden.port)
        answer = self.final_response()
        self.assertEqual(status_of(answer)[0], 488)
        self.assertEqual(header(answer, "Warning"), '399 sipwarden "file_filter: file transfer not allowed"')

        upstream = self.peer()
        warden = self.hop("--upstream", f"127.0.0.1:{upstream.port}",
                          config=plugins_config({"plugin": "file_filter", "action": "off"}))
        message = corpus_sample("10-ocs-msmsgsinvite-report-exe.sip", self.caller.port, "z9hG4bKff10off")
        self.caller.send(message, warden.port)
        forwarded = upstream.recv()
        self.assertIsNotNone(forwarded)
        self.assertEqual(body_of(forwarded), body_of(message))

    def test_custom_list(self):
        self.start(extensions=["jpg"])
        self.caller.send(corpus_sample("12-rfc5547-invite-photo-jpg.sip", self.caller.port, "z9hG4bKff12c"),
                         self.warden.port)
        self.assertEqual(header(self.final_response(), "Warning"),
                         '399 sipwarden "file_filter: blocked extension .jpg"')
        self.caller.send(corpus_sample("13-rfc5547-invite-invoice-pdf-exe.sip", self.caller.port, "z9hG4bKff13c"),
                         self.warden.port)
        self.assertIsNotNone(self.upstream.recv(), ".exe is not on the custom list")


def request(method, port, content_type, body, call_id):
    """A request as a UA at 127.0.0.1:`port` sends it; `body` is bytes."""
    branch = "z9hG4bK" + re.sub(r"[^A-Za-z0-9]", "", call_id)
    return (f"{method} sip:bob@127.0.0.1 SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch={branch};rport\r\n"
            f"Max-Forwards: 70\r\n"
            f"From: <sip:alice@example.com>;tag=a1\r\n"
            f"To: <sip:bob@example.com>\r\n"
            f"Call-ID: {call_id}\r\n"
            f"CSeq: 1 {method}\r\n"
            f"Content-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def sdp_with(selector):
    return (b"v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            b"m=message 7654 TCP/MSRP *\r\na=sendonly\r\na=accept-types:message/cpim\r\n"
            b"a=path:msrp://127.0.0.1:7654/x1;tcp\r\n" + selector + b"\r\na=file-transfer-id:t1\r\n")


def rcs_descriptor(name, url="https://ft.example.com/f/abc123"):
    """An RCS / Linphone file-transfer-over-HTTP descriptor with a thumbnail."""
    return ('<?xml version="1.0" encoding="UTF-8"?>\r\n'
            '<file xmlns="urn:gsma:params:xml:ns:rcs:rcs:fthttp">\r\n'
            '<file-info type="thumbnail"><file-size>7427</file-size><content-type>image/jpeg</content-type>'
            '<data url="https://ft.example.com/t/thumb.jpg" until="2030-01-01T00:00:00Z"/></file-info>\r\n'
            f'<file-info type="file"><file-size>284672</file-size><file-name>{name}</file-name>'
            f'<content-type>application/pdf</content-type><data url="{url}" until="2030-01-01T00:00:00Z"/>'
            '</file-info>\r\n</file>\r\n').encode()


class FileFilterStrictNamesOnTheWire(HopTestCase):
    """Issue 17: names read strictly and failing closed, through the hop."""

    def start(self, **options):
        self.start_relay("--log-level", "information", config=plugins_config({"plugin": "file_filter", **options}))

    def refused_invite(self, selector, call_id):
        invite = request("INVITE", self.caller.port, "application/sdp", sdp_with(selector), call_id)
        self.caller.send(invite, self.warden.port)
        answer = self.final_response()
        self.caller.send(ack_for(invite, answer), self.warden.port)
        return answer

    def test_selector_with_backslash_quoting_is_refused_and_not_forwarded(self):
        self.start()
        # Read by RFC 5547 the name is `Q3 \`; read with C escapes it is a
        # screensaver. Either way the hop cannot know: refused.
        answer = self.refused_invite(rb'a=file-selector:name:"Q3 \"final\".xlsx.scr" size:9', "ff-strict-1")
        self.assertEqual(status_of(answer), (488, "Not Acceptable Here"))
        self.assertEqual(header(answer, "Warning"),
                         '399 sipwarden "file_filter: file name cannot be read (backslash before the closing quote)"')
        self.assertIsNone(self.upstream.recv(timeout=0.5), "an unreadable offer is not forwarded")

        answer = self.refused_invite(b'a=file-selector:name:"report.txt" name:"setup.exe"', "ff-strict-2")
        self.assertEqual(header(answer, "Warning"),
                         '399 sipwarden "file_filter: file name cannot be read (two name: attributes)"')
        answer = self.refused_invite(b'a=file-selector:name:"notes.txt"' + b'"' * 10000, "ff-strict-3")
        self.assertEqual(header(answer, "Warning"),
                         '399 sipwarden "file_filter: file name cannot be read (characters after the closing quote)"')
        self.assertIsNone(self.upstream.recv(timeout=0.3))

    def test_without_a_block_list_the_unreadable_offer_is_forwarded_and_logged(self):
        self.start(action="off")
        invite = request("INVITE", self.caller.port, "application/sdp",
                         sdp_with(b'a=file-selector:name:"report.txt" name:"setup.exe"'), "ff-strict-off")
        self.caller.send(invite, self.warden.port)
        forwarded = self.upstream.recv()
        self.assertIsNotNone(forwarded, "flagged, not refused")
        self.assertEqual(body_of(forwarded), body_of(invite))
        self.upstream.send(reply_to(forwarded, 603, "Decline"), self.warden.port)
        self.assertEqual(status_of(self.final_response())[0], 603)
        self.assertIn("file name cannot be read (two name: attributes)", self.warden.output())

    def test_bidi_disguised_name_is_blocked_and_logged_escaped(self):
        self.start()
        # Shows as "reportexe.pdf"; Windows runs it as report<RLO>fdp.exe.
        answer = self.refused_invite('a=file-selector:name:"report\u202efdp.exe" size:9'.encode(), "ff-bidi-1")
        self.assertEqual(status_of(answer)[0], 488)
        self.assertEqual(header(answer, "Warning"), '399 sipwarden "file_filter: blocked extension .exe"')
        # A zero-width space inside the extension is removed before judging.
        answer = self.refused_invite('a=file-selector:name:"report.ex\u200be"'.encode(), "ff-bidi-2")
        self.assertEqual(header(answer, "Warning"), '399 sipwarden "file_filter: blocked extension .exe"')
        self.assertIsNone(self.upstream.recv(timeout=0.5))
        log = self.warden.output()
        self.assertIn('(file "report<U+202E>fdp.exe")', log)
        self.assertIn('(file "report.ex<U+200B>e")', log)
        self.assertNotIn("\u202e", log, "never a raw bidi control in the log")
        self.assertNotIn("\u200b", log)

    def test_rcs_file_transfer_over_http_with_an_exe_is_forbidden(self):
        self.start()
        message = request("MESSAGE", self.caller.port, "application/vnd.gsma.rcs-ft-http+xml",
                          rcs_descriptor("invoice.pdf.exe"), "ff-rcs-1")
        self.caller.send(message, self.warden.port)
        answer = self.caller.recv()
        self.assertEqual(status_of(answer), (403, "Forbidden"))
        self.assertEqual(header(answer, "Warning"), '399 sipwarden "file_filter: blocked extension .exe"')
        self.assertIsNone(self.upstream.recv(timeout=0.5), "a blocked file is not forwarded")

        allowed = request("MESSAGE", self.caller.port, "application/vnd.gsma.rcs-ft-http+xml",
                          rcs_descriptor("holiday.mov"), "ff-rcs-2")
        self.caller.send(allowed, self.warden.port)
        forwarded = self.upstream.recv()
        self.assertIsNotNone(forwarded, "an allowed file is forwarded")
        self.assertEqual(body_of(forwarded), body_of(allowed))


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
