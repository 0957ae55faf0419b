/*
 * load.c: the payload's "load" test, the lab's `load() { dd if=/dev/zero
 * of=/dev/null & }; load; read; killall dd` in a guest, for the HPA tests:
 * idle (sti; hlt: no CPU used) until 'l' arrives on the console, then
 * busy (the vCPU never halts) until 'k', idle again, and so on. The
 * guest wakes from hlt through interrupts: COM1's receive interrupt
 * (IRQ 4) and the keyboard controller's (IRQ 1), through the 8259 PIC
 * and the local APIC's LINT0 (ExtINT). Ctrl+Alt+Del (how the VMM asks
 * for a shutdown; Del's make code 0x53 in set 1, 0x71 in set 2) or 'q'
 * end the test. Each change is printed: "load: idle", "load: busy",
 * "load: done".
 */
#include <stdint.h>

#include "io.h"

#define COM1		0x3f8
#define PIC1		0x20
#define PIC2		0xa0
#define PIC_BASE	0x20		/* vectors of IRQ 0..15 */
#define LAPIC		0xfee00000u
#define BURN_LOOPS	20000		/* between two looks at the devices */

void putc_(char c);
void puts_(const char *s);
void load_test(void);
void load_irq(void);
void load_ignore(void);

struct load_desc {
	uint16_t limit;
	uint32_t base;
} __attribute__((packed));

struct load_gate {
	uint16_t off_lo, sel;
	uint8_t zero, type;
	uint16_t off_hi;
} __attribute__((packed));

/* Flat 32-bit code (0x08) and data (0x10): the PVH entry's segments
 * have no descriptor table in memory, and an interrupt reloads CS. */
static const uint64_t load_gdt[3] __attribute__((aligned(8))) = {
	0, 0x00cf9a000000ffffull, 0x00cf92000000ffffull,
};
static struct load_gate load_idt[256] __attribute__((aligned(8)));

/*
 * The PICs' vectors: end of interrupt to both, then back. Not with iret:
 * PVM emulates guest kernel mode with KVM's instruction emulator, which
 * has no protected-mode IRET (an emulation failure). The frame (EIP, CS,
 * EFLAGS) is rewritten into (EFLAGS, EIP) for popfl; ret.
 */
__asm__(
	".text\n"
	".globl load_irq\n"
	"load_irq:\n"
	"	pushl %eax\n"
	"	movb $0x20, %al\n"
	"	outb %al, $0xa0\n"
	"	outb %al, $0x20\n"
	"	jmp 1f\n"
	".globl load_ignore\n"
	"load_ignore:\n"
	"	pushl %eax\n"
	"1:	movl 4(%esp), %eax\n"		/* EIP */
	"	xchgl 12(%esp), %eax\n"	/* EIP where EFLAGS was */
	"	movl %eax, 8(%esp)\n"		/* EFLAGS where CS was */
	"	popl %eax\n"
	"	addl $4, %esp\n"
	"	popfl\n"
	"	ret\n");

static void
load_gate_set(unsigned v, void (*fn)(void))
{
	uint32_t a = (uint32_t)(uintptr_t)fn;

	load_idt[v].off_lo = (uint16_t)a;
	load_idt[v].sel = 0x08;
	load_idt[v].zero = 0;
	load_idt[v].type = 0x8e;	/* present, 32-bit interrupt gate */
	load_idt[v].off_hi = (uint16_t)(a >> 16);
}

static void
load_setup(void)
{
	struct load_desc g = { sizeof(load_gdt) - 1,
	    (uint32_t)(uintptr_t)load_gdt };
	struct load_desc i = { sizeof(load_idt) - 1,
	    (uint32_t)(uintptr_t)load_idt };

	__asm__ volatile("lgdt %0\n\t"
	    "ljmp $0x08, $1f\n"
	    "1:\tmovw $0x10, %%ax\n\t"
	    "movw %%ax, %%ds\n\tmovw %%ax, %%es\n\tmovw %%ax, %%ss\n\t"
	    "movw %%ax, %%fs\n\tmovw %%ax, %%gs"
	    : : "m"(g) : "eax", "memory");
	for (unsigned v = 0; v < 256; v++)
		load_gate_set(v, v >= PIC_BASE && v < PIC_BASE + 16 ?
		    load_irq : load_ignore);
	__asm__ volatile("lidt %0" : : "m"(i));
	/* 8259 pair: edge triggered, cascaded, vectors 0x20/0x28, 8086
	 * mode; only IRQ 1 (keyboard) and IRQ 4 (COM1) unmasked. */
	outb(PIC1, 0x11);
	outb(PIC2, 0x11);
	outb(PIC1 + 1, PIC_BASE);
	outb(PIC2 + 1, PIC_BASE + 8);
	outb(PIC1 + 1, 0x04);
	outb(PIC2 + 1, 0x02);
	outb(PIC1 + 1, 0x01);
	outb(PIC2 + 1, 0x01);
	outb(PIC1 + 1, (uint8_t)~((1u << 1) | (1u << 4)));
	outb(PIC2 + 1, 0xff);
	/* Local APIC enabled, LINT0 takes the PIC's interrupts (ExtINT). */
	*(volatile uint32_t *)(LAPIC + 0xf0) = 0x1ff;
	*(volatile uint32_t *)(LAPIC + 0x350) = 0x700;
	/* COM1: receive interrupt on, OUT2 (the PC's IRQ gate) on. */
	outb(COM1 + 1, 0x01);
	outb(COM1 + 4, 0x0b);
	/* The keyboard controller: its interrupt on (command byte bit 0). */
	outb(0x64, 0x20);
	while (!(inb(0x64) & 1))
		;
	{
		uint8_t cb = inb(0x60);

		outb(0x64, 0x60);
		outb(0x60, (uint8_t)(cb | 0x01));
	}
}

/* Was Del pressed (Ctrl+Alt+Del from the VMM)? Reads what is queued. */
static int
load_del(void)
{
	while (inb(0x64) & 1) {
		uint8_t b = inb(0x60);

		if (b == 0x53 || b == 0x71)
			return 1;
	}
	return 0;
}

void
load_test(void)
{
	int busy = 0, c;

	load_setup();
	puts_("load: idle\n");
	for (;;) {
		/* Look with interrupts off, then sti; hlt (one instruction
		 * apart: an interrupt raised after the look still wakes). */
		__asm__ volatile("cli");
		if (load_del())
			break;
		c = (inb(COM1 + 5) & 1) ? inb(COM1) : -1;
		if (c < 0) {
			if (!busy) {
				__asm__ volatile("sti; hlt");
				continue;
			}
			__asm__ volatile("sti");
			for (volatile unsigned n = 0; n < BURN_LOOPS; n++)
				;
			continue;
		}
		__asm__ volatile("sti");
		if (c == 'q')
			break;
		if (c == 'l' && !busy)
			puts_("load: busy\n");
		else if (c == 'k' && busy)
			puts_("load: idle\n");
		busy = c == 'l' ? 1 : c == 'k' ? 0 : busy;
	}
	__asm__ volatile("cli");
	puts_("load: done\n");
}
