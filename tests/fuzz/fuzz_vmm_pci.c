/*
 * libFuzzer target: PCI configuration space accesses are guest-controlled.
 * Each 8-byte record of the input is one access: op (read/write), port
 * offset, width, value; the model must answer every one without reading
 * or writing outside its state.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmm_dev_host host;
	struct pci_function fn;
	uint8_t buf[8];
	void *h;

	memset(&host, 0, sizeof(host));
	h = pci_host_ops.create(&host);
	if (h == NULL)
		return 0;
	memset(&fn, 0, sizeof(fn));
	memset(fn.wmask + 0x10, 0xff, 0x18);	/* BARs, all writable */
	(void)pci_add_device(h, 3, &fn);
	for (; size >= 8; data += 8, size -= 8) {
		unsigned off = data[1] % 16, len = 1u << (data[2] % 4);

		memcpy(buf, data + 3, 5);
		buf[5] = buf[6] = buf[7] = data[0];
		if (data[0] & 1)
			pci_host_ops.write(h, off, buf, len);
		else
			pci_host_ops.read(h, off, buf, len);
	}
	pci_host_ops.destroy(h);
	return 0;
}
