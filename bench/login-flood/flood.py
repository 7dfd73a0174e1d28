#!/usr/bin/env python3
"""Floods POST /admin/login of a running Gazette and probes /health meanwhile.

Each of CLIENTS clients opens the login page (for its session cookie and CSRF
token) and posts 4 logins with new wrong addresses, again and again until
SECONDS have passed. With --distinct each client says it is another address
through X-Forwarded-For (as a trusted proxy on loopback would), otherwise all
come from one address. A prober opens a new connection to /health every
PROBE_MS and times the answer. Prints one JSON object: the statuses the
logins got, the /health latencies (p50, p99, max) and the server's peak RSS
(VmHWM of PID).

Standard library only (asyncio and raw HTTP/1.1), so it runs anywhere
Python 3 does.
"""

import argparse
import asyncio
import json
import re
import time
import urllib.parse

PROBE_MS = 20


async def request(reader, writer, method, path, headers, body=b""):
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ")[1])
    response_headers = []
    for line in header_lines:
        if ":" in line:
            k, v = line.split(":", 1)
            response_headers.append((k.strip().lower(), v.strip()))
    length = next((int(v) for k, v in response_headers if k == "content-length"), None)
    chunked = any(k == "transfer-encoding" and "chunked" in v for k, v in response_headers)
    if chunked:
        data = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            data += await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        data = await reader.readexactly(length or 0)
    return status, response_headers, data


def cookies_from(headers, jar):
    for k, v in headers:
        if k == "set-cookie":
            name, value = v.split(";", 1)[0].split("=", 1)
            jar[name] = value


async def client(port, n, distinct, deadline, statuses, sequence):
    forwarded = f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}" if distinct else "10.0.0.1"
    while time.monotonic() < deadline:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            statuses["connect_error"] = statuses.get("connect_error", 0) + 1
            await asyncio.sleep(0.05)
            continue
        try:
            jar = {}
            base = {"X-Forwarded-For": forwarded}
            status, headers, page = await request(reader, writer, "GET", "/admin/login", base)
            cookies_from(headers, jar)
            match = re.search(rb'name="csrf" value="([^"]+)"', page)
            if not match:
                statuses[f"login_page_{status}"] = statuses.get(f"login_page_{status}", 0) + 1
                continue
            csrf = match.group(1).decode()
            for _ in range(4):
                sequence[0] += 1
                form = urllib.parse.urlencode({
                    "csrf": csrf,
                    "email": f"flood{sequence[0]}@example.org",
                    "password": "not the password at all",
                }).encode()
                headers = dict(base)
                headers["Content-Type"] = "application/x-www-form-urlencoded"
                headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
                status, answer_headers, _ = await request(reader, writer, "POST", "/admin/login", headers, form)
                cookies_from(answer_headers, jar)
                statuses[str(status)] = statuses.get(str(status), 0) + 1
        except (OSError, asyncio.IncompleteReadError, ValueError):
            statuses["broken"] = statuses.get("broken", 0) + 1
        finally:
            writer.close()


async def prober(port, deadline, latencies):
    while time.monotonic() < deadline:
        started = time.monotonic()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            status, _, _ = await request(reader, writer, "GET", "/health", {"Connection": "close"})
            writer.close()
            if status != 200:
                latencies.append(float("inf"))
            else:
                latencies.append((time.monotonic() - started) * 1000)
        except (OSError, asyncio.IncompleteReadError):
            latencies.append(float("inf"))
        await asyncio.sleep(PROBE_MS / 1000)


def peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--distinct", action="store_true")
    parser.add_argument("--probe-only", action="store_true")
    args = parser.parse_args()
    deadline = time.monotonic() + args.seconds
    statuses, latencies, sequence = {}, [], [0]
    tasks = [prober(args.port, deadline, latencies)]
    if not args.probe_only:
        tasks += [client(args.port, n, args.distinct, deadline, statuses, sequence) for n in range(args.clients)]
    # a server that stops answering must not hang the bench: whatever has
    # not ended a minute after the deadline is counted as it stands
    done, pending = await asyncio.wait([asyncio.ensure_future(t) for t in tasks], timeout=args.seconds + 60)
    for task in pending:
        task.cancel()
    if pending:
        statuses["hung"] = len(pending)
    print(json.dumps({
        "logins": statuses,
        "health_probes": len(latencies),
        "health_p50_ms": round(percentile(latencies, 0.50), 1),
        "health_p99_ms": round(percentile(latencies, 0.99), 1),
        "health_max_ms": round(max(latencies), 1),
        "peak_rss_mb": round(peak_rss_mb(args.pid), 1),
    }))


if __name__ == "__main__":
    asyncio.run(main())
