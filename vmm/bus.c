/*
 * bus.c: the one table of guest-visible devices and their address
 * ranges, and the dispatch of port and MMIO exits to them. Each device has
 * its own lock: vCPU threads and the console input thread may touch the
 * same device at once. An access no device claims is counted; a read of it
 * returns all ones, as an empty ISA bus does.
 */
#include <errno.h>
#include <string.h>

#include "boottimer.h"
#include "i8042.h"
#include "log.h"
#include "pci.h"
#include "rtc.h"
#include "uart8250.h"
#include "vmm.h"

/* The device models, indexed by enum vmm_dev_id. */
static const struct vmm_dev_ops *const vmm_dev_table[VMM_DEV_COUNT] = {
	[VMM_DEV_UART] = &uart8250_ops,
	[VMM_DEV_I8042] = &i8042_ops,
	[VMM_DEV_BOOTTIMER] = &boottimer_ops,
	[VMM_DEV_PCI] = &pci_host_ops,
	[VMM_DEV_RTC] = &rtc_ops,
};

struct vmm_io_range {
	enum vmm_space space;
	uint64_t base;
	uint64_t len;
	enum vmm_dev_id dev;
	/* NULL: dev's own ops; else these, on dev's state and lock. */
	const struct vmm_dev_ops *ops;
};

/* Who answers where. Ranges never overlap. */
static const struct vmm_io_range vmm_io_map[] = {
	{ VMM_SPACE_PIO, I8042_DATA_PORT, I8042_PORT_SPAN, VMM_DEV_I8042, NULL },
	{ VMM_SPACE_PIO, RTC_PORT, RTC_PORT_SPAN, VMM_DEV_RTC, NULL },
	{ VMM_SPACE_PIO, UART8250_COM1_BASE, 8, VMM_DEV_UART, NULL },
	{ VMM_SPACE_PIO, BOOTTIMER_PORT, 1, VMM_DEV_BOOTTIMER, NULL },
	{ VMM_SPACE_PIO, PCI_CONFIG_PORT, PCI_CONFIG_SPAN, VMM_DEV_PCI, NULL },
	{ VMM_SPACE_MMIO, BOOTTIMER_MMIO, BOOTTIMER_MMIO_LEN,
	    VMM_DEV_BOOTTIMER, NULL },
	{ VMM_SPACE_MMIO, PCI_MMIO_BASE, PCI_MMIO_SIZE, VMM_DEV_PCI, &pci_mmio_ops },
};

int
vmm_bus_create(struct vmm *vm)
{
	struct vmm_dev *d;

	for (unsigned i = 0; i < VMM_DEV_COUNT; i++) {
		d = &vm->dev[i];
		d->ops = vmm_dev_table[i];
		pthread_mutex_init(&d->lock, NULL);
		d->state = d->ops->create(&vm->host);
		if (d->state == NULL) {
			log_warn("device %s", d->ops->name);
			return -ENOMEM;
		}
	}
	return 0;
}

void
vmm_bus_destroy(struct vmm *vm)
{
	struct vmm_dev *d;

	for (unsigned i = 0; i < VMM_DEV_COUNT; i++) {
		d = &vm->dev[i];
		if (d->ops == NULL)
			continue;
		if (d->state)
			d->ops->destroy(d->state);
		pthread_mutex_destroy(&d->lock);
		d->state = NULL;
		d->ops = NULL;
	}
}

static const struct vmm_io_range *
vmm_bus_find(enum vmm_space space, uint64_t addr, unsigned len)
{
	const struct vmm_io_range *r;

	for (size_t i = 0; i < sizeof(vmm_io_map) / sizeof(vmm_io_map[0]);
	    i++) {
		r = &vmm_io_map[i];
		if (r->space == space && addr >= r->base &&
		    addr - r->base < r->len && len <= r->len - (addr - r->base))
			return r;
	}
	return NULL;
}

int
vmm_bus_access(struct vmm *vm, enum vmm_space space, uint64_t addr,
    uint8_t *data, unsigned len, int is_write)
{
	const struct vmm_io_range *r = vmm_bus_find(space, addr, len);
	const struct vmm_dev_ops *ops;
	struct vmm_dev *d;

	if (r == NULL || vm->dev[r->dev].state == NULL) {
		if (!is_write)
			memset(data, 0xff, len);
		return 0;
	}
	d = &vm->dev[r->dev];
	ops = r->ops ? r->ops : d->ops;
	pthread_mutex_lock(&d->lock);
	if (is_write)
		ops->write(d->state, addr - r->base, data, len);
	else
		ops->read(d->state, addr - r->base, data, len);
	pthread_mutex_unlock(&d->lock);
	return 1;
}

void
vmm_bus_ctrl_alt_del(struct vmm *vm)
{
	struct vmm_dev *d = &vm->dev[VMM_DEV_I8042];

	pthread_mutex_lock(&d->lock);
	if (d->state)
		i8042_ctrl_alt_del(d->state);
	pthread_mutex_unlock(&d->lock);
}

size_t
vmm_bus_console_input(void *arg, const uint8_t *buf, size_t n)
{
	struct vmm *vm = arg;
	struct vmm_dev *d = &vm->dev[VMM_DEV_UART];
	size_t took;

	if (vmm_is_stopping(vm))
		return n;	/* nobody will read it: discard */
	pthread_mutex_lock(&d->lock);
	took = d->state ? uart8250_receive(d->state, buf, n) : n;
	pthread_mutex_unlock(&d->lock);
	return took;
}
