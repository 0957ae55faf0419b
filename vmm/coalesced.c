/*
 * coalesced.c: guest writes that need no exit (KVM_CAP_COALESCED_PIO,
 * Documentation/virt/kvm/api.rst, KVM_REGISTER_COALESCED_MMIO).
 *
 * Every port access that reaches the VMM is an exit to user space and
 * back; inside the nested edge node one costs ~150 us, on the PVM host
 * ~15-30 us. Some guest writes have no effect the guest can see until
 * its next access to the same device: latching an index or address, or
 * sending a byte out of the UART. For those ports KVM appends the write
 * to a ring in a page shared with the VMM (the vCPU mmap's page
 * KVM_CAP_COALESCED_MMIO) and lets the guest run on; the VMM replays the
 * ring, in order, through the device table (bus.c):
 *   - at every exit of any vCPU, before that exit is handled: a read of
 *     the same device (UART LSR/IIR, PCI data port, CMOS data) is always
 *     an exit, so it always sees every write before it;
 *   - from the main thread (vmm.c), every VMM_COALESCED_POLL_MS while it
 *     finds writes, backing off to VMM_COALESCED_IDLE_MS while it finds
 *     none (a VMM in a busy node should not wake 20 times a second for
 *     nothing), so that a guest that writes and then waits without
 *     touching a port (an interrupt-driven UART driver that halts until
 *     THR-empty) is never stuck: its bytes and that interrupt come at
 *     most that late, as from a slow line;
 *   - once more after the vCPUs have stopped, so the last output is kept.
 * When the ring is full KVM exits as usual. One lock serialises the
 * consumers (replaying in ring order); the device locks nest inside it.
 *
 * The ports (each a write with no effect but on the device's own state,
 * read back only through an exit):
 *   0x3f8 (1)   UART THR (DLAB=1: divisor LSB); uart8250.c. Linux's
 *               console writes a byte after polling LSR: half its exits.
 *   0xcf8 (4)   PCI configuration address latch; pci.c. Every config
 *               access is an address write and a data access: half.
 *   0x70 (1)    CMOS index (bit 7 NMI mask, ignored); rtc.c. Half the
 *               clock's accesses.
 * A host without the capability (or a zone it refuses) just exits.
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "log.h"
#include "pci.h"
#include "rtc.h"
#include "uart8250.h"
#include "vmm.h"

static const struct {
	uint64_t port;
	uint32_t len;
} vmm_coalesced_ports[] = {
	{ UART8250_COM1_BASE, 1 },
	{ PCI_CONFIG_PORT, 4 },
	{ RTC_PORT, 1 },
};

#define NZONES (sizeof(vmm_coalesced_ports) / sizeof(vmm_coalesced_ports[0]))
#define RING_MAX(page) (((page) - sizeof(struct kvm_coalesced_mmio_ring)) / \
	sizeof(struct kvm_coalesced_mmio))

void
vmm_coalesced_init(struct vmm *vm)
{
	long page = sysconf(_SC_PAGESIZE);
	int off, n = 0;

	pthread_mutex_init(&vm->cring_lock, NULL);
	vm->cring_init = 1;
	off = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_MMIO);
	if (off <= 0 || ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION,
	    KVM_CAP_COALESCED_PIO) <= 0 || vm->ncpus == 0 || page <= 0 ||
	    ((size_t)off + 1) * (size_t)page > vm->run_size) {
		log_debug("no coalesced port writes on this host");
		return;
	}
	for (size_t i = 0; i < NZONES; i++) {
		struct kvm_coalesced_mmio_zone z = {
			.addr = vmm_coalesced_ports[i].port,
			.size = vmm_coalesced_ports[i].len,
			.pio = 1,
		};

		if (ioctl(vm->vm_fd, KVM_REGISTER_COALESCED_MMIO, &z) < 0)
			log_debug("coalesced port %#llx: %s",
			    (unsigned long long)z.addr, strerror(errno));
		else
			n++;
	}
	if (n == 0)
		return;
	vm->cring_max = (uint32_t)RING_MAX((size_t)page);
	atomic_store_explicit(&vm->cring, (struct kvm_coalesced_mmio_ring *)
	    ((uint8_t *)vm->vcpus[0].run + (size_t)off * (size_t)page),
	    memory_order_release);
}

/* Replay one entry; KVM wrote it, still bound what the bus sees. */
static void
vmm_coalesced_one(struct vmm *vm, const struct kvm_coalesced_mmio *e)
{
	uint8_t data[8];
	unsigned len = e->len;

	if (len == 0 || len > sizeof(data))
		return;
	memcpy(data, e->data, len);
	vmm_bus_access(vm, e->pio ? VMM_SPACE_PIO : VMM_SPACE_MMIO,
	    e->phys_addr, data, len, 1);
	atomic_fetch_add_explicit(&vm->coalesced, 1, memory_order_relaxed);
}

unsigned
vmm_coalesced_drain(struct vmm *vm)
{
	struct kvm_coalesced_mmio_ring *r = atomic_load_explicit(&vm->cring,
	    memory_order_acquire);
	struct kvm_coalesced_mmio e;
	_Atomic uint32_t *first, *last;
	unsigned n = 0;
	uint32_t f;

	if (r == NULL)
		return 0;
	first = (_Atomic uint32_t *)&r->first;
	last = (_Atomic uint32_t *)&r->last;
	/* The common case, without the lock: nothing written. */
	if (atomic_load_explicit(first, memory_order_relaxed) ==
	    atomic_load_explicit(last, memory_order_acquire))
		return 0;
	pthread_mutex_lock(&vm->cring_lock);
	f = atomic_load_explicit(first, memory_order_relaxed);
	while (f != atomic_load_explicit(last, memory_order_acquire)) {
		if (f >= vm->cring_max) {	/* never from KVM: start over */
			f = atomic_load_explicit(last, memory_order_acquire);
			break;
		}
		e = r->coalesced_mmio[f];
		/* Hand the slot back before the device runs (it may take
		 * long: console, interrupts); the copy is ours. */
		f = (f + 1) % vm->cring_max;
		atomic_store_explicit(first, f, memory_order_release);
		vmm_coalesced_one(vm, &e);
		n++;
	}
	atomic_store_explicit(first, f, memory_order_release);
	pthread_mutex_unlock(&vm->cring_lock);
	return n;
}

void
vmm_coalesced_stop(struct vmm *vm)
{
	(void)vmm_coalesced_drain(vm);
	atomic_store_explicit(&vm->cring, NULL, memory_order_release);
	if (vm->cring_init)
		pthread_mutex_destroy(&vm->cring_lock);
	vm->cring_init = 0;
}
