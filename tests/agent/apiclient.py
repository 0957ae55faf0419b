#!/usr/bin/env python3
"""tests/agent/apiclient.py: raw mutual-TLS clients for droverd's API
transport tests (tests/agent/api-transport.sh, console-droverd.sh).

  apiclient.py --port P --pki DIR [--user NAME] CMD ...

  raw FILE          send FILE's bytes as is (a line "--PAUSE--" in it: wait
                    0.5 s there), print what comes back until the server
                    closes or 5 s pass
  slowloris SECS    send a request's headers one byte every 0.5 s; print
                    "closed after N s" when the server closes (or "open")
  hold N SECS       open N connections (handshake done), keep them SECS s,
                    print how many are still open then
  rejected          one more connection: print "rejected" if the server
                    closes it without answering a request, else the status
  noread PATH SECS  GET PATH (a watch) and never read; print "closed after
                    N s" when the server drops us
  slowread PATH N [pipelined]
                    N GETs of PATH one after the other on one connection
                    (keep-alive; or all sent at once, pipelined) with a
                    4 KiB receive buffer, each answer read slowly (4 KiB,
                    then 1 ms): print "N answers, sizes ..., md5s ..."
                    (each must be whole)
  ws PATH           WebSocket upgrade (plain.kubevirt.io), a binary frame
                    "hello", wait for data back, a ping (expect its pong),
                    then wait for a ping from the server; print each step
"""
import argparse
import base64
import hashlib
import os
import socket
import ssl
import struct
import sys
import time

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def connect(a, rcvbuf=0):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(os.path.join(a.pki, "ca.crt"))
    u = os.path.join(a.pki, "users", a.user)
    ctx.load_cert_chain(u + ".crt", u + ".key")
    ctx.set_alpn_protocols(["http/1.1"])
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(10)
    s.connect(("127.0.0.1", a.port))
    return ctx.wrap_socket(s, server_hostname="127.0.0.1")


def wait_closed(s, limit):
    t0 = time.time()
    s.settimeout(0.2)
    while time.time() - t0 < limit:
        try:
            if s.recv(65536) == b"":
                return time.time() - t0
        except (socket.timeout, ssl.SSLWantReadError):
            pass
        except (OSError, ssl.SSLError):
            return time.time() - t0
    return None


def cmd_raw(a):
    data = open(a.args[0], "rb").read()
    s = connect(a)
    for i, part in enumerate(data.split(b"--PAUSE--\r\n")):
        if i:
            time.sleep(0.5)
        s.sendall(part)
    out = b""
    s.settimeout(5)
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    except (OSError, ssl.SSLError):
        pass
    sys.stdout.write(out.decode("latin-1"))


def cmd_slowloris(a):
    secs = float(a.args[0])
    s = connect(a)
    req = b"GET /version HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + \
        b"a" * 200 + b"\r\n\r\n"
    t0 = time.time()
    s.settimeout(0.5)
    for c in req:
        if time.time() - t0 > secs:
            break
        try:
            s.send(bytes([c]))
        except (OSError, ssl.SSLError):
            print("closed after %.1f s" % (time.time() - t0))
            return
        try:
            if s.recv(1) == b"":
                print("closed after %.1f s" % (time.time() - t0))
                return
        except (socket.timeout, ssl.SSLWantReadError):
            pass
        except (OSError, ssl.SSLError):
            print("closed after %.1f s" % (time.time() - t0))
            return
    print("open")


def cmd_hold(a):
    n, secs = int(a.args[0]), float(a.args[1])
    conns = []
    for _ in range(n):
        try:
            conns.append(connect(a))
        except (OSError, ssl.SSLError):
            break
    print("opened %d" % len(conns), flush=True)
    time.sleep(secs)
    alive = 0
    for s in conns:
        s.settimeout(0.1)
        try:
            alive += s.recv(1) != b""
        except (socket.timeout, ssl.SSLWantReadError):
            alive += 1
        except (OSError, ssl.SSLError):
            pass
    print("open %d" % alive)


def cmd_rejected(a):
    try:
        s = connect(a)
        s.sendall(b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n")
        s.settimeout(5)
        b = s.recv(100)
    except (OSError, ssl.SSLError):
        b = b""
    print(b.split(b"\r\n")[0].decode() if b else "rejected")


def cmd_noread(a):
    path, secs = a.args[0], float(a.args[1])
    s = connect(a, rcvbuf=4096)
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
    t0 = time.time()
    # never read: the server's output piles up; it must drop us
    while time.time() - t0 < secs:
        time.sleep(0.5)
        try:
            s.getpeername()
            info = open("/proc/net/tcp").read()
        except OSError:
            break
        lport = s.getsockname()[1]
        st = [l.split() for l in info.splitlines()[1:]]
        mine = [x for x in st if int(x[1].split(":")[1], 16) == lport]
        if not mine or mine[0][3] in ("08", "07", "0B"):   # CLOSE_WAIT..
            print("closed after %.1f s" % (time.time() - t0))
            return
    print("open")


def read_answer(s, buf):
    """One HTTP answer with a Content-Length: (status, body, rest)."""
    while b"\r\n\r\n" not in buf:
        d = s.recv(4096)
        if not d:
            raise EOFError("closed inside the headers")
        buf += d
    head, buf = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    hdrs = dict(l.split(":", 1) for l in lines[1:])
    hdrs = {k.strip().lower(): v.strip() for k, v in hdrs.items()}
    want = int(hdrs["content-length"])
    while len(buf) < want:
        d = s.recv(4096)
        if not d:
            raise EOFError("closed after %d of %d body bytes" %
                           (len(buf), want))
        buf += d
        time.sleep(0.001)
    return lines[0].split()[1], buf[:want], buf[want:]


def cmd_slowread(a):
    path, n = a.args[0], int(a.args[1])
    piped = a.args[2:] == ["pipelined"]
    req = ("GET %s HTTP/1.1\r\nHost: x\r\nAccept: application/json"
           "\r\n\r\n" % path).encode()
    s = connect(a, rcvbuf=4096)
    if piped:
        s.sendall(req * n)
    buf, sizes, sums = b"", [], []
    for _ in range(n):
        if not piped:
            s.sendall(req)
        code, body, buf = read_answer(s, buf)
        if code != "200":
            print("answer %d: status %s" % (len(sizes) + 1, code))
            return 1
        sizes.append(str(len(body)))
        sums.append(hashlib.md5(body).hexdigest())
    print("%d answers, sizes %s, md5s %s" % (n, " ".join(sizes),
                                              " ".join(sums)))


def ws_frame(opcode, payload):
    mask = os.urandom(4)
    n = len(payload)
    hdr = bytes([0x80 | opcode])
    if n < 126:
        hdr += bytes([0x80 | n])
    else:
        hdr += bytes([0x80 | 126]) + struct.pack(">H", n)
    return hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def ws_read(s, buf):
    """(opcode, payload, rest) from buf + the socket."""
    while True:
        if len(buf) >= 2:
            n = buf[1] & 0x7f
            off = 2
            if n == 126:
                if len(buf) < 4:
                    n = None
                else:
                    n = struct.unpack(">H", buf[2:4])[0]
                    off = 4
            elif n == 127:
                if len(buf) < 10:
                    n = None
                else:
                    n = struct.unpack(">Q", buf[2:10])[0]
                    off = 10
            if n is not None and len(buf) >= off + n:
                return buf[0] & 0x0f, buf[off:off + n], buf[off + n:]
        b = s.recv(65536)
        if not b:
            raise EOFError("closed")
        buf += b


def cmd_ws(a):
    s = connect(a)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: 13\r\n"
               "Sec-WebSocket-Protocol: plain.kubevirt.io\r\n\r\n"
               % (a.args[0], key)).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        b = s.recv(4096)
        if not b:
            print("closed during the handshake")
            return 1
        buf += b
    head, buf = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    print(lines[0])
    hdr = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip()
           for l in lines[1:] if ":" in l}
    want = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest())
    print("accept %s" % ("ok" if hdr.get("sec-websocket-accept") ==
                         want.decode() else "bad"))
    print("protocol %s" % hdr.get("sec-websocket-protocol"))
    s.settimeout(10)
    s.sendall(ws_frame(2, b"hello\n"))
    got, t0 = b"", time.time()
    while b"HELLO" not in got and time.time() - t0 < 10:
        op, p, buf = ws_read(s, buf)
        if op == 2:
            got += p
        elif op == 9:
            s.sendall(ws_frame(10, p))
    print("echo %s" % ("ok" if b"HELLO" in got else "missing"))
    s.sendall(ws_frame(9, b"p1"))
    pong = ping = False
    t0 = time.time()
    while not (pong and ping) and time.time() - t0 < 10:
        op, p, buf = ws_read(s, buf)
        if op == 10 and p == b"p1":
            pong = True
        elif op == 9:
            ping = True
            s.sendall(ws_frame(10, p))
    print("pong %s" % ("ok" if pong else "missing"))
    print("server ping %s" % ("ok" if ping else "missing"))
    s.sendall(ws_frame(8, struct.pack(">H", 1000)))
    return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--pki", required=True)
    p.add_argument("--user", default="admin")
    p.add_argument("cmd")
    p.add_argument("args", nargs="*")
    a = p.parse_args()
    return {"raw": cmd_raw, "slowloris": cmd_slowloris, "hold": cmd_hold,
            "rejected": cmd_rejected, "noread": cmd_noread,
            "slowread": cmd_slowread,
            "ws": cmd_ws}[a.cmd](a) or 0


if __name__ == "__main__":
    sys.exit(main())
