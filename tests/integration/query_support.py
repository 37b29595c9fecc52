"""Shared pieces for the query tests: a seeded archive (written by the
archive_seed tool through archive::Store, as the hop writes), a hop with the
admin server, and an HTTP client that never waits unbounded."""
import json
import os
import subprocess
import tempfile
import urllib.error
import urllib.request

from harness import BINARY, ROOT, HopTestCase, free_port

BUILD_DIR = os.environ.get("SIPWARDEN_BUILD_DIR", os.path.join(ROOT, "build", "release"))
SEED = os.path.join(BUILD_DIR, "archive_seed")
AUDITOR = "auditor-token-0123456789abcdef"
METRICS = "metrics-token-0123456789abcdef"
OUTPUT_DIR = os.path.join(BUILD_DIR, "test-output")


def seed(path, *args):
    subprocess.run([SEED, "--db", path, *args], check=True, timeout=120, capture_output=True)


class Http:
    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"

    def get(self, path, token=None):
        """(status, headers, body bytes); errors are answers too."""
        request = urllib.request.Request(self.base + path)
        if token:
            request.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def json(self, path, token=AUDITOR):
        status, _, body = self.get(path, token)
        assert status == 200, (status, body)
        return json.loads(body)


class QueryTestCase(HopTestCase):
    def setUp(self):
        super().setUp()
        self.dir = tempfile.mkdtemp(prefix="sipwarden-query-")
        self.db = os.path.join(self.dir, "archive.db")
        seed(self.db, "--fixture")

    def cli(self, *args, check=True):
        result = subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=60,
                                env=dict(os.environ, TZ="UTC", USER="tester"))
        if check:
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        return result

    def admin_hop(self, *args, admin=None, plugins=(), upstream=None):
        self.admin_port = free_port()
        settings = {"listen": f"127.0.0.1:{self.admin_port}",
                    "tokens": [{"name": "carol", "role": "auditor", "token": AUDITOR},
                               {"name": "prom", "role": "metrics", "token": METRICS}]}
        settings.update(admin or {})
        config = {"archive": {"path": self.db, "batch_ms": 5}, "admin": settings,
                  "plugins": list(plugins) + [{"plugin": "archive"}]}
        extra = ["--upstream", f"127.0.0.1:{upstream}"] if upstream else []
        warden = self.hop(*extra, *args, config=json.dumps(config))
        self.http = Http(self.admin_port)
        return warden
