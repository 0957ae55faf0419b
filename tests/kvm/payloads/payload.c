/*
 * payload.c: a tiny PVH guest for drover-vmm's KVM tests. It runs a few
 * hundred instructions (guest kernel mode is emulated at ~2 MIPS on PVM
 * hosts), reports on COM1, and ends with an i8042 reset. The kernel
 * command line picks the test; it may list several:
 *   hello      print a greeting and the command line (always done)
 *   roundtrip  UART scratch register (PIO) and boot-timer (MMIO) echo
 *   boottimer  write Firecracker's boot-complete byte (123) to port 0x440
 *   smp        count CPUs in the MP table, start the APs with INIT/SIPI
 *              through the local APIC, and print the APIC IDs that ran
 *   e820       print the memory map from hvm_start_info
 *   flood      print 120 KiB of text (a console reader that is slow or
 *              gone must not stall the guest)
 *   spin       never end (halt with interrupts off): the host stops it
 *   ctrlaltdel poll the i8042 until Del is pressed (Ctrl+Alt+Del is how
 *              the VMM asks for a shutdown), then reset
 *   pci        probe PCI configuration mechanism #1 and print 00:00.0's
 *              and 00:01.0's vendor/device dword
 *   echo       echo console input in upper case until 'q' arrives
 *   virtio     drive the first virtio-blk disk through PCI, a virtqueue
 *              and MSI-X (virtio.c)
 *   triple     end with a triple fault instead of a reset
 *   load       idle until 'l' on the console, busy until 'k' (the lab's
 *              dd load), until Ctrl+Alt+Del or 'q' (load.c)
 */
#include <stdint.h>

#include "io.h"

struct start_info {		/* hvm_start_info, version 1 */
	uint32_t magic, version, flags, nr_modules;
	uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
	uint32_t memmap_entries, reserved;
};

struct memmap_entry {
	uint64_t addr, size;
	uint32_t type, reserved;
};

#define COM1		0x3f8
#define LAPIC		0xfee00000u
#define AP_PAGE		0x8000u
#define AP_BITMAP	((volatile uint32_t *)0x8100)

extern const char ap_trampoline[], ap_trampoline_end[];
void payload_main(const struct start_info *si);

void putc_(char c);
void puts_(const char *s);
void puthex(uint64_t v);
void virtio_test(void);
void load_test(void);

void
putc_(char c)
{
	while (!(inb(COM1 + 5) & 0x20))	/* LSR: THR empty */
		;
	outb(COM1, (uint8_t)c);
}

void
puts_(const char *s)
{
	while (*s)
		putc_(*s++);
}

void
puthex(uint64_t v)
{
	int started = 0;

	puts_("0x");
	for (int sh = 60; sh >= 0; sh -= 4) {
		unsigned d = (unsigned)(v >> sh) & 0xf;
		if (d || started || sh == 0) {
			putc_((char)(d < 10 ? '0' + d : 'a' + d - 10));
			started = 1;
		}
	}
}

static int
has_word(const char *s, const char *w)
{
	for (; s && *s; s++) {
		const char *a = s, *b = w;

		while (*b && *a == *b)
			a++, b++;
		if (*b == 0 && (*a == 0 || *a == ' ') &&
		    (s[-1] == ' ' || s[-1] == '\0'))
			return 1;
		while (*s && *s != ' ')
			s++;
		if (!*s)
			break;
	}
	return 0;
}

static void
roundtrip(void)
{
	volatile uint8_t *bt = (volatile uint8_t *)0xd0000000u;

	outb(COM1 + 7, 0x5a);
	puts_(inb(COM1 + 7) == 0x5a ? "pio roundtrip ok\n" :
	    "pio roundtrip BAD\n");
	*bt = 0xa7;
	puts_(*bt == 0xa7 ? "mmio roundtrip ok\n" : "mmio roundtrip BAD\n");
}

/* MP spec 4.1/4.2: floating pointer at 639 KiB, then the config table. */
static unsigned
mptable_cpus(void)
{
	const uint8_t *fp = (const uint8_t *)0x9fc00, *cfg, *p;
	unsigned n = 0, count;

	if (fp[0] != '_' || fp[1] != 'M' || fp[2] != 'P' || fp[3] != '_')
		return 0;
	cfg = (const uint8_t *)*(const uint32_t *)(fp + 4);
	count = *(const uint16_t *)(cfg + 34);
	p = cfg + 44;
	for (unsigned i = 0; i < count; i++) {
		if (p[0] == 0) {
			n++;
			p += 20;
		} else {
			p += 8;
		}
	}
	return n;
}

static void
lapic_write(unsigned reg, uint32_t v)
{
	*(volatile uint32_t *)(LAPIC + reg) = v;
}

static void
smp(void)
{
	unsigned cpus = mptable_cpus(), ebx, eax = 1, ecx = 0, edx;
	const char *s = ap_trampoline;
	uint8_t *d = (uint8_t *)AP_PAGE;
	uint32_t want = (cpus >= 32) ? 0xffffffffu : (1u << cpus) - 1;

	puts_("mptable cpus ");
	puthex(cpus);
	putc_('\n');
	while (s < ap_trampoline_end)
		*d++ = (uint8_t)*s++;
	*AP_BITMAP = 0;
	__asm__ volatile("cpuid" : "+a"(eax), "=b"(ebx), "+c"(ecx), "=d"(edx));
	__asm__ volatile("lock btsl %1, %0" : "+m"(*AP_BITMAP) : "r"(ebx >> 24));
	lapic_write(0xf0, 0x1ff);		/* SVR: APIC software-enabled */
	lapic_write(0x310, 0);
	lapic_write(0x300, 0x000c4500);	/* INIT, all excluding self */
	lapic_write(0x300, 0x000c4600 | (AP_PAGE >> 12));	/* SIPI */
	lapic_write(0x300, 0x000c4600 | (AP_PAGE >> 12));	/* again (MP spec B.4) */
	for (unsigned spin = 0; spin < 2000000 && *AP_BITMAP != want; spin++)
		__asm__ volatile("pause");
	puts_("smp apic mask ");
	puthex(*AP_BITMAP);
	puts_(*AP_BITMAP == want ? " all cpus ran\n" : " MISSING cpus\n");
}

static void
e820(const struct start_info *si)
{
	const struct memmap_entry *m =
	    (const struct memmap_entry *)(uintptr_t)si->memmap_paddr;

	for (uint32_t i = 0; i < si->memmap_entries && i < 16; i++) {
		puts_("e820 ");
		puthex(m[i].addr);
		putc_(' ');
		puthex(m[i].size);
		putc_(' ');
		puthex(m[i].type);
		putc_('\n');
	}
}

/* 2048 lines of 60 bytes, more than a pipe buffer (64 KiB) holds;
 * straight to THR, without polling LSR, to halve the exits. */
static void
flood(void)
{
	static const char line[] =
	    "flood flood flood flood flood flood flood flood flood flood\n";

	for (unsigned n = 0; n < 2048; n++)
		for (const char *p = line; *p; p++)
			outb(COM1, (uint8_t)*p);
}

/* Bytes straight to THR (no LSR poll, so no exit when the VMM coalesces
 * THR writes), then halt with interrupts off: no exit ever again. The
 * VMM's periodic replay must still show them. */
static void
quiet(void)
{
	for (const char *p = "quiet: queued\n"; *p; p++)
		outb(COM1, (uint8_t)*p);
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* Poll the keyboard controller; Del's make code is 0x53 in scan code
 * set 1 (translation on, our default) and 0x71 in set 2. */
static void
wait_ctrl_alt_del(void)
{
	uint8_t b = 0;

	puts_("waiting for ctrl-alt-del\n");
	while (b != 0x53 && b != 0x71) {
		if (inb(0x64) & 1)
			b = inb(0x60);
		else
			__asm__ volatile("pause");
	}
	puts_("ctrl-alt-del received\n");
}

static void
pci(void)
{
	outl(0xcf8, 0x80000000);
	puts_(inl(0xcf8) == 0x80000000 ? "pci conf1 ok\n" : "pci conf1 BAD\n");
	puts_("pci 00:00.0 ");
	puthex(inl(0xcfc));
	outl(0xcf8, 0x80000800);
	puts_("\npci 00:01.0 ");
	puthex(inl(0xcfc));
	putc_('\n');
}

static void
echo(void)
{
	char ch;

	puts_("echo ready\n");
	for (;;) {
		while (!(inb(COM1 + 5) & 1))	/* LSR: data ready */
			__asm__ volatile("pause");
		ch = (char)inb(COM1);
		if (ch == 'q')
			break;
		if (ch >= 'a' && ch <= 'z')
			ch = (char)(ch - 'a' + 'A');
		putc_(ch);
	}
}

static void
triple_fault(void)
{
	static const struct { uint16_t limit; uint32_t base; }
	    __attribute__((packed)) idt = { 0, 0 };

	__asm__ volatile("lidt %0; int3" : : "m"(idt));
}

void
payload_main(const struct start_info *si)
{
	const char *cmdline = "";

	puts_("hello from pvh\n");
	if (si->magic != 0x336ec578) {
		puts_("bad start_info magic\n");
	} else if (si->cmdline_paddr) {
		cmdline = (const char *)(uintptr_t)si->cmdline_paddr;
		puts_("cmdline: ");
		puts_(cmdline);
		putc_('\n');
	}
	if (has_word(cmdline, "roundtrip"))
		roundtrip();
	if (has_word(cmdline, "e820"))
		e820(si);
	if (has_word(cmdline, "smp"))
		smp();
	if (has_word(cmdline, "boottimer"))
		outb(0x440, 123);
	if (has_word(cmdline, "flood"))
		flood();
	if (has_word(cmdline, "quiet"))
		quiet();
	if (has_word(cmdline, "ctrlaltdel"))
		wait_ctrl_alt_del();
	if (has_word(cmdline, "echo"))
		echo();
	if (has_word(cmdline, "pci"))
		pci();
	if (has_word(cmdline, "virtio"))
		virtio_test();
	if (has_word(cmdline, "load"))
		load_test();
	puts_("bye\n");
	if (has_word(cmdline, "spin"))
		for (;;)
			__asm__ volatile("cli; hlt");
	if (has_word(cmdline, "triple"))
		triple_fault();
	outb(0x64, 0xfe);		/* i8042: pulse the reset line */
	for (;;)
		__asm__ volatile("hlt");
}
