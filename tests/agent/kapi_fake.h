/*
 * kapi_fake.h: the transport side of agent/kapi.h for tests of handlers
 * (kapi_respond, kapi_ws_*): each struct kapi_conn records what the
 * handler answered and sent, and plays the client. A handler that breaks
 * the contract (answers twice, sends before accepting or after closing)
 * bumps misuse.
 */
#ifndef DROVER_KAPI_FAKE_H
#define DROVER_KAPI_FAKE_H

#include <stddef.h>

#include "kapi.h"

struct kapi_conn {
	int status;			/* kapi_respond's, 0: none */
	char body[1 << 20];		/* its body, NUL-terminated */
	size_t body_len;
	char ctype[128];		/* its Content-Type */
	int accepted, closed;
	char proto[64];
	const struct kapi_ws_ops *ops;
	void *arg;
	char out[1 << 20];		/* frames or chunks, concatenated */
	size_t nout, max_frame;
	int frames;
	int send_result;		/* what kapi_ws_send returns */
	/* streams */
	int streaming, ended;
	const struct kapi_stream_ops *sops;
	void *sarg;
	int write_result;		/* what kapi_stream_write returns */
	int misuse;
};

/* Type into the WebSocket (a binary frame from the client). */
void kapi_fake_type(struct kapi_conn *c, const char *s);
/* The client goes away (the transport's on_close), WebSocket or stream. */
void kapi_fake_hangup(struct kapi_conn *c);
/* Has the handler sent want (anywhere in the output so far)? */
int kapi_fake_saw(const struct kapi_conn *c, const char *want);

#endif
