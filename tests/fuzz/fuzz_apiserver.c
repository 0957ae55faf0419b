/*
 * libFuzzer target: the mTLS API transport's readers of client-controlled
 * bytes (agent/apiserver_util.c). The first byte picks one: 0 the client
 * identity from a DER certificate, 1 the query encoder (fragments split
 * at '&', as lws hands them over), 2 Content-Length, 3 listen addresses.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "apiserver_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_query(const char *s, size_t n)
{
	char out[512];
	size_t len = 0;

	while (n) {
		const char *amp = memchr(s, '&', n);
		size_t f = amp ? (size_t)(amp - s) : n;

		if (as_query_append(out, sizeof(out), &len, s, f) < 0)
			break;
		if (strlen(out) != len)
			abort();
		s += f;
		n -= f;
		if (n) {
			s++;
			n--;
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kapi_user u;
	char why[128], *s, addr[64];
	uint64_t v;
	int port, v6;

	if (size < 1 || size > 8192)
		return 0;
	s = malloc(size);
	if (!s)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	switch (data[0] & 3) {
	case 0:
		if (as_identity_der(data + 1, size - 1, &u, why,
		    sizeof(why)) == 0 && (!u.name[0] || u.ngroups < 0 ||
		    u.ngroups > KAPI_MAX_GROUPS))
			abort();
		break;
	case 1:
		fuzz_query(s, size - 1);
		break;
	case 2:
		(void)as_parse_length(s, &v);
		break;
	case 3:
		if (as_parse_listen(s, addr, sizeof(addr), &port, &v6) == 0 &&
		    (port < 0 || port > 65535 || strlen(addr) >= sizeof(addr)))
			abort();
		break;
	}
	free(s);
	return 0;
}
