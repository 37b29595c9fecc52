"""Wire forms of an instant message (issue 17), built with the Python
standard library only: the bodies a sender can choose to carry a link, a
card number and a word past the filters and out of the archive, and the
hops that must see them. Used by test_wire_forms.py.

Everything here is deterministic for a given random.Random, so a corpus
failure can be rebuilt from its seed and index."""
import base64
import codecs
import gzip
import json
import os
import re
import selectors
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import zlib
from dataclasses import dataclass

from harness import BINARY, Sipwarden, UdpPeer, ack_for, free_port, header, reply_to, status_of

# The body reader reads this many containers (multipart, message/cpim) one
# inside another; the next one is unreadable (docs/plugin-sdk.md, kMaxBodyNesting).
MAX_NESTING = 4

INTRANET = "contoso.com"


# ---------------------------------------------------------------- requests

def sip_request(port, call_id, body=b"", content_type="text/plain", method="MESSAGE", headers=()):
    """A request as a UA on 127.0.0.1:`port` sends it. `content_type` None
    leaves the header out; `headers` are (name, value) pairs, in order,
    whose values may be str or bytes."""
    if isinstance(body, str):
        body = body.encode()
    branch = "z9hG4bK" + re.sub(r"[^A-Za-z0-9]", "", call_id)
    lines = [f"{method} sip:bob@127.0.0.1:{port} SIP/2.0",
             f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch={branch};rport",
             "Max-Forwards: 70",
             "From: <sip:alice@example.com>;tag=a1",
             "To: <sip:bob@example.com>",
             f"Call-ID: {call_id}",
             f"CSeq: 1 {method}"]
    if method == "INVITE":
        lines.append(f"Contact: <sip:alice@127.0.0.1:{port}>")
    head = "\r\n".join(lines).encode() + b"\r\n"
    for name, value in headers:
        head += name.encode() + b": " + (value if isinstance(value, bytes) else value.encode("utf-8")) + b"\r\n"
    if content_type is not None:
        head += f"Content-Type: {content_type}\r\n".encode()
    return head + f"Content-Length: {len(body)}\r\n\r\n".encode() + body


def luhn_complete(digits):
    """`digits` with the Luhn check digit appended."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 0:  # doubled once the check digit is appended
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return digits + str((10 - total % 10) % 10)


def card_number(rng):
    """A Luhn-valid 16-digit number in the Visa range, grouped by four as
    people type it."""
    digits = luhn_complete("4" + "".join(str(rng.randrange(10)) for _ in range(14)))
    return " ".join(digits[i:i + 4] for i in range(0, 16, 4))


def unique_word(rng):
    """A word no other message holds and the FTS tokenizer keeps whole."""
    return "wf" + "".join(rng.choice("bcdfghjklmnpqrstvwxz") for _ in range(10))


@dataclass
class Payload:
    """What one message carries: each must be found by its own filter."""
    word: str
    link: str
    card: str


def payload(rng, tag="x"):
    word = unique_word(rng)
    return Payload(word=word, link=f"http://{word}.{tag}.evil.example/landing", card=card_number(rng))


# The sentence in each form. It holds a non-ASCII letter so that reading it
# in the wrong charset shows; windows-1252 also gets a letter ISO-8859-1 lacks.
def sentence(p, charset="utf-8"):
    extra = " it\u2019s" if charset == "windows-1252" else ""
    return f"Hello {p.word} caf\u00e9{extra}, see {p.link} card {p.card} thanks"


def plain_text(p, charset="utf-8"):
    return sentence(p, charset)


def html_text(p, charset="utf-8"):
    """The link in the href only: the visible text says "here"."""
    words = sentence(p, charset).replace(p.link, '<a href="' + p.link + '">here</a>')
    return f"<html><body><p>{words}</p></body></html>"


def xhtml_text(p, charset="utf-8"):
    words = sentence(p, charset).replace(p.link, '<a href="' + p.link + '">here</a>')
    return ('<?xml version="1.0"?>\n<html xmlns="http://www.w3.org/1999/xhtml"><head><title>m</title></head>'
            f"<body><p>{words}</p></body></html>")


def enriched_text(p, charset="utf-8"):
    """RFC 1896: one line break is a space, a command is not text."""
    return (f"<bold>Hello</bold> {p.word} caf\u00e9{' it’s' if charset == 'windows-1252' else ''},\n"
            f"see <underline>{p.link}</underline>\ncard {p.card} thanks\n")


def rtf_escape(text, code_page_bytes):
    """Non-ASCII as \\'hh in the code page when it has the letter, else \\uN."""
    out = []
    for char in text:
        if ord(char) < 0x80:
            out.append(char)
            continue
        try:
            out.append("".join(f"\\'{b:02x}" for b in char.encode(code_page_bytes)) if code_page_bytes else "")
        except UnicodeEncodeError:
            out.append("")
        if not out[-1]:
            out[-1] = f"\\u{ord(char)}?"
    return "".join(out)


def rtf_text(p, charset="utf-8"):
    """The link only in a HYPERLINK field's instruction (the reader sees
    "here"). RTF is 7-bit: the charset dimension picks how non-ASCII is
    written (\\'hh in \\ansicpg1252 for the 8-bit charsets, \\uN otherwise)."""
    code_page = "cp1252" if charset in ("iso-8859-1", "windows-1252") else None
    before, after = sentence(p, charset).split(p.link)
    field = '{\\field{\\*\\fldinst{HYPERLINK "' + p.link + '"}}{\\fldrslt{\\ul here}}}'
    return ("{\\rtf1\\ansi\\ansicpg1252\\deff0{\\fonttbl{\\f0\\fswiss Segoe UI;}}{\\colortbl;\\red0\\green0\\blue0;}"
            "\\uc1\\f0\\fs20 " + rtf_escape(before, code_page) + field + rtf_escape(after, code_page) + "\\par}")


MEDIA = {
    "text/plain": plain_text,
    "text/html": html_text,
    "application/xhtml+xml": xhtml_text,
    "text/enriched": enriched_text,
    "text/rtf": rtf_text,
}

# name -> (charset parameter, encoder of a str)
CHARSETS = {
    "utf-8": ("utf-8", lambda s: s.encode("utf-8")),
    "utf-16le": ("utf-16le", lambda s: s.encode("utf-16-le")),
    "utf-16-bom": ("utf-16", lambda s: codecs.BOM_UTF16_LE + s.encode("utf-16-le")),
    "iso-8859-1": ("iso-8859-1", lambda s: s.encode("iso-8859-1")),
    "windows-1252": ("windows-1252", lambda s: s.encode("cp1252")),
}


def quoted_printable(data, width=60):
    """Quoted-printable that any byte sequence survives (line breaks and
    NULs as =0D=0A / =00, so UTF-16 stays aligned), with soft line breaks
    every `width` characters (a short width splits the link and the word)."""
    out, line = [], ""
    for byte in data:
        char = chr(byte) if 33 <= byte <= 126 and byte != 61 or byte == 32 else f"={byte:02X}"
        if len(line) + len(char) > width:
            out.append(line + "=")
            line = ""
        line += char
    out.append(line if not line.endswith(" ") else line[:-1] + "=20")
    return "\r\n".join(out).encode("ascii")


def base64_lines(data):
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


TRANSFER = {
    "none": lambda b: b,
    "base64": base64_lines,
    "quoted-printable": quoted_printable,
}


def gzip_bytes(data):
    return gzip.compress(data, mtime=0)


def deflate_bytes(data):
    return zlib.compress(data)  # zlib-wrapped, as HTTP's deflate


CONTENT_ENCODING = {"none": None, "gzip": gzip_bytes, "deflate": deflate_bytes}


def multipart(inner_type, inner_headers, inner_body, boundary, sibling=False):
    """multipart/mixed holding the given entity, after a short text part
    when `sibling`."""
    head = f"Content-Type: {inner_type}\r\n".encode() + b"".join(
        f"{k}: {v}\r\n".encode() for k, v in inner_headers)
    parts = b""
    if sibling:
        parts += f"--{boundary}\r\nContent-Type: text/plain\r\n\r\nsee below\r\n".encode()
    parts += f"--{boundary}\r\n".encode() + head + b"\r\n" + inner_body + f"\r\n--{boundary}--\r\n".encode()
    return f"multipart/mixed; boundary={boundary}", parts


def nest(content_type, entity_headers, body, levels, tag):
    """`levels` multipart/mixed containers around an entity; returns
    (content type, headers that still belong to the outermost entity, body)."""
    for level in range(levels):
        content_type, body = multipart(content_type, entity_headers, body, f"b{level}-{tag}")
        entity_headers = []
    return content_type, entity_headers, body


def cpim(content_type, entity_headers, body):
    """message/cpim as RFC 3862 writes it: CPIM headers, empty line, MIME
    headers, empty line, content."""
    head = ("From: <sip:alice@example.com>\r\nTo: <sip:bob@example.com>\r\n"
            "DateTime: 2026-11-24T09:00:00Z\r\n\r\n"
            f"Content-Type: {content_type}\r\n").encode()
    head += b"".join(f"{k}: {v}\r\n".encode() for k, v in entity_headers)
    return "message/cpim", [], head + b"\r\n" + body


@dataclass(frozen=True)
class Form:
    media: str
    transfer: str
    content_encoding: str
    charset: str
    nesting: int
    wrapped_in_cpim: bool

    def containers(self):
        return self.nesting + (1 if self.wrapped_in_cpim else 0)

    def readable(self):
        """Whether the body reader must read it (else it must refuse it)."""
        return self.containers() <= MAX_NESTING

    def describe(self):
        return (f"{self.media} cte={self.transfer} ce={self.content_encoding} charset={self.charset} "
                f"nesting={self.nesting} cpim={'yes' if self.wrapped_in_cpim else 'no'}")


def all_forms():
    """Every combination. A transfer encoding needs a MIME entity header to
    sit in: a part of a multipart or the MIME section of CPIM. At the top
    of a SIP body there is none (RFC 3261 defines no Content-Transfer-
    Encoding), so that case is its own test, not part of the corpus."""
    forms = []
    for media in MEDIA:
        for transfer in TRANSFER:
            for content_encoding in CONTENT_ENCODING:
                for charset in CHARSETS:
                    for nesting in range(6):
                        for wrapped in (False, True):
                            if transfer != "none" and nesting == 0 and not wrapped:
                                continue
                            forms.append(Form(media, transfer, content_encoding, charset, nesting, wrapped))
    return forms


def build(form, p, tag):
    """(headers, content type, body bytes) of a MESSAGE in `form` carrying `p`."""
    charset_param, encode = CHARSETS[form.charset]
    text = MEDIA[form.media](p, form.charset)
    if form.media == "text/rtf":
        content_type, data = "text/rtf", text.encode("ascii")
    else:
        content_type, data = f"{form.media}; charset={charset_param}", encode(text)
    entity_headers = []
    if form.transfer != "none":
        data = TRANSFER[form.transfer](data)
        entity_headers.append(("Content-Transfer-Encoding", form.transfer))
    content_type, entity_headers, data = nest(content_type, entity_headers, data, form.nesting, tag)
    if form.wrapped_in_cpim:
        content_type, entity_headers, data = cpim(content_type, entity_headers, data)
    assert not entity_headers, "a transfer encoding always sits in a MIME header section"
    headers = []
    if form.content_encoding != "none":
        data = CONTENT_ENCODING[form.content_encoding](data)
        headers.append(("Content-Encoding", form.content_encoding))
    return headers, content_type, data


# ---------------------------------------------------------------- hops

CARDS_BLOCK = {"plugin": "keyword", "name": "cards", "action": "block", "template": "payment_card"}
CARDS_FLAG = {"plugin": "keyword", "name": "cards", "action": "flag", "template": "payment_card"}
URLS_BLOCK = {"plugin": "url_filter", "action": "block", "allow_intranet": [INTRANET]}
FILES = {"plugin": "file_filter"}


class NextHop:
    """A next hop that answers 200 to every request over UDP and over TCP on
    the same port: the hop sends a request over 1300 bytes by TCP (RFC 3261
    section 18.1.1), and most of the corpus is larger than that."""

    def __init__(self):
        self.port = free_port()
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(("127.0.0.1", self.port))
        self.tcp.listen(16)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.udp, selectors.EVENT_READ, "udp")
        self.selector.register(self.tcp, selectors.EVENT_READ, "listen")
        self.buffers = {}
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @staticmethod
    def _answer(request):
        if request.startswith(b"SIP/2.0") or request.startswith(b"ACK"):
            return None
        return reply_to(request, 200, "OK")

    def _serve(self):
        while self.running:
            for key, _ in self.selector.select(timeout=0.2):
                try:
                    if key.data == "udp":
                        data, source = self.udp.recvfrom(65535)
                        answer = self._answer(data)
                        if answer:
                            self.udp.sendto(answer, source)
                    elif key.data == "listen":
                        connection, _ = self.tcp.accept()
                        self.buffers[connection] = b""
                        self.selector.register(connection, selectors.EVENT_READ, "tcp")
                    else:
                        self._read_stream(key.fileobj)
                except OSError:
                    pass

    def _read_stream(self, connection):
        chunk = connection.recv(65536)
        if not chunk:
            self.selector.unregister(connection)
            self.buffers.pop(connection, None)
            connection.close()
            return
        buffer = self.buffers[connection] + chunk
        while True:
            head_end = buffer.find(b"\r\n\r\n")
            if head_end < 0:
                break
            length = int(header(buffer[:head_end + 4], "Content-Length") or header(buffer[:head_end + 4], "l") or 0)
            end = head_end + 4 + length
            if len(buffer) < end:
                break
            answer = self._answer(buffer[:end])
            if answer:
                connection.sendall(answer)
            buffer = buffer[end:]
        self.buffers[connection] = buffer

    def stop(self):
        self.running = False
        self.thread.join(timeout=2)
        for connection in list(self.buffers):
            connection.close()
        self.udp.close()
        self.tcp.close()
        self.selector.close()


class RunningHop:
    """A hop with an archive of its own in front of a next hop that answers
    200 (NextHop), and a caller. The archive writes before forwarding (reject), so a
    200 means the row is committed."""

    def __init__(self, plugins, **top_level):
        self.dir = tempfile.mkdtemp(prefix="sipwarden-wire-")
        self.db = os.path.join(self.dir, "archive.db")
        config = {"archive": {"path": self.db, "batch_ms": 5},
                  "plugins": list(plugins) + [{"plugin": "archive", "on_archive_failure": "reject"}]}
        config.update(top_level)
        self.config = config
        self.upstream = NextHop()
        try:
            self.warden = Sipwarden("--upstream", f"127.0.0.1:{self.upstream.port}", config=json.dumps(config))
            self.warden.start()
        except Exception:
            self.upstream.stop()
            raise
        self.caller = UdpPeer()
        self.calls = 0

    def call_id(self, label):
        self.calls += 1
        return f"wf-{label}-{self.calls}"

    def send(self, request, timeout=3.0):
        """Sends `request`; returns the final response (bytes, or None)."""
        self.caller.send(request, self.warden.port)
        deadline = time.time() + timeout
        while time.time() < deadline:
            answer = self.caller.recv(timeout=max(0.05, deadline - time.time()))
            if answer is None:
                return None
            if not answer.startswith(b"SIP/2.0"):
                continue
            code = status_of(answer)[0]
            if code is not None and code >= 200:
                if request.startswith(b"INVITE") and code >= 300:
                    self.caller.send(ack_for(request, answer), self.warden.port)
                return answer
        return None

    def message(self, label, body=b"", content_type="text/plain", headers=(), method="MESSAGE"):
        """(code, Warning, Call-ID) of one request through the hop."""
        call_id = self.call_id(label)
        answer = self.send(sip_request(self.caller.port, call_id, body, content_type, method, headers))
        return status_of(answer)[0], (header(answer, "Warning") if answer else None), call_id

    def query(self, *args):
        """`sipwarden query messages` on this hop's archive, as JSON items."""
        result = subprocess.run([BINARY, "query", "messages", "--db", self.db, "--format", "json", *args],
                                capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise AssertionError(f"sipwarden query {' '.join(args)} failed: {result.stdout}{result.stderr}")
        return json.loads(result.stdout)["items"]

    def find_text(self, word, call_id=None):
        """Rows whose archived text holds `word` (`query --text`), for
        `call_id` when given; the row is committed before the 200, but a
        few tries cover an archive that commits behind."""
        for _ in range(20):
            items = [m for m in self.query("--text", word) if call_id is None or m.get("call_id") == call_id]
            if items:
                return items
            time.sleep(0.05)
        return []

    def stop(self):
        try:
            self.caller.close()
        finally:
            try:
                self.warden.stop()
            finally:
                self.upstream.stop()
                shutil.rmtree(self.dir, ignore_errors=True)


def decode_with_python(form, headers, content_type, body):
    """The leaf's text as Python's email package reads the message: a check
    that the generator writes what it means to (used by the self-test)."""
    import email
    import email.policy
    if form.content_encoding == "gzip":
        body = gzip.decompress(body)
    elif form.content_encoding == "deflate":
        body = zlib.decompress(body)
    if content_type == "message/cpim":  # CPIM headers, empty line, then a MIME entity
        entity = email.message_from_bytes(body.split(b"\r\n\r\n", 1)[1], policy=email.policy.compat32)
    else:
        entity = email.message_from_bytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body,
                                          policy=email.policy.compat32)
    while entity.is_multipart():
        entity = entity.get_payload()[-1]
    data = entity.get_payload(decode=True)
    charset = entity.get_content_charset() or "ascii"
    return data.decode({"utf-16": "utf-16"}.get(charset, charset))
