#!/usr/bin/env python3
"""A local SMTP sink for the daemon's tests (aiosmtpd from Debian): records every message as
one JSON line (from, to, subject, idempotency key, body, whether STARTTLS was used).

  smtp_sink.py --port P --log FILE [--port-file F] [--tls-cert C --tls-key K]

--tls-cert/--tls-key: the sink offers STARTTLS with that certificate.
--port 0 picks a free port; --port-file then receives the port number once the sink listens.
Recipients whose local part starts with "tempfail" get 451 (try again later), with "reject" 550
(refused for good); those are recorded as {"refused": code, ...} lines.
"""
import argparse, asyncio, email, json, os, socket, ssl, threading, time
from aiosmtpd.controller import Controller

lock = threading.Lock()


class Recorder:
    def __init__(self, log):
        self.log = log

    def write(self, record):
        with lock, open(self.log, 'a') as f:
            f.write(json.dumps(record) + '\n')

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split('@', 1)[0]
        for prefix, code in (('tempfail', 451), ('reject', 550)):
            if local.startswith(prefix):
                self.write({'t': time.time(), 'refused': code, 'to': address, 'tls': session.ssl is not None})
                return '%d %s' % (code, 'try again later' if code == 451 else 'no such mailbox')
        envelope.rcpt_tos.append(address)
        return '250 OK'

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content)
        self.write({'t': time.time(), 'from': envelope.mail_from, 'to': envelope.rcpt_tos,
                    'subject': msg['Subject'], 'key': msg['X-Outreach-Idempotency-Key'],
                    'tls': session.ssl is not None,
                    'body': msg.get_payload(decode=True).decode('utf-8')})
        return '250 OK'


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--port', type=int, required=True)
    p.add_argument('--port-file')
    p.add_argument('--log', required=True)
    p.add_argument('--tls-cert')
    p.add_argument('--tls-key')
    a = p.parse_args()
    context = None
    if a.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(a.tls_cert, a.tls_key)
    port = a.port or free_port()
    c = Controller(Recorder(a.log), hostname='127.0.0.1', port=port, tls_context=context)
    c.start()
    if a.port_file:
        with open(a.port_file + '.tmp', 'w') as f:
            f.write('%d\n' % port)
        os.rename(a.port_file + '.tmp', a.port_file)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        c.stop()


if __name__ == '__main__':
    main()
