#!/usr/bin/env python3
"""A local webhook receiver for the daemon's tests: records every request it gets as one JSON
line (path, headers, body, whether the signature verifies) and answers as told.

  webhook_sink.py --port P --log FILE --master-key-file K [--mode MODE]
MODE per path prefix, e.g. --mode /fail500=500 --mode /slow=sleep:30 --mode /close=close
(default: 200). A path /flaky<N> fails with 500 for its first N requests, then accepts.
"""
import argparse, hashlib, hmac, json, socketserver, sys, threading, time
from http.server import BaseHTTPRequestHandler, HTTPServer

args = None
lock = threading.Lock()
seen = {}


def member_secret(code):
    master = open(args.master_key_file, 'rb').read().rstrip(b'\r\n ')
    return hmac.new(master, b'outreach-webhook:' + code.encode(), hashlib.sha256).hexdigest()


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *a):
        pass

    def do_POST(self):
        length = int(self.headers.get('Content-Length', '0'))
        body = self.rfile.read(length)
        try:
            payload = json.loads(body)
            code = payload.get('controller', '')
        except Exception:
            payload, code = None, ''
        expected = 'sha256=' + hmac.new(member_secret(code).encode(), body, hashlib.sha256).hexdigest()
        mode = '200'
        for prefix, m in args.mode:
            if self.path.startswith(prefix):
                mode = m
        with lock:
            n = seen.get(self.path, 0) + 1
            seen[self.path] = n
        if self.path.startswith('/flaky'):
            failures = int(''.join(c for c in self.path[6:] if c.isdigit()) or '1')
            mode = '500' if n <= failures else '200'
        record = {'t': time.time(), 'path': self.path, 'key': self.headers.get('Idempotency-Key'),
                  'signature_ok': hmac.compare_digest(expected, self.headers.get('X-Outreach-Signature', '')),
                  'payload': payload, 'mode': mode}
        if mode == 'close':
            self.close_connection = True
            self.connection.close()
            record['answered'] = 'closed'
        elif mode.startswith('sleep:'):
            time.sleep(float(mode[6:]))
            record['answered'] = 'late'
        else:
            status = int(mode)
            self.send_response(status)
            self.send_header('Content-Length', '0')
            self.end_headers()
            record['answered'] = status
        with lock, open(args.log, 'a') as f:
            f.write(json.dumps(record) + '\n')


class Server(socketserver.ThreadingMixIn, HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    global args
    p = argparse.ArgumentParser()
    p.add_argument('--port', type=int, required=True)
    p.add_argument('--log', required=True)
    p.add_argument('--master-key-file', required=True)
    p.add_argument('--mode', action='append', default=[], type=lambda s: tuple(s.split('=', 1)))
    args = p.parse_args()
    Server(('127.0.0.1', args.port), Handler).serve_forever()


if __name__ == '__main__':
    main()
