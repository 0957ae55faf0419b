/*
 * cidata.h: KubeVirt's cloudInitNoCloud volume as a NoCloud seed disk: an
 * ISO 9660 image (agent/iso9660.c) with volume id "cidata", Rock Ridge and
 * Joliet, holding
 * - user-data: userData as is, or userDataBase64 decoded (empty if neither);
 * - meta-data: JSON (CirrOS parses nothing else),
 *   {"instance-id":<firmware UUID, else a random UUID>,
 *    "local-hostname":<the VMI's name>};
 * - network-config: networkData or networkDataBase64 decoded, only when one
 *   is given.
 */
#ifndef DROVER_CIDATA_H
#define DROVER_CIDATA_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* The most bytes of user-data or network-config (after decoding). */
#define CIDATA_MAX_DATA		(4u << 20)
/* The longest hostname or instance id (a DNS subdomain's limit). */
#define CIDATA_MAX_ID		253
#define CIDATA_VOLUME_ID	"cidata"

struct cidata {
	const char *hostname;		/* local-hostname: the VMI's name */
	const char *firmware_uuid;	/* spec.domain.firmware.uuid, or NULL */
	/* At most one of each pair; NUL-terminated. */
	const char *user_data;
	const char *user_data_b64;
	const char *network_data;
	const char *network_data_b64;
	time_t mtime;			/* dates in the image; 0: now */
};

/*
 * Write the seed image to path (temporary file, fsync, rename: on failure
 * nothing new is left). 0, or -EINVAL (bad base64, both forms of a field
 * set, bad hostname), -EFBIG (a field over CIDATA_MAX_DATA) or another
 * -errno, with a message naming the field in err.
 */
int cidata_write(const char *path, const struct cidata *in, char *err,
    size_t errlen);

/*
 * Decode standard base64 (padding required, line breaks allowed) into a
 * malloc'd *out of *outlen bytes, at most max. 0, -EINVAL, -EFBIG or
 * -ENOMEM.
 */
int cidata_base64_decode(const char *src, size_t max, uint8_t **out,
    size_t *outlen);

/* A random (version 4) UUID, lower case, in out[37]. 0 or -errno. */
int cidata_uuid_random(char out[37]);

/*
 * The meta-data JSON for this hostname and instance id into buf. Returns
 * its length, or -ENOSPC.
 */
int cidata_meta_data(const char *hostname, const char *instance_id,
    char *buf, size_t len);

#endif
