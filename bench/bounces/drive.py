"""Load for bench/bounces/run: reports of distinct deliveries, sent as an
MTA or a provider sends them, by several threads at once; prints one JSON
line with the count, the seconds and the rate.

  drive.py smtp    PORT FIRST COUNT   DSNs to each delivery's VERP address
  drive.py webhook PORT FIRST COUNT   Mailgun-signed "failed" events
  drive.py health  PORT FIRST COUNT   GET /health, the webhooks' reference
  drive.py stage   PORT FIRST COUNT   DSNs into the IMAP folder "staging"
  drive.py release PORT               moves "staging" into INBOX at once
  drive.py read    PORT FIRST COUNT   an IMAP client reading and deleting
                                      as many messages: IMAP's reference

The VERP addresses and Message-ID tags are computed as Gazette computes
them, from BENCH_SECRET (the server's secret key) and BENCH_DOMAIN.
"""
import hashlib
import hmac
import http.client
import json
import os
import smtplib
import sys
import threading
import time

THREADS = int(os.environ.get("BENCH_THREADS", "8"))
SECRET = os.environ.get("BENCH_SECRET", "").encode()
DOMAIN = os.environ.get("BENCH_DOMAIN", "bounces.example.org")
MAILGUN_KEY = os.environ.get("BENCH_MAILGUN_KEY", "")
SAMPLE = os.environ.get("BENCH_SAMPLE", "tests/api/fixtures/bounces/postfix-unknown-user.eml")


def tag(delivery_id):
    signed = b"gazette-verp-v1" + delivery_id.to_bytes(8, "big", signed=True)
    mac = hmac.new(SECRET, signed, hashlib.sha256).hexdigest()[:12]
    return f"{delivery_id}.{mac}"


def smtp_worker(port, ids, message, errors):
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
        smtp.ehlo("mx.example.net")
        for delivery_id in ids:
            try:
                smtp.sendmail("", [f"bounces+{tag(delivery_id)}@{DOMAIN}"], message)
            except smtplib.SMTPException as error:
                errors.append(str(error))


def webhook_worker(port, ids, errors):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for delivery_id in ids:
        timestamp, token = str(int(time.time())), f"token{delivery_id:020d}"
        signature = hmac.new(MAILGUN_KEY.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
        body = json.dumps({
            "signature": {"timestamp": timestamp, "token": token, "signature": signature},
            "event-data": {
                "event": "failed", "severity": "permanent", "recipient": f"reader{delivery_id}@example.net",
                "delivery-status": {"code": 550, "message": "5.1.1 The email account does not exist"},
                "message": {"headers": {"message-id": f"gazette.{tag(delivery_id)}.bench@example.org"}},
            },
        })
        connection.request("POST", "/webhooks/mailgun", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            errors.append(f"HTTP {response.status}")


def health_worker(port, ids, errors):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for _ in ids:
        connection.request("GET", "/health")
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            errors.append(f"HTTP {response.status}")


IMAP_USER = os.environ.get("BENCH_IMAP_USER", "bounces")
IMAP_PASSWORD = os.environ.get("BENCH_IMAP_PASSWORD", "")


def imap(port):
    import imaplib
    connection = imaplib.IMAP4("127.0.0.1", port)
    connection.login(IMAP_USER, IMAP_PASSWORD)
    return connection


def stage(port, first, count):
    """Appends the DSNs, addressed to each delivery's VERP address, to a
    folder of their own: appending is the mail host's work, not timed."""
    message = open(SAMPLE, "rb").read().replace(b"\r\n", b"\n")
    connection = imap(port)
    connection.create("staging")
    for delivery_id in range(first, first + count):
        verp = f"bounces+{tag(delivery_id)}@{DOMAIN}".encode()
        body = message.replace(b"gzsender@localhost", verp).replace(b"\n", b"\r\n")
        connection.append("staging", None, None, body)
    connection.logout()


def release(port):
    connection = imap(port)
    connection.select("staging")
    connection.uid("MOVE", "1:*", "INBOX")
    connection.logout()


def read_all(port, count):
    """What any client pays to read COUNT messages and delete them."""
    connection = imap(port)
    connection.select("INBOX")
    uids = connection.uid("SEARCH", None, "ALL")[1][0].split()[:count]
    for start in range(0, len(uids), 25):
        chunk = b",".join(uids[start:start + 25])
        connection.uid("FETCH", chunk, "(BODY.PEEK[])")
        connection.uid("STORE", chunk, "+FLAGS.SILENT", "(\\Deleted)")
    connection.expunge()
    connection.logout()
    return len(uids)


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    if mode == "release":
        release(port)
        return
    first, count = int(sys.argv[3]), int(sys.argv[4])
    if mode == "stage":
        stage(port, first, count)
        return
    if mode == "read":
        started = time.monotonic()
        read = read_all(port, count)
        seconds = time.monotonic() - started
        print(json.dumps({"mode": mode, "count": read, "errors": 0 if read == count else 1,
                          "first_error": [] if read == count else [f"read {read}"],
                          "seconds": round(seconds, 3), "rate": round(read / seconds, 1)}))
        return
    ids = list(range(first, first + count))
    shares = [ids[i::THREADS] for i in range(THREADS)]
    errors = []
    message = open(SAMPLE, "rb").read()
    threads = []
    for share in shares:
        if mode == "smtp":
            target, args = smtp_worker, (port, share, message, errors)
        elif mode == "webhook":
            target, args = webhook_worker, (port, share, errors)
        else:
            target, args = health_worker, (port, share, errors)
        threads.append(threading.Thread(target=target, args=args))
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - started
    print(json.dumps({"mode": mode, "count": count, "errors": len(errors), "first_error": errors[:1],
                      "seconds": round(seconds, 3), "rate": round(count / seconds, 1)}))


if __name__ == "__main__":
    main()
