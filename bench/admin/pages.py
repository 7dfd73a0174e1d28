#!/usr/bin/env python3
"""Times every admin page with a logged-in session (one keep-alive
connection, N requests a page, after one warm-up) and prints one line per
page: name, p50 ms, p95 ms. Standard library only."""
import http.client
import re
import sys
import time
import urllib.parse

host, port, email, password, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
pages = [line.split(None, 1) for line in sys.stdin.read().splitlines() if line.strip()]
conn = http.client.HTTPConnection(host, port, timeout=120)
cookie = ""


def request(method, path, body=None):
    global cookie
    headers = {"Cookie": cookie} if cookie else {}
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    for name, value in response.getheaders():
        if name.lower() == "set-cookie" and value.startswith("gazette_admin="):
            cookie = value.split(";", 1)[0]
    return response.status, data


status, page = request("GET", "/admin/login")
csrf = re.search(rb'name="csrf" value="([^"]+)"', page).group(1).decode()
form = urllib.parse.urlencode({"csrf": csrf, "email": email, "password": password, "next": "/admin"})
status, _ = request("POST", "/admin/login", form)
if status != 303:
    sys.exit(f"login failed: {status}")

for name, path in pages:
    status, _ = request("GET", path)
    if status != 200:
        sys.exit(f"{name} {path}: HTTP {status}")
    times = []
    for _ in range(n):
        start = time.perf_counter()
        status, _ = request("GET", path)
        times.append((time.perf_counter() - start) * 1000)
        if status != 200:
            sys.exit(f"{name} {path}: HTTP {status}")
    times.sort()
    p50 = times[len(times) // 2]
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    print(f"{name} {p50:.1f} {p95:.1f}", flush=True)
