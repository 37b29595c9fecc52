#!/usr/bin/env python3
"""Query benchmark: API latency on a large archive, the console's first
render, and the archive writer's commit latency while queries run.

    bench/query_bench.py [--build build/release] [--messages 1000000] [--db FILE] [--requests 200]

Generates the archive with archive_seed (through archive::Store: hash chain,
FTS index and conversations as the hop writes them) unless --db names one
that exists, starts `sipwarden run` with the admin server on 127.0.0.1, and
prints the figures as JSON (bench/RESULTS.md has the last run)."""
import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from harness import Sipwarden, free_port  # noqa: E402

TOKEN = "bench-auditor-token-0123456789"


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def summary(ms):
    return {"n": len(ms), "p50_ms": round(percentile(ms, 0.5), 2), "p95_ms": round(percentile(ms, 0.95), 2),
            "max_ms": round(max(ms), 2)}


def timed_gets(port, paths, requests):
    """Sequential requests over one keep-alive connection; milliseconds each."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    out = []
    for i in range(requests):
        path = paths[i % len(paths)]
        start = time.perf_counter()
        connection.request("GET", path, headers={"Authorization": "Bearer " + TOKEN})
        response = connection.getresponse()
        body = response.read()
        out.append((time.perf_counter() - start) * 1000)
        if response.status != 200:
            raise RuntimeError(f"{path}: {response.status} {body[:200]}")
    connection.close()
    return out


def first_render(url, runs):
    """One headless chromium, cache disabled, the page loaded `runs` times
    from about:blank: the page's own render, not the browser's start."""
    from devtools import Browser
    paints, loads = [], []
    browser = Browser()
    try:
        browser.call("Network.enable")
        browser.call("Network.setCacheDisabled", cacheDisabled=True)
        for _ in range(runs + 1):
            browser.call("Page.navigate", url="about:blank")
            browser.wait_for("location.href === 'about:blank'")
            browser.open(url)
            browser.wait_for("performance.getEntriesByName('first-contentful-paint').length > 0")
            paints.append(browser.evaluate("performance.getEntriesByName('first-contentful-paint')[0].startTime"))
            loads.append(browser.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd"))
    finally:
        browser.close()
    # The first load also starts the renderer process; report it apart.
    return {"first_load_fcp_ms": paints[0], "first_contentful_paint": summary(paints[1:]),
            "load_event_end": summary(loads[1:])}


def live_writer(seed, db, seconds):
    result = subprocess.run([seed, "--db", db, "--live-seconds", str(seconds), "--rate", "1000"],
                            capture_output=True, text=True, timeout=seconds + 120, check=True)
    return json.loads(result.stdout)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default=os.path.join(ROOT, "build", "release"))
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--db")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--render-runs", type=int, default=10)
    parser.add_argument("--live-seconds", type=int, default=10)
    args = parser.parse_args()
    binary = os.path.join(args.build, "sipwarden")
    seed = os.path.join(args.build, "archive_seed")
    db = args.db or os.path.join(tempfile.mkdtemp(prefix="sipwarden-qbench-"), "archive.db")
    results = {}
    if not os.path.exists(db):
        start = time.time()
        subprocess.run([seed, "--db", db, "--messages", str(args.messages), "--users", "1000"], check=True)
        results["generate_seconds"] = round(time.time() - start, 1)
    results["archive_bytes"] = os.path.getsize(db)

    admin_port = free_port()
    config = {"archive": {"path": db},
              "admin": {"listen": f"127.0.0.1:{admin_port}",
                        "tokens": [{"name": "bench", "role": "auditor", "token": TOKEN}]}}
    warden = Sipwarden(config=json.dumps(config), binary=binary)
    warden.start()
    try:
        # Different users and word pairs, so one cached answer cannot stand for all.
        text_paths = [f"/api/v1/messages?text={a}%20{b}" for a, b in
                      (("meeting", "report"), ("budget", "deadline"), ("client", "invoice"), ("lunch", "tomorrow"),
                       ("server", "deploy"), ("quarterly", "numbers"), ("w100", "w200"), ("review", "w900"))]
        participant_paths = [f"/api/v1/messages?participant=user{n}@example.com&limit=100" for n in range(0, 1000, 37)]
        timed_gets(admin_port, text_paths + participant_paths, 20)  # warm the connection pool and page cache
        results["two_word_text_search"] = summary(timed_gets(admin_port, text_paths, args.requests))
        results["participant_last_100"] = summary(timed_gets(admin_port, participant_paths, args.requests))
        results["text_search_with_participant"] = summary(timed_gets(
            admin_port, [f"/api/v1/messages?text=meeting%20report&participant=user{n}@example.com" for n in (3, 500, 901)],
            15))
        results["conversations_text_search"] = summary(timed_gets(admin_port, ["/api/v1/conversations?text=meeting%20report"], 5))
        results["stats_whole_archive"] = summary(timed_gets(admin_port, ["/api/v1/stats"], 5))
        results["console_first_render"] = first_render(f"http://127.0.0.1:{admin_port}/", args.render_runs)

        results["writer_commit_idle"] = live_writer(seed, db, args.live_seconds)
        stop = threading.Event()
        counts = []

        def load():
            n = 0
            while not stop.is_set():
                timed_gets(admin_port, text_paths + participant_paths, 10)
                n += 10
            counts.append(n)
        threads = [threading.Thread(target=load) for _ in range(2)]
        for thread in threads:
            thread.start()
        results["writer_commit_under_queries"] = live_writer(seed, db, args.live_seconds)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        results["writer_commit_under_queries"]["queries_during"] = sum(counts)
    finally:
        warden.stop()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
