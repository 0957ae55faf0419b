/*
 * libFuzzer target: the image store's tar and gzip reader (agent/imgtar.c)
 * walks OCI/Docker archives and image layers, which come from users and
 * registries. Every entry is read to its end, names are normalized, and
 * the stream is drained as the importer does.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "imgtar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64], err[256], buf[4096];
	struct imgtar_entry e;
	struct imgtar_src src;
	struct imgtar t;
	int fd, rc;

	if (size > (1u << 20))
		return 0;
	fd = memfd_create("fuzz_imgtar", 0);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (imgtar_src_open(&src, path, err, sizeof(err)) == 0) {
		imgtar_init(&t, &src);
		while ((rc = imgtar_next(&t, &e, err, sizeof(err))) > 0) {
			(void)imgtar_clean_path(e.name);
			if (e.size % 2)	/* half the entries read, half skipped */
				while (imgtar_read(&t, buf, sizeof(buf), err,
				    sizeof(err)) > 0)
					;
		}
		if (rc == 0)
			(void)imgtar_finish(&t, err, sizeof(err));
		imgtar_src_close(&src);
	}
	close(fd);
	return 0;
}
