#!/usr/bin/env python3
"""A recording SMTP sink for bench/scaleout: accepts every message and
appends one line per recipient to a log, `KIND<TAB>RECIPIENT<TAB>EXTRA`:
`digest` for newsletter mail (it carries List-Unsubscribe), `confirm` with
the confirmation link for a confirmation mail, `other` otherwise.

    sink.py PORT LOGFILE

Standard library only (asyncio), enough ESMTP for lettre: EHLO/HELO, MAIL,
RCPT, DATA, RSET, NOOP, QUIT.
"""
import asyncio
import re
import sys

# A token is URL-safe base64, after its time and a dot.
CONFIRM = re.compile(r"(https?://[^\s\"'<>]*/confirm\?token=[A-Za-z0-9_.\-]+)")


def classify(data: bytes):
    head, _, body = data.partition(b"\r\n\r\n")
    if re.search(rb"(?im)^List-Unsubscribe:", head):
        return "digest", ""
    # quoted-printable: join soft line breaks, decode "=3D"
    text = body.replace(b"=\r\n", b"").replace(b"=3D", b"=").decode("utf-8", "replace")
    found = CONFIRM.search(text)
    if found:
        return "confirm", found.group(1)
    return "other", ""


async def session(reader, writer, log):
    recipients = []
    writer.write(b"220 scaleout-sink ESMTP\r\n")
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            verb = line[:4].upper()
            if verb == b"EHLO":
                writer.write(b"250-scaleout-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
            elif verb == b"HELO":
                writer.write(b"250 scaleout-sink\r\n")
            elif verb == b"MAIL":
                recipients = []
                writer.write(b"250 2.1.0 ok\r\n")
            elif verb == b"RCPT":
                address = line.decode("utf-8", "replace").split(":", 1)[1].strip()
                recipients.append(address.split(">")[0].lstrip("<"))
                writer.write(b"250 2.1.5 ok\r\n")
            elif verb == b"DATA":
                writer.write(b"354 go ahead\r\n")
                await writer.drain()
                data = await reader.readuntil(b"\r\n.\r\n")
                kind, extra = classify(data)
                for address in recipients:
                    log.write(f"{kind}\t{address}\t{extra}\n")
                log.flush()
                recipients = []
                writer.write(b"250 2.0.0 queued\r\n")
            elif verb == b"RSET":
                recipients = []
                writer.write(b"250 2.0.0 ok\r\n")
            elif verb == b"NOOP":
                writer.write(b"250 2.0.0 ok\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 2.0.0 bye\r\n")
                await writer.drain()
                break
            else:
                writer.write(b"502 5.5.2 not implemented\r\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main():
    port, path = int(sys.argv[1]), sys.argv[2]
    with open(path, "a", encoding="utf-8") as log:
        server = await asyncio.start_server(
            lambda r, w: session(r, w, log), "127.0.0.1", port, limit=16 * 1024 * 1024
        )
        async with server:
            await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
