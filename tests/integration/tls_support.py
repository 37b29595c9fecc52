"""TLS pieces for the integration tests: a test CA made with the openssl
command at test time, a SIP-over-TLS client and a one-connection TLS next
hop, both from Python's ssl module. Every wait is bounded."""
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


class TestCa:
    """A CA and the certificates it signs, as PEM files in `directory`."""

    def __init__(self, directory, name="sipwarden test CA"):
        self.dir = directory
        self.prefix = re.sub(r"\W", "_", name)
        self.cert = os.path.join(directory, self.prefix + ".pem")
        self.key = os.path.join(directory, self.prefix + ".key")
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", self.key, "-out", self.cert, "-days", "2", "-subj", f"/CN={name}",
                 "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
                 cwd=directory)

    def issue(self, stem, common_name, alt_names="IP:127.0.0.1,DNS:localhost"):
        """Signs a new key's certificate; returns (certificate, key) paths."""
        key = os.path.join(self.dir, stem + ".key")
        csr = os.path.join(self.dir, stem + ".csr")
        cert = os.path.join(self.dir, stem + ".pem")
        ext = os.path.join(self.dir, stem + ".ext")
        with open(ext, "w") as out:
            out.write(f"subjectAltName={alt_names}\nbasicConstraints=CA:FALSE\n")
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
                 "-out", csr, "-subj", f"/O=sipwarden tests/CN={common_name}", cwd=self.dir)
        _openssl("x509", "-req", "-in", csr, "-CA", self.cert, "-CAkey", self.key, "-CAcreateserial",
                 "-out", cert, "-days", "2", "-extfile", ext, cwd=self.dir)
        return cert, key


class WithTestCa:
    """A test-class mixin: a temporary directory, a CA and the hop's
    certificate (`HOP_NAME`), made once per class and removed after it."""
    HOP_NAME = "hop.test"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dir = tempfile.mkdtemp(prefix="sipwarden-tls-")
        cls.ca = TestCa(cls.dir)
        cls.hop_cert, cls.hop_key = cls.ca.issue("hop", cls.HOP_NAME)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)
        super().tearDownClass()


def client_context(ca=None, cert=None, key=None, verify=True):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if verify:
        context.load_verify_locations(ca)
    else:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if cert:
        context.load_cert_chain(cert, key)
    return context


def read_sip(sock, buffer):
    """One Content-Length framed message from a stream; (message, rest)."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buffer += chunk
    head, _, rest = buffer.partition(b"\r\n\r\n")
    match = re.search(rb"(?im)^(?:content-length|l)\s*:\s*(\d+)", head)
    length = int(match.group(1)) if match else 0
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        rest += chunk
    return head + b"\r\n\r\n" + rest[:length], rest[length:]


class TlsClient:
    """A SIP UA's TLS connection to the hop."""

    def __init__(self, port, context, server_name="127.0.0.1", timeout=3.0):
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock = context.wrap_socket(raw, server_hostname=server_name)
        self.sock.settimeout(timeout)
        self.port = self.sock.getsockname()[1]
        self.buffer = b""

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def recv(self):
        """The next message, or None on timeout or close."""
        try:
            message, self.buffer = read_sip(self.sock, self.buffer)
            return message
        except (socket.timeout, ConnectionError, ssl.SSLError, OSError):
            return None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class TlsNextHop:
    """A next hop listening for TLS on 127.0.0.1; hands each message it
    reads to `answer(message)`, which returns bytes to send back or None."""

    def __init__(self, cert, key, answer, ca=None, require_client_cert=False):
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        if require_client_cert:
            self.context.load_verify_locations(ca)
            self.context.verify_mode = ssl.CERT_REQUIRED
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.answer = answer
        self.received = []
        self.peer_certificates = []
        self.handshake_errors = []
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            try:
                raw, _ = self.listener.accept()
            except (socket.timeout, OSError):
                continue
            raw.settimeout(3.0)
            try:
                conn = self.context.wrap_socket(raw, server_side=True)
            except (ssl.SSLError, OSError) as error:
                self.handshake_errors.append(str(error))
                raw.close()
                continue
            self.peer_certificates.append(conn.getpeercert())
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn):
        buffer = b""
        while self.running:
            try:
                message, buffer = read_sip(conn, buffer)
            except socket.timeout:
                continue
            except (ConnectionError, ssl.SSLError, OSError):
                break
            self.received.append(message)
            reply = self.answer(message)
            if reply:
                try:
                    conn.sendall(reply)
                except OSError:
                    break
        conn.close()

    def stop(self):
        self.running = False
        self.thread.join(timeout=2)
        self.listener.close()
