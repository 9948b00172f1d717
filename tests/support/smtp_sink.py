"""A real SMTP server for kvwatch's email tests (aiosmtpd), on 127.0.0.1 only.

Every accepted message is written to --out as NNNN.eml (the raw message) and
NNNN.json (envelope: sender, recipients, whether the session was encrypted, the
authenticated login; and the parsed subject, ids, text and HTML bodies); the .json file appears last, atomically, so a reader that sees
it can read both. On start it prints "READY <port>" on standard output.

  --tls none|starttls|implicit   plain, STARTTLS required, or TLS from the first byte
  --cert/--key                   the server certificate (from scripts/setup/python.sh)
  --auth USER:PASSWORD           require AUTH (PLAIN/LOGIN) with these credentials
  --fail-first N                 answer the first N messages with 451 (transient)
"""

import argparse
import asyncio
import email
import email.policy
import json
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult


class Sink:
    def __init__(self, out, fail_first):
        self.out = out
        self.fail_left = fail_first
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        if self.fail_left > 0:
            self.fail_left -= 1
            return "451 4.3.0 Temporary failure, try again later"
        self.count += 1
        base = os.path.join(self.out, f"{self.count:04d}")
        raw = envelope.original_content or envelope.content
        with open(base + ".eml", "wb") as f:
            f.write(raw)
        message = email.message_from_bytes(raw, policy=email.policy.default)
        text = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        meta = {
            "subject": str(message["subject"]),
            "message_id": str(message["message-id"]),
            "alert_ids": str(message["x-kvwatch-alert-id"]),
            "from": str(message["from"]),
            "to": str(message["to"]),
            "content_type": message.get_content_type(),
            "text": text.get_content() if text else None,
            "html": html.get_content() if html else None,
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "encrypted": session.ssl is not None or server.args_tls == "implicit",
            "login": session.auth_data if session.authenticated else None,
        }
        with open(base + ".json.tmp", "w") as f:
            json.dump(meta, f)
        os.replace(base + ".json.tmp", base + ".json")
        return "250 2.0.0 OK queued"


class Server(SMTP):
    args_tls = "none"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--tls", choices=["none", "starttls", "implicit"], default="none")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--auth")
    p.add_argument("--fail-first", type=int, default=0)
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)

    ctx = None
    if args.tls != "none":
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.cert, args.key)

    authenticator = None
    if args.auth:
        user, password = args.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            login = auth_data.login.decode() if isinstance(auth_data.login, bytes) else auth_data.login
            secret = auth_data.password.decode() if isinstance(auth_data.password, bytes) else auth_data.password
            ok = login == user and secret == password
            # handled=False: let aiosmtpd answer 535 itself on failure.
            return AuthResult(success=ok, handled=False, auth_data=login if ok else None)

    handler = Sink(args.out, args.fail_first)
    Server.args_tls = args.tls

    def factory():
        kwargs = dict(hostname="localhost", decode_data=False)
        if args.tls == "starttls":
            kwargs.update(tls_context=ctx, require_starttls=True)
        if authenticator:
            kwargs.update(
                authenticator=authenticator,
                auth_required=True,
                auth_require_tls=(args.tls == "starttls"),
            )
        return Server(handler, **kwargs)

    async def serve():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            factory, host="127.0.0.1", port=0, ssl=ctx if args.tls == "implicit" else None
        )
        port = server.sockets[0].getsockname()[1]
        print(f"READY {port}", flush=True)
        async with server:
            await server.serve_forever()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
