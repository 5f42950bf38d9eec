#!/usr/bin/env python3
"""A local SMTP sink for the daemon's tests (aiosmtpd from Debian): records every message as
one JSON line (from, to, subject, idempotency key, body, whether STARTTLS was used).

  smtp_sink.py --port P --log FILE [--tls-cert C --tls-key K]   (offers STARTTLS with a cert)
"""
import argparse, asyncio, email, json, ssl, time
from aiosmtpd.controller import Controller


class Recorder:
    def __init__(self, log):
        self.log = log

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content)
        with open(self.log, 'a') as f:
            f.write(json.dumps({'t': time.time(), 'from': envelope.mail_from, 'to': envelope.rcpt_tos,
                                'subject': msg['Subject'], 'key': msg['X-Outreach-Idempotency-Key'],
                                'tls': session.ssl is not None,
                                'body': msg.get_payload(decode=True).decode('utf-8')}) + '\n')
        return '250 OK'


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--port', type=int, required=True)
    p.add_argument('--log', required=True)
    p.add_argument('--tls-cert')
    p.add_argument('--tls-key')
    a = p.parse_args()
    context = None
    if a.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(a.tls_cert, a.tls_key)
    c = Controller(Recorder(a.log), hostname='127.0.0.1', port=a.port, tls_context=context)
    c.start()
    try:
        asyncio.get_event_loop().run_forever()
    except KeyboardInterrupt:
        pass
    finally:
        c.stop()


if __name__ == '__main__':
    main()
