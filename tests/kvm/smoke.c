/*
 * KVM smoke test on the local /dev/kvm: a real-mode payload of a few
 * instructions prints "OK\n" on COM1, does an MMIO write and an MMIO read
 * whose value it echoes to a test port (a round trip), then asks the i8042
 * for a reset. SKIPs, with the reason, where /dev/kvm is missing.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kvmtest.h"

#define ENTRY     0x1000
#define MEM_SIZE  0x10000	/* 64 KiB of RAM; 0x20000 up is MMIO */
#define MMIO_W    0x20010
#define MMIO_R    0x20020
#define TEST_PORT 0x500
#define MAX_EXITS 64

static const uint8_t payload[] = {
	0xba, 0xf8, 0x03,		/* mov dx, 0x3f8 */
	0xb0, 'O', 0xee,		/* mov al, 'O'; out dx, al */
	0xb0, 'K', 0xee,		/* mov al, 'K'; out dx, al */
	0xb0, '\n', 0xee,		/* mov al, '\n'; out dx, al */
	0xb8, 0x00, 0x20,		/* mov ax, 0x2000 */
	0x8e, 0xc0,			/* mov es, ax */
	0x26, 0xc6, 0x06, 0x10, 0x00, 0xa5, /* mov byte es:[0x10], 0xa5 */
	0x26, 0xa0, 0x20, 0x00,		/* mov al, es:[0x20] */
	0xba, 0x00, 0x05, 0xee,		/* mov dx, 0x500; out dx, al */
	0xb0, 0xfe, 0xe6, 0x64,		/* mov al, 0xfe; out 0x64, al */
	0xf4,				/* hlt (never reached) */
};

struct smoke_seen {
	char serial[16];
	size_t nserial;
	int mmio_write_ok;
	int mmio_read_done;
	int port_value;
	int reset;
	int bad_exit;
};

static void
smoke_io(struct kt_vm *t, struct smoke_seen *s)
{
	struct kvm_run *r = t->run;
	uint8_t *data = (uint8_t *)r + r->io.data_offset;

	if (r->io.direction != KVM_EXIT_IO_OUT || r->io.size != 1) {
		s->bad_exit = 1;
		return;
	}
	if (r->io.port == 0x3f8 && s->nserial < sizeof(s->serial) - 1)
		s->serial[s->nserial++] = (char)data[0];
	else if (r->io.port == TEST_PORT)
		s->port_value = data[0];
	else if (r->io.port == 0x64 && data[0] == 0xfe)
		s->reset = 1;
	else
		s->bad_exit = 1;
}

static void
smoke_mmio(struct kt_vm *t, struct smoke_seen *s)
{
	struct kvm_run *r = t->run;

	if (r->mmio.is_write && r->mmio.phys_addr == MMIO_W &&
	    r->mmio.len == 1 && r->mmio.data[0] == 0xa5) {
		s->mmio_write_ok = 1;
	} else if (!r->mmio.is_write && r->mmio.phys_addr == MMIO_R &&
	    r->mmio.len == 1) {
		r->mmio.data[0] = 0x3c;
		s->mmio_read_done = 1;
	} else {
		s->bad_exit = 1;
	}
}

int
main(void)
{
	struct smoke_seen s;
	struct kt_vm t;
	int err, reason = 0, n;

	setvbuf(stdout, NULL, _IOLBF, 0);
	err = kt_vm_create(&t, MEM_SIZE, ENTRY);
	if (err == -ENOENT || err == -EACCES || err == -ENXIO) {
		kt_skip("kvm: create VM", "/dev/kvm is not usable here");
		return 0;
	}
	if (!kt_check(err == 0, "kvm: create VM and vCPU", "%s",
	    strerror(-err)))
		return kt_status();
	memcpy(t.mem + ENTRY, payload, sizeof(payload));
	memset(&s, 0, sizeof(s));
	s.port_value = -1;
	for (n = 0; n < MAX_EXITS && !s.reset && !s.bad_exit; n++) {
		reason = kt_vm_run(&t);
		if (reason == KVM_EXIT_IO)
			smoke_io(&t, &s);
		else if (reason == KVM_EXIT_MMIO)
			smoke_mmio(&t, &s);
		else
			break;
	}
	kt_check(strcmp(s.serial, "OK\n") == 0, "kvm: serial output",
	    "got '%s' (last exit %d)", s.serial, reason);
	kt_check(s.mmio_write_ok, "kvm: mmio write exit", "last exit %d",
	    reason);
	kt_check(s.mmio_read_done && s.port_value == 0x3c,
	    "kvm: mmio read round trip through a port",
	    "port saw %d", s.port_value);
	kt_check(s.reset && !s.bad_exit, "kvm: i8042 reset ends the guest",
	    "reset=%d bad_exit=%d after %d exits (last %d)", s.reset,
	    s.bad_exit, n, reason);
	kt_vm_destroy(&t);
	return kt_status();
}
