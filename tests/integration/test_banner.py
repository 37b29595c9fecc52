"""banner in the running hop: the notice reaches the next hop inside the
message with the right Content-Length, multipart boundaries survive,
non-messages pass untouched, two hops in a row banner once, and SIPp load
passes through with both IM plugins loaded."""
from harness import HopTestCase, Sipp, body_of, corpus_sample, free_port, header, message_request, plugins_config


NOTICE = "External contact <ext> & archived"


class BannerOnTheWire(HopTestCase):
    def start(self, **options):
        self.start_relay(config=plugins_config({"plugin": "banner", "text": NOTICE, **options}))

    def test_plain_message_arrives_with_the_notice_and_right_content_length(self):
        self.start()
        forwarded = self.relay(message_request(self.caller.port, call_id="bn-1", body="hello"))
        body = body_of(forwarded)
        self.assertEqual(body, (NOTICE + "\r\nhello").encode())
        self.assertEqual(int(header(forwarded, "Content-Length")), len(body))
        self.assertEqual(header(forwarded, "X-Sipwarden-Banner"), "sipwarden-banner")

    def test_utf8_message_at_the_end(self):
        self.start(position="end", text="\u6ce8\u610f: \u5916\u90e8")
        forwarded = self.relay(corpus_sample("14-message-utf8-japanese-emoji-link.sip", self.caller.port, "z9hG4bKbn14"))
        body = body_of(forwarded)
        self.assertTrue(body.endswith("\r\n\u6ce8\u610f: \u5916\u90e8".encode()))
        self.assertEqual(int(header(forwarded, "Content-Length")), len(body))
        body.decode("utf-8")  # whole characters only

    def test_html_and_multipart_keep_their_form(self):
        self.start()
        forwarded = self.relay(corpus_sample("05-message-multipart-alternative.sip", self.caller.port, "z9hG4bKbn05"))
        body = body_of(forwarded)
        self.assertEqual(int(header(forwarded, "Content-Length")), len(body))
        self.assertIn(b"\r\n\r\n" + NOTICE.encode() + b"\r\nQ3 figures", body)
        self.assertIn(b"External contact &lt;ext&gt; &amp; archived<br/><p>Q3 figures", body)
        self.assertTrue(body.endswith(b"--alt-5b1e7c20--\r\n"))

    def test_is_composing_passes_untouched(self):
        self.start()
        request = corpus_sample("07-message-iscomposing.sip", self.caller.port, "z9hG4bKbn07")
        forwarded = self.relay(request)
        self.assertEqual(body_of(forwarded), body_of(request))
        self.assertIsNone(header(forwarded, "X-Sipwarden-Banner"))

    def test_once_per_conversation(self):
        self.start(frequency="once_per_conversation")
        first = self.relay(message_request(self.caller.port, call_id="bn-c1", branch="z9hG4bKbnc1"))
        second = self.relay(message_request(self.caller.port, call_id="bn-c2", branch="z9hG4bKbnc2"))
        self.assertTrue(body_of(first).startswith(NOTICE.encode()))
        self.assertEqual(body_of(second), b"hello")

    def test_two_hops_in_a_row_banner_once(self):
        upstream = self.peer()
        config = plugins_config({"plugin": "banner", "text": NOTICE})
        second = self.hop("--upstream", f"127.0.0.1:{upstream.port}", config=config)
        first = self.hop("--upstream", f"127.0.0.1:{second.port}", config=config)
        caller = self.peer()
        caller.send(message_request(caller.port, call_id="bn-2hop", body="hello"), first.port)
        forwarded = upstream.recv()
        self.assertIsNotNone(forwarded)
        self.assertEqual(body_of(forwarded), (NOTICE + "\r\nhello").encode())
        self.assertEqual(int(header(forwarded, "Content-Length")), len(body_of(forwarded)))

    def test_sipp_load_through_file_filter_and_banner(self):
        uas_port = free_port()
        self.sipp_background("uas_message.xml", port=uas_port)
        warden = self.hop("--upstream", f"127.0.0.1:{uas_port}", config=plugins_config(
            {"plugin": "file_filter"}, {"plugin": "banner", "text": NOTICE, "frequency": "once_per_conversation"}))
        uac = Sipp("uac_message.xml", target=f"127.0.0.1:{warden.port}", calls=300, rate=150).run(timeout=60)
        self.assertEqual(uac.count("Successful call"), 300, uac.output[-2000:])
        self.assertEqual(uac.count("Failed call"), 0)


if __name__ == "__main__":
    import unittest
    unittest.main()
