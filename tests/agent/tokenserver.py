#!/usr/bin/env python3
"""tests/agent/tokenserver.py: a tiny Docker registry token service for
tests/agent/images-registry.sh (distribution's token auth: RS256 JWTs
with the signing certificate in x5c).

usage: tokenserver.py PORT CERT KEY TOKEN-CERT TOKEN-KEY USER PASS LOG [OCI-DIR]

Serves GET /token?service=S&scope=repository:R:ACTIONS over TLS (CERT,
KEY). Without Basic USER:PASS it answers 401; with them it issues a token
granting the scope, signed with TOKEN-KEY (openssl dgst, so that only the
standard library is needed). Every request is appended to LOG.

With OCI-DIR (an unpacked OCI archive) it also plays a broken registry
on /v2/: the image's manifest for any name and tag, and blobs that
announce their full Content-Length but stop half way (a download cut
short by the network).
"""
import base64
import http.server
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.parse

PORT, CERT, KEY, TCERT, TKEY, USER, PASSWD, LOG = sys.argv[1:9]
OCI = sys.argv[9] if len(sys.argv) > 9 else None


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def der_of(pem_path):
    out = subprocess.run(["openssl", "x509", "-in", pem_path, "-outform", "DER"],
                         check=True, capture_output=True).stdout
    return base64.b64encode(out).decode()


X5C = der_of(TCERT)


def token(service, scope):
    now = int(time.time())
    access = []
    if scope:
        kind, name, actions = scope.split(":", 2)
        access.append({"type": kind, "name": name, "actions": actions.split(",")})
    header = {"typ": "JWT", "alg": "RS256", "x5c": [X5C]}
    claims = {"iss": "drover-test-issuer", "sub": USER, "aud": service,
              "exp": now + 600, "nbf": now - 60, "iat": now,
              "jti": b64url(os.urandom(12)), "access": access}
    signing_input = b64url(json.dumps(header).encode()) + "." + \
        b64url(json.dumps(claims).encode())
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", TKEY],
                         input=signing_input.encode(), check=True,
                         capture_output=True).stdout
    return signing_input + "." + b64url(sig)


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass

    def broken_registry(self, path):
        blobs = os.path.join(OCI, "blobs", "sha256")
        if "/manifests/" in path:
            with open(os.path.join(OCI, "index.json")) as f:
                m = json.load(f)["manifests"][0]
            with open(os.path.join(blobs, m["digest"][7:]), "rb") as f:
                body = f.read()
            self.send_response(200)
            self.send_header("Content-Type", m["mediaType"])
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif "/blobs/sha256:" in path:
            fn = os.path.join(blobs, path.rsplit("sha256:", 1)[1])
            with open(fn, "rb") as f:
                body = f.read()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
        else:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(u.query)
        auth = self.headers.get("Authorization", "")
        want = "Basic " + base64.b64encode(f"{USER}:{PASSWD}".encode()).decode()
        ok = auth == want
        with open(LOG, "a") as f:
            f.write(f"{u.path} scope={q.get('scope', [''])[0]} auth={'ok' if ok else 'none'}\n")
        if OCI and u.path.startswith("/v2/"):
            self.broken_registry(u.path)
            return
        if u.path != "/token":
            self.send_response(404)
            self.end_headers()
            return
        if not ok:
            body = b'{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}'
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        t = token(q.get("service", [""])[0], q.get("scope", [""])[0])
        body = json.dumps({"token": t, "access_token": t, "expires_in": 600}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


srv = http.server.HTTPServer(("127.0.0.1", int(PORT)), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(CERT, KEY)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
