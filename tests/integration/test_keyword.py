"""The keyword plugin (DLP lexicons) in the running hop, loaded as a module:
a redacted MESSAGE reaches the next hop masked with a matching
Content-Length, a blocked one is answered 403 with its Warning and not
forwarded, a flagged one passes unchanged, and a bad lexicon stops start-up
with the key's path."""
import json
import os
import subprocess
import tempfile

from harness import BINARY, HopTestCase, body_of, free_port, header, plugins_config, status_of

LEXICONS = [
    {"plugin": "keyword", "name": "cards", "action": "redact", "template": "payment_card"},
    {"plugin": "keyword", "name": "ssn", "action": "redact", "template": "us_ssn", "mask": "\u2588"},
    {"plugin": "keyword", "name": "falcon", "action": "block", "patterns": ["project\\s+falcon"],
     "reason": "Confidential project"},
    {"plugin": "keyword", "name": "watch", "action": "flag", "patterns": ["\\bmerger\\b"]},
]


def request(port, body, call_id, content_type="text/plain;charset=UTF-8"):
    data = body.encode() if isinstance(body, str) else body
    return (f"MESSAGE sip:bob@127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{call_id};rport\r\n"
            "Max-Forwards: 70\r\n"
            "From: <sip:alice@example.com>;tag=a1\r\n"
            "To: <sip:bob@example.com>\r\n"
            f"Call-ID: {call_id}\r\n"
            "CSeq: 1 MESSAGE\r\n"
            f"Content-Type: {content_type}\r\n"
            f"Content-Length: {len(data)}\r\n\r\n").encode() + data


class KeywordOnTheWire(HopTestCase):
    def setUp(self):
        super().setUp()
        self.start_relay(config=plugins_config(*LEXICONS))

    def forward(self, body, call_id, **kwargs):
        """Sends a MESSAGE through the hop; returns what the next hop got."""
        return self.relay(request(self.caller.port, body, call_id, **kwargs))

    def test_a_redacted_message_arrives_masked_with_its_content_length(self):
        forwarded = self.forward("card 4111 1111 1111 1111, exp 12/29", "kw-redact")
        self.assertEqual(body_of(forwarded), b"card *******************, exp 12/29")
        self.assertEqual(int(header(forwarded, "Content-Length")), len(body_of(forwarded)))

    def test_a_multibyte_mask_counts_characters_and_content_length_counts_bytes(self):
        forwarded = self.forward("\u65e5\u672c SSN 123-45-6789 \U0001f389", "kw-utf8")
        expected = "\u65e5\u672c SSN " + "\u2588" * 11 + " \U0001f389"
        self.assertEqual(body_of(forwarded).decode("utf-8"), expected)
        self.assertEqual(int(header(forwarded, "Content-Length")), len(expected.encode("utf-8")))

    def test_every_part_of_multipart_alternative_is_redacted(self):
        body = ("--b7\r\nContent-Type: text/plain\r\n\r\npay 5500-0000-0000-0004\r\n"
                "--b7\r\nContent-Type: text/html\r\n\r\n<p>pay <b>5500-0000</b>-0000-0004</p>\r\n--b7--\r\n")
        forwarded = self.forward(body, "kw-multi", content_type="multipart/alternative;boundary=b7")
        self.assertEqual(body_of(forwarded).decode(),
                         "--b7\r\nContent-Type: text/plain\r\n\r\npay *******************\r\n"
                         "--b7\r\nContent-Type: text/html\r\n\r\n<p>pay <b>*********</b>**********</p>\r\n--b7--\r\n")
        self.assertEqual(int(header(forwarded, "Content-Length")), len(body_of(forwarded)))

    def test_a_blocked_message_is_answered_403_with_its_warning_and_not_forwarded(self):
        self.caller.send(request(self.caller.port, "is Project Falcon still on?", "kw-block"), self.warden.port)
        answer = self.caller.recv()
        self.assertEqual(status_of(answer), (403, "Confidential project"))
        self.assertEqual(header(answer, "Warning"), '399 sipwarden "keyword: falcon"')
        self.assertIsNone(self.upstream.recv(timeout=0.3), "a blocked MESSAGE is not forwarded")

    def test_flagged_and_clean_messages_pass_unchanged(self):
        for call_id, text in (("kw-flag", "the merger closes Friday"),
                              ("kw-clean", "card 4111 1111 1111 1112 fails Luhn; 666-12-3456 is no SSN")):
            forwarded = self.forward(text, call_id)
            self.assertEqual(body_of(forwarded), text.encode())
            self.assertEqual(int(header(forwarded, "Content-Length")), len(text))


class KeywordConfigErrors(HopTestCase):
    def start_with(self, plugins):
        handle, path = tempfile.mkstemp(suffix=".json")
        with os.fdopen(handle, "w") as out:
            out.write(json.dumps({"plugins": plugins}))
        self.cleanups.append(lambda: os.unlink(path))
        return subprocess.run([BINARY, "run", "--config", path, "--listen", f"udp:127.0.0.1:{free_port()}"],
                              capture_output=True, text=True, timeout=10)

    def test_a_bad_lexicon_stops_start_up_with_the_key_path(self):
        result = self.start_with([LEXICONS[0], {"plugin": "keyword", "name": "x", "action": "shred",
                                                "patterns": ["x"]}])
        self.assertEqual(result.returncode, 1)
        self.assertIn("plugins[1].action: expected block|redact|flag", result.stderr)
        result = self.start_with([{"plugin": "keyword", "name": "x", "action": "flag", "patterns": ["ok", "(abc"]}])
        self.assertEqual(result.returncode, 1)
        self.assertIn("plugins[0].patterns[1]: bad RE2 pattern: missing ): (abc", result.stderr)


if __name__ == "__main__":
    import unittest
    unittest.main()
