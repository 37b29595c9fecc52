"""Issue 17's acceptance through the running hop: every wire form of an
instant message is either read (its link refused by url_filter, its card
number by keyword, its text found by `sipwarden query --text`) or refused
as unreadable; never delivered unseen. One test per row of the issue's
table, then a generated corpus of a few hundred combinations.

Three hops, each with its own archive, in front of a next hop that answers
200:
  filters   url_filter (block, allow_intranet contoso.com), keyword (cards,
            block), file_filter (the default list: .exe, .scr, ...), archive
  keyword   keyword (cards, block), file_filter, archive
  archive   keyword (cards, flag), archive: readable messages are delivered

WIRE_FORMS_SEED and WIRE_FORMS_COUNT set the corpus' seed and size (3000
runs all 2550 forms, about two minutes)."""
import base64
import glob
import gzip
import os
import random
import subprocess
import sys
import time
import unittest

import wire_forms as wf
from wire_forms import CARDS_BLOCK, CARDS_FLAG, FILES, URLS_BLOCK, RunningHop

SEED = int(os.environ.get("WIRE_FORMS_SEED", "17"))
CORPUS_SIZE = int(os.environ.get("WIRE_FORMS_COUNT", "300"))


class Hops:
    """The three hops, started once for the module."""
    filters = keyword = archive = None

    @classmethod
    def start(cls):
        try:
            cls.filters = RunningHop([URLS_BLOCK, CARDS_BLOCK, FILES])
            cls.keyword = RunningHop([CARDS_BLOCK, FILES])
            cls.archive = RunningHop([CARDS_FLAG])
        except Exception:
            cls.stop()
            raise

    @classmethod
    def stop(cls):
        for hop in (cls.filters, cls.keyword, cls.archive):
            if hop:
                hop.stop()
        cls.filters = cls.keyword = cls.archive = None


def setUpModule():
    Hops.start()


def tearDownModule():
    Hops.stop()


def query_knows_unreadable():
    """Whether `sipwarden query` lists --unreadable in its usage."""
    result = subprocess.run([wf.BINARY, "query"], capture_output=True, text=True, timeout=60)
    return "--unreadable" in result.stdout + result.stderr


def qp_soft_broken(data):
    """Quoted-printable whose soft line breaks split every word."""
    return wf.quoted_printable(data, width=5)


def single_part(content_type, entity_headers, body):
    """multipart/mixed with one part: (content type, body)."""
    return wf.multipart(content_type, entity_headers, body, "wfb1", sibling=False)


class CredentialsStayOut(unittest.TestCase):
    """Authorization and Proxy-Authorization never reach the archive or the
    log, whatever the body (a debug-level hop logs the most)."""

    def test_credentials_are_neither_archived_nor_logged(self):
        hop = RunningHopWithDebugLog()
        try:
            secret = "c2VjcmV0LXBhc3N3b3JkLTQyNDI"
            headers = [("Authorization", f'Digest username="alice", realm="x", nonce="n", uri="sip:b@x", '
                                         f'response="{secret}"'),
                       ("Proxy-Authorization", f"Basic {secret}")]
            for body, content_type in ((b"hello there", "text/plain"), (b"\x00\xff broken", "text/plain"),
                                       (b"<p>hi</p>", "text/html")):
                code, _, call_id = hop.message("creds", body, content_type, headers=headers)
                self.assertIsNotNone(code)
            stored = b""
            for path in glob.glob(hop.db + "*"):  # the file and its WAL
                with open(path, "rb") as part:
                    stored += part.read()
            self.assertIn(b"hello there", stored, "the search reads what the archive wrote")
            self.assertNotIn(secret.encode(), stored)
            self.assertNotIn(secret, hop.warden.output())
            exported = subprocess.run([wf.BINARY, "query", "messages", "--db", hop.db, "--format", "json"],
                                      capture_output=True, timeout=60)
            self.assertNotIn(secret.encode(), exported.stdout)
        finally:
            hop.stop()


def RunningHopWithDebugLog():
    return wf.RunningHop([CARDS_FLAG], log_level="debug")


class WireFormRows(unittest.TestCase):
    """The table of issue 17, one row (or half-row) per test. Each message
    carries a link, a card number and a word; the filters hop must refuse
    it for its link, the keyword hop for its card, and the archive hop must
    deliver it and make the word searchable."""

    def setUp(self):
        self.rng = random.Random(f"{SEED}-{self.id()}")
        self.p = wf.payload(self.rng, tag="row")

    def assert_read_everywhere(self, label, body, content_type="text/plain", headers=()):
        """The form is read: 403 for the link, 403 for the card, and
        delivered with its word archived and its card seen."""
        self.assert_filters_refuse(label, body, content_type, headers)
        self.assert_archived_for_search(label, body, content_type, headers)

    def assert_filters_refuse(self, label, body, content_type="text/plain", headers=()):
        code, warning, _ = Hops.filters.message(label, body, content_type, headers)
        self.assertEqual((code, warning), (403, '399 sipwarden "url_filter: links are not allowed"'),
                         f"{label}: the link {self.p.link} is seen by url_filter")
        code, warning, _ = Hops.keyword.message(label, body, content_type, headers)
        self.assertEqual((code, warning), (403, '399 sipwarden "keyword: cards"'),
                         f"{label}: the card {self.p.card} is seen by keyword")

    def assert_archived_for_search(self, label, body, content_type="text/plain", headers=()):
        code, warning, call_id = Hops.archive.message(label, body, content_type, headers)
        self.assertEqual(code, 200, f"{label}: a readable message with a flagged card is delivered ({warning})")
        rows = Hops.archive.find_text(self.p.word, call_id)
        self.assertEqual(len(rows), 1, f"{label}: `query --text {self.p.word}` finds the archived row")
        self.assertIn("keyword:cards", str(rows[0].get("rules")), f"{label}: the flag reached the archive")

    # -- bodies the filters did not read

    def test_rtf_with_hyperlink_field(self):
        self.assert_read_everywhere("rtf", wf.rtf_text(self.p).encode(), "text/rtf")

    def ms_im_format_rtf(self):
        rtf = base64.b64encode(wf.rtf_text(self.p).encode()).decode()
        return dict(body=b"hi", content_type="text/plain; charset=UTF-8",
                    headers=[("Ms-IM-Format", f"text/rtf; charset=UTF-8; ms-body={rtf}")])

    def test_ms_im_format_rtf_carries_the_link_behind_a_plain_hi(self):
        self.assert_filters_refuse("ms-im-rtf", **self.ms_im_format_rtf())

    def test_ms_im_format_rtf_text_is_archived(self):
        self.assert_archived_for_search("ms-im-rtf", **self.ms_im_format_rtf())

    def test_no_content_type(self):
        self.assert_read_everywhere("no-ctype", wf.plain_text(self.p).encode(), content_type=None)

    def test_text_enriched(self):
        self.assert_read_everywhere("enriched", wf.enriched_text(self.p).encode(), "text/enriched; charset=utf-8")

    def test_application_xhtml(self):
        self.assert_read_everywhere("xhtml", wf.xhtml_text(self.p).encode(), "application/xhtml+xml; charset=utf-8")

    def test_mime_part_in_quoted_printable(self):
        content_type, body = single_part("text/plain; charset=utf-8",
                                         [("Content-Transfer-Encoding", "quoted-printable")],
                                         qp_soft_broken(wf.plain_text(self.p).encode()))
        self.assertNotIn(self.p.word.encode(), body, "the soft line breaks split the word on the wire")
        self.assert_read_everywhere("qp", body, content_type)

    def test_mime_part_in_base64(self):
        content_type, body = single_part("text/html; charset=utf-8", [("Content-Transfer-Encoding", "base64")],
                                         wf.base64_lines(wf.html_text(self.p).encode()))
        self.assert_read_everywhere("base64", body, content_type)

    def mixed_plain_and_html(self):
        # Not alternatives of one text: the HTML part says what the plain
        # part does not.
        body = (b"--mx1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nsee below\r\n"
                b"--mx1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + wf.html_text(self.p).encode() +
                b"\r\n--mx1--\r\n")
        return dict(body=body, content_type="multipart/mixed; boundary=mx1")

    def test_multipart_mixed_with_a_plain_part_and_an_html_part(self):
        self.assert_filters_refuse("mixed", **self.mixed_plain_and_html())

    def test_multipart_mixed_html_part_is_archived(self):
        self.assert_archived_for_search("mixed", **self.mixed_plain_and_html())

    def test_content_encoding_gzip(self):
        self.assert_read_everywhere("gzip", gzip.compress(wf.plain_text(self.p).encode(), mtime=0),
                                    "text/plain; charset=utf-8", headers=[("Content-Encoding", "gzip")])

    def test_utf16_with_bom(self):
        body = b"\xff\xfe" + wf.plain_text(self.p).encode("utf-16-le")
        self.assert_read_everywhere("utf16-bom", body, "text/plain; charset=utf-16")

    def test_utf16_without_bom_little_endian(self):
        # What Windows writes when it says utf-16: little-endian, no BOM.
        self.assert_read_everywhere("utf16-le", wf.plain_text(self.p).encode("utf-16-le"),
                                    "text/plain; charset=utf-16")

    def test_utf16_without_bom_big_endian(self):
        self.assert_read_everywhere("utf16-be", wf.plain_text(self.p).encode("utf-16-be"),
                                    "text/plain; charset=utf-16")

    def test_cpim_with_a_single_blank_line(self):
        body = (b"From: <sip:alice@example.com>\r\nTo: <sip:bob@example.com>\r\n"
                b"DateTime: 2026-11-24T09:00:00Z\r\n\r\n" + wf.plain_text(self.p).encode())
        self.assert_read_everywhere("cpim-1", body, "message/cpim")

    def test_multipart_nested_four_deep_is_read(self):
        content_type, _, body = wf.nest("text/plain; charset=utf-8", [], wf.plain_text(self.p).encode(), 4, "n4")
        self.assert_read_everywhere("nested-4", body, content_type)

    def test_multipart_nested_five_deep_is_refused_415(self):
        content_type, _, body = wf.nest("text/plain; charset=utf-8", [], wf.plain_text(self.p).encode(), 5, "n5")
        for hop, plugin in ((Hops.filters, "url_filter"), (Hops.keyword, "keyword"), (Hops.archive, "keyword")):
            code, warning, _ = hop.message("nested-5", body, content_type)
            self.assertEqual(code, 415, f"{plugin}: multipart nested 5 deep is unreadable ({warning})")
            self.assertTrue((warning or "").startswith(f'399 sipwarden "{plugin}: unreadable content: '), warning)
            self.assertIn("nested deeper than 4", warning)

    def test_multipart_nested_five_deep_with_on_unreadable_flag_is_delivered_and_archived(self):
        content_type, _, body = wf.nest("text/plain; charset=utf-8", [], wf.plain_text(self.p).encode(), 5, "n5f")
        hop = RunningHop([URLS_BLOCK, CARDS_BLOCK, FILES], on_unreadable="flag")
        self.addCleanup(hop.stop)
        code, warning, call_id = hop.message("nested-5-flag", body, content_type)
        self.assertEqual(code, 200, f"flagged, not refused ({warning})")
        rows = [m for m in hop.query("--call-id", call_id)]
        self.assertEqual(len(rows), 1, "the message is archived")
        self.assertIn("url_filter:unreadable", str(rows[0].get("rules")))
        if not query_knows_unreadable():
            # TODO(issue 17): `query --unreadable` lands with the archive's
            # raw body column; until then this half of the row is skipped.
            self.skipTest("sipwarden query has no --unreadable yet")
        self.assertIn(call_id, [m.get("call_id") for m in hop.query("--unreadable")])

    # -- links as a browser reads them

    def assert_link_refused(self, label, body, content_type="text/plain; charset=utf-8", headers=()):
        code, warning, _ = Hops.filters.message(label, body, content_type, headers)
        self.assertEqual(code, 403, f"{label}: {body[:120]!r} is refused for its link ({warning})")
        self.assertTrue((warning or "").startswith('399 sipwarden "url_filter: '), warning)

    def test_intranet_link_passes(self):
        # The control for the look-alike rows below: contoso.com is allowed.
        code, warning, _ = Hops.filters.message("intranet", "wiki at http://contoso.com/wiki and http://hr.contoso.com/")
        self.assertEqual(code, 200, warning)

    def test_full_width_and_ideographic_dots_in_the_host(self):
        for dot in ("\uff0e", "\u3002", "\uff61"):
            self.assert_link_refused(f"dot-{ord(dot):x}", f"see http://contoso.com{dot}evil.example/login".encode())

    def test_full_width_scheme(self):
        self.assert_link_refused("fw-scheme", "see \uff48\uff54\uff54\uff50://evil.example/".encode())

    def test_schemes_that_run_code_or_fetch_files(self):
        for label, link in (("data", "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="),
                            ("javascript", "javascript:alert(document.cookie)"),
                            ("smb", "smb://evil.example/share/invoice.pdf"),
                            ("ms-msdt", "ms-msdt:/id PCWDiagnostic /skip force /param IT_RebrowseForFile=x"),
                            ("search-ms", "search-ms:query=invoice&crumb=location:\\\\evil.example\\share"),
                            ("ws", "ws://evil.example/socket")):
            self.assert_link_refused(label, f"open {link} now".encode())

    def test_link_in_subject(self):
        self.assert_link_refused("subject", b"hi", headers=[("Subject", "invoice http://evil.example/pay")])

    def test_link_inside_a_sip_uri_parameter(self):
        # The sip: URI's host is allowed; the link rides in its parameter.
        self.assert_link_refused("sip-param", b"call me: sip:bob@contoso.com;x=http://evil.example/login")

    def test_meta_refresh(self):
        self.assert_link_refused(
            "meta-refresh",
            b'<html><head><meta http-equiv="refresh" content="0;url=http://evil.example/"></head><body>hi</body></html>',
            "text/html; charset=utf-8")

    def test_ie_conditional_comment(self):
        self.assert_link_refused(
            "ie-comment",
            b'<html><body>hi<!--[if IE]><a href="http://evil.example/">open</a><![endif]--></body></html>',
            "text/html; charset=utf-8")

    # -- file names read strictly

    def sdp_offer(self, selector):
        return ("v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                "m=message 9 TCP/MSRP *\r\na=sendonly\r\na=accept-types:message/cpim\r\n"
                "a=path:msrp://127.0.0.1:9/x;tcp\r\n"
                f"a=file-selector:{selector}\r\n"
                "a=file-transfer-id:wf1\r\n").encode()

    def file_offer(self, label, selector):
        """(INVITE code, MESSAGE code) of an offer with this file-selector:
        an INVITE with SDP, and a MESSAGE with the SDP as a multipart part."""
        sdp = self.sdp_offer(selector)
        invite, warning_invite, _ = Hops.filters.message(label, sdp, "application/sdp", method="INVITE")
        content_type, body = wf.multipart("application/sdp", [], sdp, "wff1")
        message, warning_message, _ = Hops.filters.message(label, body, content_type)
        return invite, message, warning_invite, warning_message

    def assert_offer_refused(self, label, selector):
        started = time.monotonic()
        invite, message, warning_invite, warning_message = self.file_offer(label, selector)
        self.assertEqual((invite, message), (488, 403),
                         f"{label}: {selector[:100]!r} is refused ({warning_invite} / {warning_message})")
        self.assertTrue((warning_invite or "").startswith('399 sipwarden "file_filter: '), warning_invite)
        self.assertLess(time.monotonic() - started, 3.0)

    def test_allowed_file_offer_passes(self):
        # The control: a plain photo is offered.
        invite, message, w1, w2 = self.file_offer("photo", 'name:"photo.jpg" type:image/jpeg size:1000')
        self.assertEqual((invite, message), (200, 200), (w1, w2))

    def test_file_name_with_backslash_escaped_quotes(self):
        self.assert_offer_refused("name-escaped", 'name:"Q3 \\"final\\".xlsx.scr" type:application/pdf size:1000')

    def test_file_name_with_unterminated_quote(self):
        self.assert_offer_refused("name-unterminated", 'name:"setup.scr type:application/pdf size:1000')

    def test_file_name_of_ten_thousand_quotes(self):
        self.assert_offer_refused("name-quotes", "name:" + '"' * 10000 + 'evil.exe" type:image/jpeg size:1000')

    def test_two_name_attributes(self):
        self.assert_offer_refused("name-two", 'name:"photo.jpg" type:image/jpeg name:"evil.exe" size:1000')
        self.assert_offer_refused("name-two-b", 'name:"evil.exe" type:image/jpeg name:"photo.jpg" size:1000')

    def test_file_name_ending_in_backslash(self):
        self.assert_offer_refused("name-backslash", 'name:"report.exe\\" type:application/pdf size:1000')

    # -- outside the table: a sender's own choice of form

    def test_top_level_content_transfer_encoding(self):
        """RFC 3261 has no Content-Transfer-Encoding, but a sender can write
        one on the request, and a client built on a MIME library decodes
        it. The hop must read it or refuse it, not pass base64 as text."""
        for transfer, body in (("base64", wf.base64_lines(wf.plain_text(self.p).encode())),
                               ("quoted-printable", qp_soft_broken(wf.plain_text(self.p).encode()))):
            code, warning, _ = Hops.filters.message("top-cte", body, "text/plain; charset=utf-8",
                                                    headers=[("Content-Transfer-Encoding", transfer)])
            self.assertIn(code, (403, 415), f"{transfer} at the top of the body is read or refused ({warning})")

    def test_two_content_type_headers(self):
        for first, second in (("text/plain", "application/octet-stream"),
                              ("application/octet-stream", "text/plain")):
            # `headers` go on the wire before the Content-Type argument.
            code, warning, _ = Hops.filters.message("two-ctype", wf.plain_text(self.p).encode(), second,
                                                    headers=[("Content-Type", first)])
            self.assertIn(code, (403, 415), f"{first} then {second}: read or refused ({warning})")


class CorpusGenerator(unittest.TestCase):
    """The generator writes what it means to: Python's email package finds
    the word, the link and the card in every form (so a corpus failure is
    the hop's, not the test's)."""

    def test_python_reads_every_form(self):
        rng = random.Random(SEED)
        for index, form in enumerate(wf.all_forms()):
            p = wf.payload(rng, tag=f"g{index}")
            headers, content_type, body = wf.build(form, p, f"g{index}")
            text = wf.decode_with_python(form, headers, content_type, body)
            for needle in (p.word, p.link, p.card):
                self.assertIn(needle, text, form.describe())


class GeneratedCorpus(unittest.TestCase):
    """A seeded sample of every combination of media type, transfer
    encoding, content encoding, charset, multipart nesting (0..5) and CPIM
    wrapping, each message with its own link, card and word."""

    def test_every_form_is_read_or_refused_never_delivered_unseen(self):
        rng = random.Random(SEED)
        forms = wf.all_forms()
        sample = rng.sample(forms, min(CORPUS_SIZE, len(forms)))
        failures = []
        started = time.monotonic()
        for index, form in enumerate(sample):
            p = wf.payload(rng, tag=f"c{index}")
            headers, content_type, body = wf.build(form, p, f"{SEED}x{index}")
            problem = self.check(form, p, headers, content_type, body, index)
            if problem:
                failures.append(f"[seed {SEED} #{index}] {form.describe()}: {problem}")
        elapsed = time.monotonic() - started
        print(f"\nwire forms corpus: seed {SEED}, {len(sample)} of {len(forms)} forms, "
              f"{len(failures)} failing, {elapsed:.1f} s", file=sys.stderr)
        self.assertEqual(failures, [], "\n" + "\n".join(failures[:60]) +
                         (f"\n... and {len(failures) - 60} more" if len(failures) > 60 else ""))

    def check(self, form, p, headers, content_type, body, index):
        """What is wrong with the hops' handling of one message, or None."""
        refused_for = {True: (403,), False: (415,)}[form.readable()]
        label = f"c{index}"
        code, warning, _ = Hops.filters.message(label, body, content_type, headers)
        if code not in refused_for or (code == 403 and "url_filter" not in (warning or "")):
            return f"filters hop: expected {refused_for[0]} from url_filter, got {code} {warning}"
        code, warning, _ = Hops.keyword.message(label, body, content_type, headers)
        if code not in refused_for or (code == 403 and warning != '399 sipwarden "keyword: cards"'):
            return f"keyword hop: expected {refused_for[0]} from keyword (card {p.card}), got {code} {warning}"
        code, warning, call_id = Hops.archive.message(label, body, content_type, headers)
        if not form.readable():
            return None if code == 415 else f"archive hop: expected 415, got {code} {warning}"
        if code != 200:
            return f"archive hop: expected 200, got {code} {warning}"
        rows = Hops.archive.find_text(p.word, call_id)
        if len(rows) != 1:
            return f"archive hop: `query --text {p.word}` found {len(rows)} rows for {call_id}"
        return None


if __name__ == "__main__":
    unittest.main()
