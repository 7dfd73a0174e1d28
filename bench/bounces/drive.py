"""Load for bench/bounces/run: reports of distinct deliveries, sent as an
MTA or a provider sends them, by several threads at once; prints one JSON
line with the count, the seconds and the rate.

  drive.py smtp     PORT FIRST COUNT  DSNs to each delivery's VERP address
  drive.py mailgun  PORT FIRST COUNT  Mailgun's "failed" events (HMAC)
  drive.py sendgrid PORT FIRST COUNT  SendGrid's "bounce" events, one a
                                      request (ECDSA P-256)
  drive.py postmark PORT FIRST COUNT  Postmark's bounces (Basic credentials)
  drive.py ses      PORT FIRST COUNT  SES bounce notifications in SNS
                                      messages (RSA, SignatureVersion 1 and
                                      2 in turn); serves SNS's certificate
  drive.py health   PORT FIRST COUNT  GET /health, the webhooks' reference
  drive.py stage    PORT FIRST COUNT  DSNs into the IMAP folder "staging"
  drive.py release  PORT              moves "staging" into INBOX at once
  drive.py read     PORT FIRST COUNT  an IMAP client reading and deleting
                                      as many messages: IMAP's reference

Each webhook request is signed as its provider signs it and as Gazette
verifies it, and all of them are built and signed before the clock starts:
the bench times Gazette, not the client's RSA and ECDSA. Mailgun, SendGrid
and SES quote each delivery's Message-ID tag; Postmark names only the
address, which Gazette matches to the last message sent to it.

The VERP addresses and Message-ID tags are computed as Gazette computes
them, from BENCH_SECRET (the server's secret key) and BENCH_DOMAIN. The
providers' secrets: BENCH_MAILGUN_KEY, BENCH_POSTMARK_USER and
BENCH_POSTMARK_PASSWORD, and PEM files: BENCH_SENDGRID_KEY (the P-256 key),
BENCH_SNS_KEY and BENCH_SNS_CERT (SNS's RSA key and its certificate, served
at BENCH_SNS_URL, Gazette's test_sns_url).
"""
import base64
import hashlib
import hmac
import http.client
import http.server
import json
import os
import smtplib
import sys
import threading
import time
import urllib.parse
import uuid

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding

THREADS = int(os.environ.get("BENCH_THREADS", "8"))
SECRET = os.environ.get("BENCH_SECRET", "").encode()
DOMAIN = os.environ.get("BENCH_DOMAIN", "bounces.example.org")
MAILGUN_KEY = os.environ.get("BENCH_MAILGUN_KEY", "")
POSTMARK_USER = os.environ.get("BENCH_POSTMARK_USER", "postmark")
POSTMARK_PASSWORD = os.environ.get("BENCH_POSTMARK_PASSWORD", "")
SNS_URL = os.environ.get("BENCH_SNS_URL", "")
TOPIC = "arn:aws:sns:us-east-1:123456789012:gazette-bounces"
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


def reader(delivery_id):
    """The seeded subscriber of delivery `delivery_id`."""
    return f"reader{delivery_id}@example.net"


def message_id(delivery_id):
    return f"gazette.{tag(delivery_id)}.bench@example.org"


def iso_now():
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


def private_key(variable):
    with open(os.environ[variable], "rb") as pem:
        return serialization.load_pem_private_key(pem.read(), password=None)


def mailgun_requests(ids):
    for delivery_id in ids:
        timestamp, token = str(int(time.time())), f"token{delivery_id:020d}"
        signature = hmac.new(MAILGUN_KEY.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
        body = json.dumps({
            "signature": {"timestamp": timestamp, "token": token, "signature": signature},
            "event-data": {
                "event": "failed", "severity": "permanent", "recipient": reader(delivery_id),
                "delivery-status": {"code": 550, "message": "5.1.1 The email account does not exist"},
                "message": {"headers": {"message-id": message_id(delivery_id)}},
            },
        })
        yield "/webhooks/mailgun", body, {"Content-Type": "application/json"}


def sendgrid_requests(ids):
    key = private_key("BENCH_SENDGRID_KEY")
    for delivery_id in ids:
        timestamp = str(int(time.time()))
        body = json.dumps([{
            "email": reader(delivery_id), "timestamp": int(timestamp), "event": "bounce", "type": "bounce",
            "smtp-id": f"<{message_id(delivery_id)}>", "status": "5.1.1",
            "reason": "550 5.1.1 The email account that you tried to reach does not exist",
            "sg_event_id": f"bench-{delivery_id}", "sg_message_id": f"bench-{delivery_id}.filter",
        }])
        # base64 of the DER signature over the timestamp header and the body
        signature = key.sign((timestamp + body).encode(), ec.ECDSA(hashes.SHA256()))
        yield "/webhooks/sendgrid", body, {
            "Content-Type": "application/json",
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
        }


def postmark_requests(ids):
    credentials = base64.b64encode(f"{POSTMARK_USER}:{POSTMARK_PASSWORD}".encode()).decode()
    for delivery_id in ids:
        # Postmark's MessageID is its own: only the address names the delivery.
        body = json.dumps({
            "RecordType": "Bounce", "MessageStream": "outbound", "ID": delivery_id, "Type": "HardBounce",
            "TypeCode": 1, "Name": "Hard bounce", "MessageID": str(uuid.uuid4()), "ServerID": 23,
            "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
            "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist",
            "Email": reader(delivery_id), "From": "news@example.org", "BouncedAt": iso_now(),
            "DumpAvailable": False, "Inactive": True, "CanActivate": True, "Subject": "The benchmark digest",
        })
        yield "/webhooks/postmark", body, {"Content-Type": "application/json", "Authorization": f"Basic {credentials}"}


def ses_requests(ids):
    key = private_key("BENCH_SNS_KEY")
    certificate_url = f"{SNS_URL}SimpleNotificationService-bench.pem"
    for delivery_id in ids:
        sent = iso_now()
        notification = json.dumps({
            "notificationType": "Bounce",
            "bounce": {
                "feedbackId": f"bench-{delivery_id}", "bounceType": "Permanent", "bounceSubType": "General",
                "bouncedRecipients": [{"emailAddress": reader(delivery_id), "action": "failed", "status": "5.1.1",
                                       "diagnosticCode": "smtp; 550 5.1.1 user unknown"}],
                "timestamp": sent, "reportingMTA": "dsn; a8-30.smtp-out.amazonses.com",
            },
            "mail": {
                "timestamp": sent, "messageId": f"bench-{delivery_id}", "source": "news@example.org",
                "destination": [reader(delivery_id)],
                "headers": [{"name": "Message-ID", "value": f"<{message_id(delivery_id)}>"}],
            },
        })
        # SNS signs with SHA-1 unless the topic asks for SHA-256: both, in turn
        version = "1" if delivery_id % 2 else "2"
        message = {
            "Type": "Notification", "MessageId": str(uuid.uuid4()), "TopicArn": TOPIC, "Message": notification,
            "Timestamp": sent, "SignatureVersion": version, "SigningCertURL": certificate_url,
            "UnsubscribeURL": f"{SNS_URL}?Action=Unsubscribe",
        }
        # what SNS signs of a notification without a Subject, in this order
        signed = "".join(f"{name}\n{message[name]}\n" for name in ("Message", "MessageId", "Timestamp", "TopicArn", "Type"))
        digest = hashes.SHA1() if version == "1" else hashes.SHA256()
        message["Signature"] = base64.b64encode(key.sign(signed.encode(), padding.PKCS1v15(), digest)).decode()
        yield "/webhooks/ses", json.dumps(message), {
            "Content-Type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": "Notification",
        }


WEBHOOKS = {"mailgun": mailgun_requests, "sendgrid": sendgrid_requests,
            "postmark": postmark_requests, "ses": ses_requests}


def serve_sns_certificate():
    """SNS's stand-in at BENCH_SNS_URL: Gazette fetches the certificate of
    SigningCertURL once and keeps its key."""
    with open(os.environ["BENCH_SNS_CERT"], "rb") as pem:
        certificate = pem.read()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(certificate)))
            self.end_headers()
            self.wfile.write(certificate)

        def log_message(self, *_):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", urllib.parse.urlsplit(SNS_URL).port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()


def http_worker(port, requests, errors):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for method, path, body, headers in requests:
        connection.request(method, path, body, headers)
        response = connection.getresponse()
        answer = response.read()
        if response.status != 200:
            errors.append(f"{path}: HTTP {response.status} {answer[:200]!r}")


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
    errors = []
    if mode == "smtp":
        message = open(SAMPLE, "rb").read()
        jobs = [(smtp_worker, (port, ids[i::THREADS], message, errors)) for i in range(THREADS)]
    else:
        if mode == "health":
            requests = [("GET", "/health", None, {})] * count
        else:
            requests = [("POST", *request) for request in WEBHOOKS[mode](ids)]
        if mode == "ses":
            serve_sns_certificate()
        jobs = [(http_worker, (port, requests[i::THREADS], errors)) for i in range(THREADS)]
    threads = [threading.Thread(target=target, args=args) for target, args in jobs]
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
