"""A PostgreSQL server for the integration tests: the one scripts/test.sh
started (SIPWARDEN_TEST_PG_URL), or one of this module's own, started on a
loopback port in a temporary directory and stopped at exit. Each test gets a
fresh database, so tests never see each other's rows."""
import atexit
import itertools
import os
import subprocess
import tempfile

from harness import ROOT

SCRIPT = os.path.join(ROOT, "scripts", "pg-test-server.sh")
_server = {"url": os.environ.get("SIPWARDEN_TEST_PG_URL")}
_names = itertools.count()


def server_url():
    if not _server["url"]:
        directory = tempfile.mkdtemp(prefix="sipwarden-pg-")
        url = subprocess.run([SCRIPT, "start", directory], check=True, capture_output=True, text=True,
                             timeout=60).stdout.strip()
        atexit.register(subprocess.run, [SCRIPT, "stop", directory], timeout=60)
        _server["url"] = url
    return _server["url"]


def psql(url, sql):
    """Runs SQL; returns the rows as lists of strings."""
    out = subprocess.run(["psql", "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", url, "-c", sql],
                         check=True, capture_output=True, text=True, timeout=60).stdout
    return [line.split("\t") for line in out.splitlines() if line]


def scalar(url, sql):
    return int(psql(url, sql)[0][0])


def fresh_database():
    """The URL of a new, empty database on the test server."""
    base = server_url()
    name = f"sw_{os.getpid()}_{next(_names)}"
    psql(base, f"CREATE DATABASE {name}")
    return base.rsplit("/", 1)[0] + "/" + name
