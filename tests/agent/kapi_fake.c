/* kapi_fake.c: the transport side of agent/kapi.h for tests (kapi_fake.h). */
#include "kapi_fake.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void
kapi_respondv(struct kapi_conn *c, int status, const char *content_type,
    const struct kapi_iov *v, size_t n)
{
	size_t len = 0;

	if (c->status || c->accepted)
		c->misuse++;
	c->status = status;
	for (size_t i = 0; i < n; i++) {
		size_t m = v[i].len;

		if (len + m >= sizeof(c->body))
			m = sizeof(c->body) - 1 - len;
		memcpy(c->body + len, v[i].p, m);
		len += m;
	}
	c->body[len] = '\0';
	c->body_len = len;
	snprintf(c->ctype, sizeof(c->ctype), "%s", content_type);
}

void
kapi_respond(struct kapi_conn *c, int status, const char *content_type,
    const char *body, size_t len)
{
	struct kapi_iov v = { body, len };

	kapi_respondv(c, status, content_type, &v, 1);
}

int
kapi_stream_begin(struct kapi_conn *c, int status, const char *content_type,
    const struct kapi_stream_ops *ops, void *arg)
{
	if (c->status || c->accepted)
		c->misuse++;
	c->status = status;
	c->streaming = 1;
	snprintf(c->ctype, sizeof(c->ctype), "%s", content_type);
	c->sops = ops;
	c->sarg = arg;
	return 0;
}

static void
kapi_fake_append(struct kapi_conn *c, const void *data, size_t len)
{
	if (c->nout + len > sizeof(c->out)) {
		/* keep the newest output */
		size_t drop = c->nout + len - sizeof(c->out);

		if (drop > c->nout)
			drop = c->nout;
		memmove(c->out, c->out + drop, c->nout - drop);
		c->nout -= drop;
		if (len > sizeof(c->out)) {
			data = (const char *)data + (len - sizeof(c->out));
			len = sizeof(c->out);
		}
	}
	memcpy(c->out + c->nout, data, len);
	c->nout += len;
	c->frames++;
	if (len > c->max_frame)
		c->max_frame = len;
}

int
kapi_stream_write(struct kapi_conn *c, const char *data, size_t len)
{
	if (!c->streaming || c->ended || c->closed) {
		c->misuse++;
		return -EPIPE;
	}
	if (c->write_result)
		return c->write_result;
	kapi_fake_append(c, data, len);
	return 0;
}

/* As a transport would: on_close follows, here from inside the call. */
void
kapi_stream_end(struct kapi_conn *c)
{
	if (!c->streaming || c->ended || c->closed) {
		c->misuse++;
		return;
	}
	c->ended = 1;
	c->sops->on_close(c->sarg);
}

int
kapi_ws_accept(struct kapi_conn *c, const char *subprotocol,
    const struct kapi_ws_ops *ops, void *arg)
{
	if (c->status || c->accepted)
		c->misuse++;
	c->accepted = 1;
	snprintf(c->proto, sizeof(c->proto), "%s", subprotocol);
	c->ops = ops;
	c->arg = arg;
	return 0;
}

int
kapi_ws_send(struct kapi_conn *c, const void *data, size_t len)
{
	if (!c->accepted || c->closed) {
		c->misuse++;
		return -EPIPE;
	}
	if (c->send_result)
		return c->send_result;
	kapi_fake_append(c, data, len);
	return 0;
}

/* As a transport would: on_close follows, here from inside the call. */
void
kapi_ws_close(struct kapi_conn *c)
{
	if (!c->accepted || c->closed) {
		c->misuse++;
		return;
	}
	c->closed = 1;
	c->ops->on_close(c->arg);
}

void
kapi_fake_type(struct kapi_conn *c, const char *s)
{
	c->ops->on_message(c->arg, s, strlen(s));
}

void
kapi_fake_hangup(struct kapi_conn *c)
{
	c->closed = 1;
	if (c->streaming && !c->ended)
		c->sops->on_close(c->sarg);
	else if (c->ops)
		c->ops->on_close(c->arg);
}

int
kapi_fake_saw(const struct kapi_conn *c, const char *want)
{
	return memmem(c->out, c->nout, want, strlen(want)) != NULL;
}
