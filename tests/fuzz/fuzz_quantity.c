/* libFuzzer target: Kubernetes quantities come from users' manifests. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "quantity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct quantity q;
	int64_t v;
	char *s;

	if (size > 64)
		return 0;
	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (quantity_parse(s, &q, NULL) == 0) {
		(void)quantity_milli(&q, &v);
		(void)quantity_value(&q, &v);
		for (int scale = -30; scale <= 30; scale += 7)
			(void)quantity_scaled(&q, scale, &v);
	}
	free(s);
	return 0;
}
