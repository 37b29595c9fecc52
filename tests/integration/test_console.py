"""The web console in a real browser: headless chromium (DevTools protocol)
against a real sipwarden on a seeded archive. Searches for a word, opens the
conversation, checks what is shown, and keeps a screenshot in
build/.../test-output/."""
import json
import os

from devtools import Browser
from query_support import AUDITOR, OUTPUT_DIR, QueryTestCase


class Console(QueryTestCase):
    def setUp(self):
        super().setUp()
        self.admin_hop()
        self.browser = Browser()
        self.cleanups.append(self.browser.close)
        self.browser.open(self.http.base + "/")

    def fill(self, element, value):
        self.browser.evaluate(f"document.getElementById({json.dumps(element)}).value = {json.dumps(value)}")

    def test_search_open_conversation_and_call_log(self):
        b = self.browser
        self.fill("token", AUDITOR)
        self.fill("text", "quarterly")
        b.evaluate("document.getElementById('go').click()")
        b.wait_for("document.querySelectorAll('#messages tbody tr').length === 2")
        rows = b.evaluate("[...document.querySelectorAll('#messages tbody tr')].map(r => r.textContent)")
        self.assertIn("Yes, the quarterly report looks good", rows[0])
        self.assertIn("Hello Bob, did you see the quarterly report?", rows[1])
        self.assertEqual(b.evaluate("document.getElementById('status').textContent"), "2 messages found")

        b.evaluate("document.querySelector('#messages tbody tr').click()")
        b.wait_for("document.querySelectorAll('#conversation .msg').length === 4")
        shown = b.evaluate("""[...document.querySelectorAll('#conversation .msg')].map(m => ({
            verdict: m.dataset.verdict, text: m.querySelector('.text').textContent,
            badge: (m.querySelector('.badge') || {}).textContent || '',
            original: (m.querySelector('.orig') || {}).textContent || ''}))""")
        self.assertEqual([m["verdict"] for m in shown], ["delivered", "delivered", "blocked", "modified"])
        self.assertEqual(shown[2]["badge"], "blocked")
        self.assertIn("Here is the password: hunter2", shown[2]["text"])
        self.assertEqual(shown[3]["badge"], "modified")
        self.assertEqual(shown[3]["original"], "original: Look at http://evil.example/report")
        self.assertIn("1 blocked, 1 modified", b.evaluate("document.getElementById('conversation').textContent"))
        b.screenshot(os.path.join(OUTPUT_DIR, "console-conversation.png"))

        b.evaluate("document.getElementById('tab-calls').click()")
        b.wait_for("document.querySelectorAll('#calls tbody tr').length === 2")
        calls = b.evaluate("[...document.querySelectorAll('#calls tbody tr')].map(r => r.textContent)")
        self.assertIn("busy", calls[0])
        self.assertIn("60.0 s", calls[1])
        b.screenshot(os.path.join(OUTPUT_DIR, "console-calls.png"))

        # The console's searches reach the audit trail under the token's name.
        rows = self.http.json("/api/v1/audit")["items"]
        self.assertEqual([r["action"] for r in rows if r["who"] == "api:carol"][-3:], ["calls", "conversation", "messages"])

    def test_wrong_token_shows_an_error_and_no_results(self):
        b = self.browser
        self.fill("token", "not-the-token-0123456789")
        self.fill("text", "quarterly")
        b.evaluate("document.getElementById('go').click()")
        b.wait_for("document.getElementById('status').className === 'error'")
        self.assertEqual(b.evaluate("document.getElementById('status').textContent"), "the token was not accepted")
        self.assertEqual(b.evaluate("document.querySelectorAll('#messages tbody tr').length"), 0)
