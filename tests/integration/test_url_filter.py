"""url_filter in the running hop: a defanged message reaches the next hop
with "_http" and the right Content-Length (in every wire form), a blocked
one is answered 403 with its Warning and never forwarded, intranet links
pass byte for byte, a message over max_body_bytes follows the fail mode,
SIPp traffic through both outcomes, and config errors at start-up."""
import base64
import os
import subprocess
import tempfile

from harness import (BINARY, HopTestCase, Sipp, body_of, corpus_sample, free_port, header, message_request,
                     plugins_config, status_of)


def url_filter_config(**options):
    return plugins_config({"plugin": "url_filter", **options})


def ms_body(value):
    """The decoded text of an Ms-IM-Format / Ms-Text-Format header value."""
    return base64.b64decode(value.split("ms-body=", 1)[1]).decode("utf-8")


# A SIPp caller that sends one MESSAGE with two links per call and expects
# the given final response.
UAC_WITH_LINKS = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="url_filter uac">
  <send retrans="500">
    <![CDATA[

      MESSAGE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      Max-Forwards: 70
      From: "sipp" <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 MESSAGE
      Content-Type: text/plain;charset=UTF-8
      Content-Length: [len]

      Notes: http://docs.example.com/release/4.2/notes.html, mirror www.fabrikam.com/downloads/hop.

    ]]>
  </send>
  <recv response="100" optional="true">
  </recv>
  <recv response="%d">
  </recv>
</scenario>
"""


class UrlFilterHop(HopTestCase):
    """A hop running url_filter with the given options, a caller and a next hop."""

    def start(self, **options):
        self.start_relay(config=url_filter_config(**options))

    def assert_length_counts_the_body(self, data):
        self.assertEqual(int(header(data, "Content-Length")), len(body_of(data)))


class UrlFilterOnTheWire(UrlFilterHop):
    def test_defanged_message_reaches_the_next_hop_with_underscore_and_content_length(self):
        self.start(action="defang")
        body = "Look: http://evil.example.net/landing and hxxps://evil.example.net/x, www.example.org."
        forwarded = self.relay(message_request(self.caller.port, call_id="uf-defang-1", body=body))
        self.assertEqual(body_of(forwarded),
                         b"Look: _http://evil.example.net/landing and _hxxps://evil.example.net/x, _www.example.org.")
        self.assertEqual(header(forwarded, "Content-Length"), str(len(body) + 3))
        self.assert_length_counts_the_body(forwarded)

    def test_blocked_message_is_answered_403_with_warning_and_not_forwarded(self):
        self.start()
        self.caller.send(message_request(self.caller.port, call_id="uf-block-1", body="see http://evil.example.net/"),
                         self.warden.port)
        answer = self.caller.recv()
        self.assertEqual(status_of(answer), (403, "Forbidden"))
        self.assertEqual(header(answer, "Warning"), '399 sipwarden "url_filter: links are not allowed"')
        self.assertIsNone(self.upstream.recv(timeout=0.5), "a blocked message is not forwarded")

    def test_link_to_an_executable_is_blocked_even_when_defanging(self):
        self.start(action="defang", prefixes=[])
        self.caller.send(message_request(self.caller.port, call_id="uf-ext-1",
                                         body="tool at example.com/tools/setup%2Eexe"), self.warden.port)
        answer = self.caller.recv()
        self.assertEqual(status_of(answer)[0], 403)
        self.assertEqual(header(answer, "Warning"), '399 sipwarden "url_filter: link to a blocked file type (.exe)"')
        self.assertIsNone(self.upstream.recv(timeout=0.5))

    def test_message_without_links_is_forwarded_unchanged(self):
        self.start(action="defang", notice="[links defanged]")
        request = corpus_sample("01-message-text-plain.sip", self.caller.port, "z9hG4bKuf01")
        forwarded = self.relay(request)
        self.assertEqual(body_of(forwarded), body_of(request))
        self.assertEqual(header(forwarded, "Content-Length"), header(request, "Content-Length"))

    def test_multipart_alternative_both_parts_defanged_boundary_kept(self):
        self.start(action="defang")
        forwarded = self.relay(corpus_sample("05-message-multipart-alternative.sip", self.caller.port,
                                                   "z9hG4bKuf05"))
        body = body_of(forwarded)
        self.assertIn(b"portal: _http://portal.example.com/finance/q3\r\n--alt-5b1e7c20\r\n", body)
        self.assertIn(b'<a href="_http://portal.example.com/finance/q3">', body)
        self.assertTrue(body.endswith(b"--alt-5b1e7c20--\r\n"))
        self.assert_length_counts_the_body(forwarded)

    def test_lync_ms_im_format_header_is_defanged_and_reencoded(self):
        self.start(action="defang", notice="Links were defanged")
        forwarded = self.relay(corpus_sample("06-lync-message-ms-im-format.sip", self.caller.port,
                                                   "z9hG4bKuf06"))
        self.assertEqual(body_of(forwarded), b"Links were defanged\r\nDesign review deck: "
                                             b"_http://share.example.com/sites/design/review-2026.pptx")
        html = ms_body(header(forwarded, "Ms-IM-Format"))
        self.assertTrue(html.startswith("Links were defanged<br/>"), html)
        self.assertIn('<a href="_http://share.example.com/sites/design/review-2026.pptx">'
                      '_http://share.example.com/sites/design/review-2026.pptx</a>', html)
        self.assert_length_counts_the_body(forwarded)

    def test_utf8_link_after_full_width_colon(self):
        self.start(action="defang")
        forwarded = self.relay(corpus_sample("14-message-utf8-japanese-emoji-link.sip", self.caller.port,
                                                   "z9hG4bKuf14"))
        text = body_of(forwarded).decode("utf-8")  # still valid UTF-8
        self.assertIn("です：_https://docs.example.com/minutes/2026-11-24 よろしく", text)
        self.assertEqual(header(forwarded, "Content-Length"), "114")

    def test_intranet_link_passes_byte_for_byte(self):
        self.start(allow_intranet=["example.com", "10.0.0.0/8"])
        request = corpus_sample("03-message-text-html-href.sip", self.caller.port, "z9hG4bKuf03")
        forwarded = self.relay(request)
        self.assertEqual(body_of(forwarded), body_of(request))
        # A look-alike host with a Cyrillic letter is not example.com.
        self.caller.send(message_request(self.caller.port, call_id="uf-homoglyph-1",
                                         body="login at http://ex\u0430mple.com/sso"), self.warden.port)
        self.assertEqual(status_of(self.caller.recv())[0], 403)
        self.assertIsNone(self.upstream.recv(timeout=0.5))

    def test_warn_adds_the_notice_and_leaves_the_link(self):
        self.start(action="warn", notice="External link: check before you click.")
        forwarded = self.relay(corpus_sample("09-lync-in-dialog-message.sip", self.caller.port, "z9hG4bKuf09"))
        self.assertEqual(body_of(forwarded), b"External link: check before you click.\r\nSlides for the review: "
                                             b"https://share.example.com/sites/finance/budget-2027.pptx")
        self.assert_length_counts_the_body(forwarded)

    def test_text_over_max_body_bytes_gets_the_fail_code_when_closed(self):
        self.start(max_body_bytes=64, fail_mode="closed", fail_code=513)
        body = "see http://evil.example.net/ " + "x" * 64
        self.caller.send(message_request(self.caller.port, call_id="uf-limit-1", body=body), self.warden.port)
        answer = self.caller.recv()
        self.assertEqual(status_of(answer)[0], 513)
        self.assertEqual(header(answer, "Warning"), '399 sipwarden "url_filter failed"')
        self.assertIsNone(self.upstream.recv(timeout=0.5), "a message over the limit is not forwarded")
        # Within the limit the text is read, and its link refused.
        self.caller.send(message_request(self.caller.port, call_id="uf-limit-2", body="see http://evil.example.net/"),
                         self.warden.port)
        self.assertEqual(status_of(self.caller.recv()), (403, "Forbidden"))

    def test_text_over_max_body_bytes_is_forwarded_unread_when_open(self):
        self.start(action="defang", max_body_bytes=64)
        body = "see http://evil.example.net/ " + "x" * 64
        forwarded = self.relay(message_request(self.caller.port, call_id="uf-limit-3", body=body))
        self.assertEqual(body_of(forwarded), body.encode(), "fail open: not defanged, not cut")
        self.assert_length_counts_the_body(forwarded)


class UrlFilterReadsLinksAsABrowser(UrlFilterHop):
    """Issue 17: a host written with a full-width dot, a full-width scheme,
    the schemes that run code, and a link in the Subject, through the hop."""

    def assert_refused(self, call_id, body, extra=""):
        self.caller.send(message_request(self.caller.port, call_id=call_id, body=body, extra=extra), self.warden.port)
        answer = self.caller.recv()
        self.assertEqual(status_of(answer), (403, "Forbidden"), body)
        self.assertIsNone(self.upstream.recv(timeout=0.3), f"{body!r} is not forwarded")
        return answer

    def test_full_width_dot_is_a_label_dot_for_the_allow_list(self):
        self.start(allow_intranet=["contoso.com"])
        self.assert_refused("uf-fw-1", "see http://contoso.com\uff0eevil.example/login")
        self.assert_refused("uf-fw-2", "see http://contoso.com\u3002evil.example/login")
        # The real intranet host, written with full-width forms, still passes byte for byte.
        body = "see http://wiki\uff0econtoso.com/page"
        forwarded = self.relay(message_request(self.caller.port, call_id="uf-fw-3", body=body))
        self.assertEqual(body_of(forwarded), body.encode())

    def test_full_width_scheme_and_the_new_default_schemes_are_links(self):
        self.start()
        for number, text in enumerate(["\uff48\uff54\uff54\uff50://evil.example/", "javascript:alert(1)",
                                       "data:text/html;base64,PHNjcmlwdD4=", "smb://evil.example/share",
                                       "ms-msdt:/id PCWDiagnostic", "search-ms:query=x&crumb=location:\\\\evil",
                                       "ms-officecmd:{}", "ms-word:ofe|u|https://evil.example/a.docx",
                                       "ws://evil.example/", "vbscript:msgbox(1)", "file:///c:/x.txt"]):
            self.assert_refused(f"uf-scheme-{number}", "open " + text)

    def test_link_in_subject_is_refused_or_defanged(self):
        self.start()
        answer = self.assert_refused("uf-subject-1", "hi", extra="Subject: see http://evil.example/\r\n")
        self.assertEqual(header(answer, "Warning"), '399 sipwarden "url_filter: links are not allowed"')

    def test_link_in_subject_is_defanged_in_the_forwarded_header(self):
        self.start(action="defang")
        forwarded = self.relay(message_request(self.caller.port, call_id="uf-subject-2", body="hi",
                                                            extra="Subject: see http://evil.example/\r\n"))
        self.assertEqual(header(forwarded, "Subject"), "see _http://evil.example/")
        self.assertEqual(body_of(forwarded), b"hi")


class UrlFilterWithSipp(HopTestCase):
    def scenario(self, final_code):
        handle, path = tempfile.mkstemp(suffix=".xml")
        with os.fdopen(handle, "w") as out:
            out.write(UAC_WITH_LINKS % final_code)
        self.cleanups.append(lambda: os.unlink(path))
        return path

    def test_sipp_messages_with_links_are_all_answered_403(self):
        upstream = self.peer()
        warden = self.hop("--upstream", f"127.0.0.1:{upstream.port}", config=url_filter_config())
        calls = 30
        run = Sipp(self.scenario(403), target=f"127.0.0.1:{warden.port}", calls=calls, rate=100).run()
        self.assertEqual(run.count("Successful call"), calls, run.output[-3000:] + warden.output())
        self.assertEqual(run.count("Failed call"), 0)
        self.assertEqual(upstream.recv_all(quiet=0.3), [], "nothing reached the next hop")

    def test_sipp_messages_with_links_are_defanged_and_delivered(self):
        uas_port = free_port()
        self.sipp_background("uas_message.xml", port=uas_port)
        warden = self.hop("--upstream", f"127.0.0.1:{uas_port}", config=url_filter_config(action="defang"))
        calls = 30
        run = Sipp(self.scenario(200), target=f"127.0.0.1:{warden.port}", calls=calls, rate=100).run()
        self.assertEqual(run.count("Successful call"), calls, run.output[-3000:] + warden.output())
        self.assertEqual(run.count("Failed call"), 0)


class UrlFilterConfig(HopTestCase):
    def start_with(self, **options):
        handle, path = tempfile.mkstemp(suffix=".json")
        with os.fdopen(handle, "w") as out:
            out.write(url_filter_config(**options))
        self.cleanups.append(lambda: os.unlink(path))
        return subprocess.run([BINARY, "run", "--config", path, "--listen", f"udp:127.0.0.1:{free_port()}"],
                              capture_output=True, text=True, timeout=10)

    def test_bad_values_stop_start_up_with_the_key(self):
        cases = [
            ({"action": "quarantine"}, "plugins[0].action: expected block|defang|warn"),
            ({"allow_intranet": ["10.0.0.0/33"]},
             "plugins[0].allow_intranet: '10.0.0.0/33' is not a domain, an IP address or a CIDR network"),
            ({"prefixes": ["1http:"]}, "plugins[0].prefixes: '1http:' is not a scheme"),
            ({"max_urls": 0.5}, "plugins[0].max_urls: expected an integer"),
            ({"max_links": 0}, "plugins[0].max_links: expected an integer from 1 to 1000000"),
            ({"max_body_bytes": "1M"}, "plugins[0].max_body_bytes: expected an integer"),
            ({"colour": "blue"}, "plugins[0].colour: unknown key"),
        ]
        for options, message in cases:
            result = self.start_with(**options)
            self.assertEqual(result.returncode, 1, options)
            self.assertIn(message, result.stderr, options)


if __name__ == "__main__":
    import unittest
    unittest.main()
