/* registry.c: pull from an OCI registry (in progress). */
#include <errno.h>

#include "images_int.h"

int
registry_pull(struct images *im, const char *ref,
    const struct images_progress *prog, char *digest_out, char *err,
    size_t errlen)
{
	(void)im; (void)prog; (void)digest_out;
	return images_fail(err, errlen, -ENOTSUP, "%s: pull not built yet", ref);
}
