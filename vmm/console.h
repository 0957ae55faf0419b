/*
 * console.h: the serial console's host side: stdio, or a unix socket
 * that several clients may read. Guest output goes into a ring buffer (the last CONSOLE_RING bytes are always kept) and a writer
 * thread copies it to the output fd. A slow or absent reader never stalls
 * the guest: when the writer falls more than a ring behind, the oldest
 * unsent bytes are dropped and counted. Input, if any, is read by its own
 * thread and handed to a callback that may take fewer bytes than offered
 * (the UART's buffer is full); the rest is retried.
 */
#ifndef DROVER_CONSOLE_H
#define DROVER_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#define CONSOLE_RING	(64 * 1024)
#define CONSOLE_MAX_CLIENTS	8

struct console;

/* Returns how many bytes it took. Called from the input thread. */
typedef size_t (*console_input_fn)(void *arg, const uint8_t *buf, size_t n);

/* out_fd: where output goes (-1: nowhere, the ring and log only); in_fd:
 * -1 for no input. NULL on failure. */
struct console *console_open(int out_fd, int in_fd, console_input_fn in,
    void *arg);
/*
 * Serve the console on a unix socket at path (mode 0600; a stale socket
 * there is replaced). Every client gets the kept output, then everything
 * new; a client that falls a whole ring behind loses the oldest bytes.
 * The first client to type is the writer until it disconnects; the
 * others' input is dropped. NULL on failure (logged).
 */
struct console *console_open_unix(const char *path, console_input_fn in,
    void *arg);
/*
 * The same on a TCP listener: spec is "PORT" (127.0.0.1) or "ADDR:PORT"
 * (IPv4). Anyone who can connect can type: keep it on loopback or behind
 * a firewall. NULL on failure (logged).
 */
struct console *console_open_tcp(const char *spec, console_input_fn in,
    void *arg);
struct sockaddr_in;
/* Parse a tcp console spec. 0 or -EINVAL. */
int console_parse_tcp(const char *spec, struct sockaddr_in *sa);
/* Also append the output to fd (a log file), from its own thread; the
 * console closes fd. 0 or -errno. */
int console_set_log(struct console *c, int fd);
/* Append guest output; never blocks on the output fd. */
void console_write(struct console *c, const uint8_t *buf, size_t n);
/* Copy the newest kept output (up to n bytes) into buf; returns count. */
size_t console_history(struct console *c, uint8_t *buf, size_t n);
/* Bytes dropped because the reader was too slow. */
uint64_t console_dropped(struct console *c);
/*
 * Flush what is buffered (waiting at most timeout_ms), stop, free. Returns
 * 1 if freed, 0 if an input thread still runs (it may still call the input
 * callback, whose argument must then stay valid) or output is stuck.
 */
int console_close(struct console *c, int timeout_ms);

#endif
