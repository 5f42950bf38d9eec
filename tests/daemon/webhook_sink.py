#!/usr/bin/env python3
"""A local webhook receiver for the daemon's tests: records every request it gets as one JSON
line (path, headers, body, whether the signature verifies) and answers as told.

  webhook_sink.py --port P --log FILE --master-key-file K [--port-file F] [--mode MODE ...]

--port 0 takes a free port; --port-file then receives the port number (written once listening).
MODE per path prefix, e.g. --mode /fail500=500 --mode /slow=sleep:30 --mode /close=close
(default: 200; the longest matching prefix wins):
  NNN        answer with that HTTP status
  sleep:S    wait S seconds (a fraction is fine), then answer 200 if the client is still there
  close      close the connection without an answer
  first:N:M  mode M for the first N requests to a path (each path counts its own), then 200
A path /flaky<N> fails with 500 for its first N requests, then accepts.
The record is written when the request has been read, before the answer, so a request counts as
received even when the daemon dies before it reads the answer.
"""
import argparse, hashlib, hmac, json, os, socketserver, threading, time
from http.server import BaseHTTPRequestHandler, HTTPServer

args = None
lock = threading.Lock()
seen = {}


def member_secret(code):
    with open(args.master_key_file, 'rb') as f:
        master = f.read().rstrip(b'\r\n ')
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
        mode, matched = '200', -1
        for prefix, m in args.mode:
            if self.path.startswith(prefix) and len(prefix) > matched:
                mode, matched = m, len(prefix)
        with lock:
            n = seen.get(self.path, 0) + 1
            seen[self.path] = n
        if self.path.startswith('/flaky'):
            failures = int(''.join(c for c in self.path[6:].split('/')[0] if c.isdigit()) or '1')
            mode = '500' if n <= failures else '200'
        if mode.startswith('first:'):             # first:N:MODE: MODE for the first N requests
            _, count, rest = mode.split(':', 2)
            mode = rest if n <= int(count) else '200'
        record = {'t': time.time(), 'path': self.path, 'key': self.headers.get('Idempotency-Key'),
                  'key2': self.headers.get('X-Outreach-Idempotency-Key'),
                  'signature_ok': hmac.compare_digest(expected, self.headers.get('X-Outreach-Signature', '')),
                  'user_agent': self.headers.get('User-Agent'), 'payload': payload, 'mode': mode, 'n': n}
        with lock, open(args.log, 'a') as f:
            f.write(json.dumps(record) + '\n')
        try:
            if mode == 'close':
                self.close_connection = True
                self.connection.close()
                return
            if mode.startswith('sleep:'):
                time.sleep(float(mode[6:]))
                mode = '200'
            self.send_response(int(mode))
            self.send_header('Content-Length', '0')
            self.end_headers()
        except OSError:
            self.close_connection = True   # the client gave up (its timeout) or died


class Server(socketserver.ThreadingMixIn, HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    global args
    p = argparse.ArgumentParser()
    p.add_argument('--port', type=int, required=True)
    p.add_argument('--port-file')
    p.add_argument('--log', required=True)
    p.add_argument('--master-key-file', required=True)
    p.add_argument('--mode', action='append', default=[], type=lambda s: tuple(s.split('=', 1)))
    args = p.parse_args()
    server = Server(('127.0.0.1', args.port), Handler)
    if args.port_file:
        tmp = args.port_file + '.tmp'
        with open(tmp, 'w') as f:
            f.write('%d\n' % server.server_address[1])
        os.rename(tmp, args.port_file)
    server.serve_forever()


if __name__ == '__main__':
    main()
