#!/usr/bin/env python3
"""A stand-in for droverd's console subresource, to test droverctl's
console client on its own: mutual TLS (the client certificate must chain
to the CA), KubeVirt's path, a WebSocket with subprotocol plain.kubevirt.io
(RFC 6455, written here: the standard library has no WebSocket).

wsconsole.py PORT CERT KEY CA EVENTS-FILE
VMI "vm1": 101, sends "hello from the console\\r\\n", pings every 0.2 s,
echoes binary frames in upper case; a new session closes the older one
(close frame 1000). "waiting": 400, "broken": 409, "chunky": 400 with a
chunked body, others: 404 (Status bodies as droverd's). Events (one per line) go to EVENTS-FILE: "cn NAME",
"unmasked", "text-frame", "pong", "close", "takeover".
"""
import base64
import hashlib
import json
import os
import re
import socket
import ssl
import struct
import sys
import threading
import time

PORT, CERT, KEY, CA, EVENTS = sys.argv[1:6]
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
PATH = re.compile(r"^/apis/subresources\.kubevirt\.io/v1/namespaces/"
                  r"([^/]+)/virtualmachineinstances/([^/]+)/console$")
lock = threading.Lock()
current = {}


def event(s):
    with lock, open(EVENTS, "a") as f:
        f.write(s + "\n")


def status(conn, code, reason, msg):
    body = json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {},
                       "status": "Failure", "message": msg,
                       "reason": reason, "code": code}).encode()
    conn.sendall(b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n" % (code, reason.encode(),
                                                  len(body)) + body)


def frame(op, data):
    n = len(data)
    if n < 126:
        h = struct.pack("!BB", 0x80 | op, n)
    elif n < 65536:
        h = struct.pack("!BBH", 0x80 | op, 126, n)
    else:
        h = struct.pack("!BBQ", 0x80 | op, 127, n)
    return h + data


def read_exact(conn, n, buf):
    while len(buf[0]) < n:
        d = conn.recv(65536)
        if not d:
            raise EOFError
        buf[0] += d
    out, buf[0] = buf[0][:n], buf[0][n:]
    return out


def session(conn, key, buf):
    wlock = threading.Lock()
    alive = [True]

    def send(op, data):
        with wlock:
            conn.sendall(frame(op, data))

    def pinger():
        while alive[0]:
            time.sleep(0.2)
            try:
                send(9, b"p")
            except OSError:
                return
    with lock:
        old = current.get(key)
        current[key] = (conn, send)
    if old:
        event("takeover")
        try:
            old[1](8, struct.pack("!H", 1000) + b"another session took over")
            old[0].shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    send(2, b"hello from the console\r\n")
    threading.Thread(target=pinger, daemon=True).start()
    try:
        while True:
            b0, b1 = read_exact(conn, 2, buf)
            op, n = b0 & 15, b1 & 127
            if not b1 & 0x80:
                event("unmasked")
            if n == 126:
                n = struct.unpack("!H", read_exact(conn, 2, buf))[0]
            elif n == 127:
                n = struct.unpack("!Q", read_exact(conn, 8, buf))[0]
            mask = read_exact(conn, 4, buf) if b1 & 0x80 else b"\0\0\0\0"
            data = bytes(c ^ mask[i % 4] for i, c in
                         enumerate(read_exact(conn, n, buf)))
            if op == 1:
                event("text-frame")
            if op == 2:
                send(2, data.upper())
            elif op == 10:
                event("pong")
            elif op == 8:
                event("close")
                break
    except (EOFError, OSError, ssl.SSLError):
        pass
    alive[0] = False
    with lock:
        if current.get(key, (None,))[0] is conn:
            del current[key]


def handle(conn):
    buf = [b""]
    try:
        while b"\r\n\r\n" not in buf[0]:
            d = conn.recv(65536)
            if not d:
                return
            buf[0] += d
        head, buf[0] = buf[0].split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        method, path, _ = lines[0].split(" ")
        hdr = {}
        for l in lines[1:]:
            k, _, v = l.partition(":")
            hdr[k.strip().lower()] = v.strip()
        cn = dict(x[0] for x in conn.getpeercert()["subject"])["commonName"]
        event("cn " + cn)
        m = PATH.match(path)
        if not m or method != "GET":
            status(conn, 404, "NotFound", "the server could not find the "
                   "requested resource")
            return
        ns, name = m.groups()
        if name == "waiting":
            status(conn, 400, "BadRequest", "Unable to connect to "
                   "VirtualMachineInstance because phase is Scheduling "
                   "instead of Running")
            return
        if name == "chunky":    # the same refusal, chunked
            body = json.dumps({"kind": "Status", "apiVersion": "v1",
                               "metadata": {}, "status": "Failure",
                               "message": "sent in chunks",
                               "reason": "BadRequest", "code": 400}).encode()
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: "
                         b"chunked\r\n\r\n" + b"".join(
                             b"%x\r\n%s\r\n" % (len(body[i:i + 7]),
                                                 body[i:i + 7])
                             for i in range(0, len(body), 7)) + b"0\r\n\r\n")
            return
        if name == "broken":
            status(conn, 409, "Conflict", "Operation cannot be fulfilled on "
                   "virtualmachineinstance.kubevirt.io \"broken\": VMI is "
                   "in failed status")
            return
        if name != "vm1":
            status(conn, 404, "NotFound", "virtualmachineinstances."
                   "kubevirt.io \"%s\" not found" % name)
            return
        if hdr.get("upgrade", "").lower() != "websocket" or \
                "plain.kubevirt.io" not in hdr.get("sec-websocket-protocol",
                                                   ""):
            status(conn, 400, "BadRequest", "not a console WebSocket")
            return
        acc = base64.b64encode(hashlib.sha1(
            (hdr["sec-websocket-key"] + GUID).encode()).digest()).decode()
        conn.sendall(("HTTP/1.1 101 Switching Protocols\r\n"
                      "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Accept: %s\r\n"
                      "Sec-WebSocket-Protocol: plain.kubevirt.io\r\n\r\n"
                      % acc).encode())
        session(conn, (ns, name), buf)
    except (OSError, ssl.SSLError, ValueError, KeyError):
        pass
    finally:
        try:
            conn.close()
        except OSError:
            pass


def main():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(CERT, KEY)
    ctx.load_verify_locations(CA)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", int(PORT)))
    ls.listen(16)
    event("ready")
    while True:
        c, _ = ls.accept()
        try:
            c = ctx.wrap_socket(c, server_side=True)
        except (ssl.SSLError, OSError):
            event("tls-refused")
            c.close()
            continue
        threading.Thread(target=handle, args=(c,), daemon=True).start()


if __name__ == "__main__":
    main()
