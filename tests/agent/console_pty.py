#!/usr/bin/env python3
"""Run a command on a pseudo-terminal and drive it like a user.

console_pty.py [--timeout S] [--log FILE] [--trace FILE] -- COMMAND ARGS...
(--log: everything the command output; --trace: each step with the
seconds it took.)
Steps, one per line on stdin:
  expect TEXT     wait until TEXT (Python escapes allowed) has been output
  expectnew TEXT  the same, in what was output since the last send
  send TEXT       type TEXT (Python escapes: \\x1d is Ctrl+])
  sleep S         wait S seconds (reading the output meanwhile)
  touch PATH      create PATH (to let another session go on)
  waitfile PATH   wait until PATH exists
  raw             check that the terminal is in raw mode (no ECHO/ICANON)
  exit N          wait for the command to end with status N
  cooked          after the exit: the terminal is back in its old mode
Exit status 0 when every step passed; the failing step and the output so
far are printed otherwise.
"""
import codecs
import os
import pty
import select
import sys
import termios
import time


def unescape(s):
    return codecs.decode(s, "unicode_escape").encode("latin-1")


def main():
    args = sys.argv[1:]
    timeout, log, trace = 10.0, None, None
    while args and args[0] != "--":
        if args[0] == "--timeout":
            timeout = float(args[1])
            args = args[2:]
        elif args[0] == "--log":
            log = args[1]
            args = args[2:]
        elif args[0] == "--trace":
            trace = args[1]
            args = args[2:]
        else:
            sys.exit("usage: console_pty.py [--timeout S] [--log F] -- CMD")
    cmd = args[1:]
    steps = [l.rstrip("\n") for l in sys.stdin if l.strip()]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(cmd[0], cmd)
    saved = termios.tcgetattr(fd)
    out = b""
    mark = 0
    status = None

    def pump(until):
        nonlocal out, status
        while time.monotonic() < until:
            r, _, _ = select.select([fd], [], [], 0.05)
            data = None
            if r:
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    data = b""
                if data:
                    out += data
                    if log:
                        with open(log, "ab") as f:
                            f.write(data)
                    return True
            if status is None:
                p, st = os.waitpid(pid, os.WNOHANG)
                if p == pid:
                    status = os.waitstatus_to_exitcode(st)
            # gone, and nothing more to read (EOF/EIO keeps it readable)
            if status is not None and (not r or not data):
                return False
        return False

    def fail(msg):
        sys.stderr.write("console_pty: %s\n--- output so far ---\n%s\n---\n"
                         % (msg, out.decode("utf-8", "replace")))
        if status is None:
            os.kill(pid, 9)
        sys.exit(1)

    t_start = time.monotonic()
    prev, t_prev = None, t_start

    def traced(now):
        if trace and prev is not None:
            with open(trace, "a") as f:
                f.write("%6.1f s %6.1f s  %s\n" % (now - t_start,
                                                  now - t_prev, prev))

    for step in steps:
        verb, _, arg = step.partition(" ")
        t_step = time.monotonic()
        end = t_step + timeout
        traced(t_step)
        prev, t_prev = step, t_step
        if verb in ("expect", "expectnew"):
            want = unescape(arg)
            start = mark if verb == "expectnew" else 0
            while want not in out[start:]:
                if not pump(end) and (time.monotonic() >= end or
                                      status is not None):
                    if want not in out[start:]:
                        fail("never saw %r (status %s)" % (arg, status))
        elif verb == "send":
            mark = len(out)
            os.write(fd, unescape(arg))
        elif verb == "sleep":
            until = time.monotonic() + float(arg)
            while time.monotonic() < until:
                pump(until)
        elif verb == "touch":
            open(arg, "w").close()
        elif verb == "waitfile":
            while not os.path.exists(arg):
                pump(min(end, time.monotonic() + 0.05))
                if time.monotonic() >= end:
                    fail("no %s" % arg)
        elif verb == "raw":
            time.sleep(0.2)
            lflag = termios.tcgetattr(fd)[3]
            if lflag & (termios.ECHO | termios.ICANON):
                fail("the terminal is not raw")
        elif verb == "exit":
            while status is None and time.monotonic() < end:
                pump(end)
            if status is None:
                fail("still running")
            if status != int(arg):
                fail("exit status %s, not %s" % (status, arg))
        elif verb == "cooked":
            try:
                now = termios.tcgetattr(fd)
            except termios.error:
                now = None
            if now is not None and now[3] != saved[3]:
                fail("the terminal mode was not restored")
        else:
            fail("bad step %r" % step)
    traced(time.monotonic())
    if status is None:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    sys.exit(0)


if __name__ == "__main__":
    main()
