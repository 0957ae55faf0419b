/*
 * cidata.c: the cloudInitNoCloud seed disk (see cidata.h): decode and bound
 * the fields, build meta-data, hand the three files to iso9660_write().
 * Base64 is mbedTLS's decoder (mbedcrypto is linked into every binary).
 */
#include <errno.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <mbedtls/base64.h>

#include "errfmt.h"
#include "cidata.h"
#include "iso9660.h"

/* One file's bytes: a field as given, or its decoded copy (owned). */
struct blob {
	const uint8_t *data;
	size_t len;
	uint8_t *owned;
	int given;
};

/* "cidata: ..." into err (NULL: nothing); returns rc. */
#define seterr(err, errlen, rc, ...) \
	errfmt((err), (errlen), (rc), "cidata: " __VA_ARGS__)

int
cidata_base64_decode(const char *src, size_t max, uint8_t **out,
    size_t *outlen)
{
	/* Base64 is 4/3 of the data, plus line breaks: twice is plenty. */
	size_t bound = 2 * max + 64, slen, n = 0;
	const unsigned char *s = (const unsigned char *)src;
	uint8_t *buf;
	int rc;

	*out = NULL;
	*outlen = 0;
	if (max > SIZE_MAX / 4)
		return -EINVAL;
	slen = strnlen(src, bound + 1);
	if (slen > bound)
		return -EFBIG;
	/* With no buffer, mbedTLS checks every character and says how
	 * many bytes the data needs. */
	rc = mbedtls_base64_decode(NULL, 0, &n, s, slen);
	if (rc != 0 && rc != MBEDTLS_ERR_BASE64_BUFFER_TOO_SMALL)
		return -EINVAL;
	if (n > max)
		return -EFBIG;
	buf = malloc(n ? n : 1);
	if (buf == NULL)
		return -ENOMEM;
	rc = mbedtls_base64_decode(buf, n, &n, s, slen);
	if (rc != 0) {
		free(buf);
		return -EINVAL;
	}
	*out = buf;
	*outlen = n;
	return 0;
}

/* One field pair, userData / userDataBase64, into b. */
static int
field(const char *name, const char *plain, const char *b64, struct blob *b,
    char *err, size_t errlen)
{
	size_t len;
	int rc;

	memset(b, 0, sizeof(*b));
	if (plain && b64)
		return seterr(err, errlen, -EINVAL, "cloudInitNoCloud: %s and "
		    "%sBase64 are both set; use one", name, name);
	if (plain) {
		len = strnlen(plain, (size_t)CIDATA_MAX_DATA + 1);
		if (len > CIDATA_MAX_DATA)
			return seterr(err, errlen, -EFBIG, "cloudInitNoCloud."
			    "%s is larger than the limit of %u bytes", name,
			    CIDATA_MAX_DATA);
		b->data = (const uint8_t *)plain;
		b->len = len;
		b->given = 1;
		return 0;
	}
	if (b64 == NULL)
		return 0;
	rc = cidata_base64_decode(b64, CIDATA_MAX_DATA, &b->owned, &b->len);
	if (rc == -EINVAL)
		return seterr(err, errlen, rc, "cloudInitNoCloud.%sBase64 is "
		    "not valid base64 (standard alphabet, with padding)", name);
	if (rc == -EFBIG)
		return seterr(err, errlen, rc, "cloudInitNoCloud.%sBase64 "
		    "decodes to more than the limit of %u bytes", name,
		    CIDATA_MAX_DATA);
	if (rc < 0)
		return seterr(err, errlen, rc, "cloudInitNoCloud.%sBase64: %s",
		    name, strerror(-rc));
	b->data = b->owned;
	b->given = 1;
	return 0;
}

int
cidata_uuid_random(char out[37])
{
	uint8_t u[16];
	size_t got = 0;
	ssize_t n;

	while (got < sizeof(u)) {
		n = getrandom(u + got, sizeof(u) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		got += (size_t)n;
	}
	u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);	/* version 4 */
	u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);	/* RFC 4122 variant */
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3], u[4], u[5],
	    u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
	return 0;
}

static size_t
json_raw(char *buf, size_t len, size_t at, const char *s)
{
	for (; *s; s++, at++)
		if (at < len)
			buf[at] = *s;
	return at;
}

/* Append s as a JSON string; returns the new length (may pass len). */
static size_t
json_str(char *buf, size_t len, size_t at, const char *s)
{
	char esc[8];

	at = json_raw(buf, len, at, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			snprintf(esc, sizeof(esc), "\\%c", c);
		else if (c < 0x20)
			snprintf(esc, sizeof(esc), "\\u%04x", c);
		else
			snprintf(esc, sizeof(esc), "%c", c);
		at = json_raw(buf, len, at, esc);
	}
	return json_raw(buf, len, at, "\"");
}

int
cidata_meta_data(const char *hostname, const char *instance_id, char *buf,
    size_t len)
{
	size_t at = 0;

	at = json_raw(buf, len, at, "{\"instance-id\":");
	at = json_str(buf, len, at, instance_id);
	at = json_raw(buf, len, at, ",\"local-hostname\":");
	at = json_str(buf, len, at, hostname);
	at = json_raw(buf, len, at, "}");
	if (at >= len)
		return -ENOSPC;
	buf[at] = '\0';
	return (int)at;
}

static int
id_check(const char *what, const char *s, char *err, size_t errlen)
{
	if (s == NULL || s[0] == '\0')
		return seterr(err, errlen, -EINVAL, "%s is empty", what);
	if (strnlen(s, CIDATA_MAX_ID + 1) > CIDATA_MAX_ID)
		return seterr(err, errlen, -EINVAL, "%s is longer than %d "
		    "bytes", what, CIDATA_MAX_ID);
	return 0;
}

int
cidata_write(const char *path, const struct cidata *in, char *err,
    size_t errlen)
{
	/* Each id may grow sixfold when escaped. */
	char meta[2 * 6 * CIDATA_MAX_ID + 64], uuid[37];
	const char *iid;
	struct blob ud, nd;
	struct iso9660_file files[3];
	struct iso9660_image img;
	size_t n = 0;
	int rc, len;

	memset(&ud, 0, sizeof(ud));
	memset(&nd, 0, sizeof(nd));
	if (path == NULL || in == NULL)
		return seterr(err, errlen, -EINVAL, "no path or no input");
	rc = id_check("the hostname (the VMI's name)", in->hostname, err,
	    errlen);
	if (rc == 0 && in->firmware_uuid)
		rc = id_check("firmware.uuid", in->firmware_uuid, err, errlen);
	if (rc < 0)
		return rc;
	rc = field("userData", in->user_data, in->user_data_b64, &ud, err,
	    errlen);
	if (rc < 0)
		goto out;
	rc = field("networkData", in->network_data, in->network_data_b64, &nd,
	    err, errlen);
	if (rc < 0)
		goto out;
	iid = in->firmware_uuid;
	if (iid == NULL) {
		rc = cidata_uuid_random(uuid);
		if (rc < 0) {
			seterr(err, errlen, rc, "random instance id: %s",
			    strerror(-rc));
			goto out;
		}
		iid = uuid;
	}
	len = cidata_meta_data(in->hostname, iid, meta, sizeof(meta));
	if (len < 0) {
		rc = seterr(err, errlen, len, "meta-data does not fit");
		goto out;
	}
	files[n++] = (struct iso9660_file){ "user-data", ud.data, ud.len };
	files[n++] = (struct iso9660_file){ "meta-data", meta, (size_t)len };
	if (nd.given)
		files[n++] = (struct iso9660_file){ "network-config", nd.data,
		    nd.len };
	img = (struct iso9660_image){ CIDATA_VOLUME_ID, files, n, in->mtime };
	rc = iso9660_write(path, &img, err, errlen);
out:
	free(ud.owned);
	free(nd.owned);
	return rc;
}
