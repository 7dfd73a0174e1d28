#!/usr/bin/env python3
"""The client side of bench/scaleout, standard library only.

    drive.py subscribe N BASE...       POST /api/subscriptions for
                                       scale1@… to scaleN@…, address i
                                       through instance i mod len(BASE)
    drive.py confirm LOG BASE...       POST /confirm with every confirmation
                                       link in the sink's log, each through
                                       another instance than the link's own
    drive.py count LOG KIND            distinct recipients of KIND mail
    drive.py check LOG N               per-address copies of the digest

Requests go out on keep-alive connections, 8 threads per instance.
"""
import http.client
import json
import sys
import threading
import time
import urllib.parse
from collections import Counter

THREADS_PER_INSTANCE = 8


def address(i):
    return f"scale{i}@example.net"


def run_jobs(bases, jobs, send):
    """Runs `send(conn, job)` for every job; job k goes to bases[k % n]."""
    queues = [[] for _ in bases]
    for k, job in enumerate(jobs):
        queues[k % len(bases)].append(job)
    failures = []
    lock = threading.Lock()

    def worker(base, items):
        url = urllib.parse.urlsplit(base)
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
        for job in items:
            for attempt in range(5):
                try:
                    status = send(conn, job)
                    if status < 500 and status != 429:
                        if status >= 300:
                            with lock:
                                failures.append((job, status))
                        break
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
                time.sleep(0.2 * (attempt + 1))
            else:
                with lock:
                    failures.append((job, "gave up"))

    threads = []
    for base, items in zip(bases, queues):
        for t in range(THREADS_PER_INSTANCE):
            th = threading.Thread(target=worker, args=(base, items[t::THREADS_PER_INSTANCE]))
            th.start()
            threads.append(th)
    for th in threads:
        th.join()
    return failures


def subscribe(n, bases):
    def send(conn, i):
        body = json.dumps({"email": address(i), "newsletters": ["bench"]})
        conn.request("POST", "/api/subscriptions", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status

    started = time.time()
    failures = run_jobs(bases, range(1, n + 1), send)
    elapsed = time.time() - started
    print(f"subscribed {n - len(failures)} of {n} in {elapsed:.1f} s ({n / elapsed:.0f}/s)")
    if failures:
        print(f"failures: {failures[:5]}", file=sys.stderr)
        sys.exit(1)


def confirm(log, bases):
    links = {}
    with open(log, encoding="utf-8") as f:
        for line in f:
            kind, rcpt, extra = line.rstrip("\n").split("\t")
            if kind == "confirm":
                links[rcpt] = extra
    # every link through another instance than the one that sent it
    jobs = []
    for rcpt, link in sorted(links.items()):
        url = urllib.parse.urlsplit(link)
        own = next((k for k, b in enumerate(bases) if urllib.parse.urlsplit(b).port == url.port), 0)
        token = urllib.parse.parse_qs(url.query)["token"][0]
        jobs.append(((own + 1) % len(bases), token))
    by_instance = [[t for k, t in jobs if k == i] for i in range(len(bases))]

    def send(conn, token):
        body = urllib.parse.urlencode({"token": token})
        conn.request("POST", "/confirm", body, {"Content-Type": "application/x-www-form-urlencoded"})
        response = conn.getresponse()
        response.read()
        return response.status

    started = time.time()
    failures = []
    threads = []
    for base, tokens in zip(bases, by_instance):
        th = threading.Thread(target=lambda b=base, t=tokens: failures.extend(run_jobs([b], t, send)))
        th.start()
        threads.append(th)
    for th in threads:
        th.join()
    elapsed = time.time() - started
    print(f"confirmed {len(jobs) - len(failures)} of {len(jobs)} links in {elapsed:.1f} s ({len(jobs) / elapsed:.0f}/s)")
    if failures:
        print(f"failures: {failures[:5]}", file=sys.stderr)
        sys.exit(1)


def copies(log, kind):
    counts = Counter()
    with open(log, encoding="utf-8") as f:
        for line in f:
            k, rcpt, _ = line.rstrip("\n").split("\t")
            if k == kind:
                counts[rcpt] += 1
    return counts


def check(log, n):
    counts = copies(log, "digest")
    expected = {address(i) for i in range(1, n + 1)}
    missing = len(expected - counts.keys())
    twice = sum(1 for a in expected if counts[a] > 1)
    strangers = len(counts.keys() - expected)
    once = sum(1 for a in expected if counts[a] == 1)
    print(f"digest: {sum(counts.values())} messages, {once} addresses once, "
          f"{missing} missing, {twice} more than once, {strangers} to unknown addresses")
    print(f"scaleout_delivered_once_ratio: {once / n:.2f}")
    sys.exit(0 if once == n and strangers == 0 else 1)


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "subscribe":
        subscribe(int(sys.argv[2]), sys.argv[3:])
    elif command == "confirm":
        confirm(sys.argv[2], sys.argv[3:])
    elif command == "count":
        print(len(copies(sys.argv[2], sys.argv[3])))
    elif command == "check":
        check(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit(__doc__)
