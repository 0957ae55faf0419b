/*
 * Unit tests: device models driven like a guest driver would, through
 * their ops with a fake host (no KVM): the 16550 UART, the i8042, the
 * boot timer, and the console ring buffer with a reader that never reads.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "boottimer.h"
#include "console.h"
#include "exitcode.h"
#include "i8042.h"
#include "pci.h"
#include "uart8250.h"

struct fake {
	int irq[16];
	int irq_changes;
	uint8_t out[256];
	size_t nout;
	int exit_code;
	int exits;
};

static void
fake_irq(void *arg, unsigned irq, int level)
{
	struct fake *f = arg;

	f->irq[irq & 15] = level;
	f->irq_changes++;
}

static void
fake_out(void *arg, const uint8_t *b, size_t n)
{
	struct fake *f = arg;

	while (n-- && f->nout < sizeof(f->out))
		f->out[f->nout++] = *b++;
}

static void
fake_exit(void *arg, int code, const char *why)
{
	struct fake *f = arg;

	(void)why;
	f->exit_code = code;
	f->exits++;
}

static struct vmm_dev_host
fake_host(struct fake *f)
{
	struct vmm_dev_host h = { .arg = f, .irq_line = fake_irq,
	    .console_out = fake_out, .request_exit = fake_exit };

	memset(f, 0, sizeof(*f));
	f->exit_code = -1;
	clock_gettime(CLOCK_MONOTONIC, &h.start);
	return h;
}

static uint8_t
rd(const struct vmm_dev_ops *ops, void *d, uint64_t off)
{
	uint8_t v[4];

	ops->read(d, off, v, 1);
	return v[0];
}

static void
wr(const struct vmm_dev_ops *ops, void *d, uint64_t off, uint8_t v)
{
	ops->write(d, off, &v, 1);
}

/* ---- UART --------------------------------------------------------------- */

static void
test_uart_tx(void **state)
{
	struct fake f;
	struct vmm_dev_host h = fake_host(&f);
	void *u = uart8250_ops.create(&h);

	(void)state;
	assert_int_equal(rd(&uart8250_ops, u, 5) & 0x60, 0x60);	/* THRE|TEMT */
	wr(&uart8250_ops, u, 0, 'h');
	wr(&uart8250_ops, u, 0, 'i');
	assert_int_equal(f.nout, 2);
	assert_memory_equal(f.out, "hi", 2);
	/* scratch register round trip */
	wr(&uart8250_ops, u, 7, 0x5a);
	assert_int_equal(rd(&uart8250_ops, u, 7), 0x5a);
	/* divisor latch: DLAB hides THR and IER */
	wr(&uart8250_ops, u, 3, 0x80);
	wr(&uart8250_ops, u, 0, 0x01);
	wr(&uart8250_ops, u, 1, 0x00);
	assert_int_equal(rd(&uart8250_ops, u, 0), 0x01);
	assert_int_equal(f.nout, 2);	/* nothing sent */
	wr(&uart8250_ops, u, 3, 0x03);
	/* out-of-range offsets and odd sizes are harmless */
	{
		uint8_t big[8] = { 0 };

		uart8250_ops.read(u, 8, big, 4);
		assert_int_equal(big[0], 0xff);
		uart8250_ops.write(u, 1000, big, 8);
		uart8250_ops.read(u, 0, big, 0);
	}
	uart8250_ops.destroy(u);
}

static void
test_uart_thre_irq(void **state)
{
	struct fake f;
	struct vmm_dev_host h = fake_host(&f);
	void *u = uart8250_ops.create(&h);

	(void)state;
	assert_int_equal(rd(&uart8250_ops, u, 2) & 0x0f, 0x01);	/* none */
	wr(&uart8250_ops, u, 1, 0x02);		/* enable THRI */
	assert_int_equal(f.irq[4], 1);
	assert_int_equal(rd(&uart8250_ops, u, 2) & 0x0f, 0x02);
	assert_int_equal(f.irq[4], 0);		/* IIR read acknowledged it */
	wr(&uart8250_ops, u, 0, 'x');		/* sent: THR empty again */
	assert_int_equal(f.irq[4], 1);
	wr(&uart8250_ops, u, 1, 0x00);
	assert_int_equal(f.irq[4], 0);
	uart8250_ops.destroy(u);
}

static void
test_uart_rx(void **state)
{
	struct fake f;
	struct vmm_dev_host h = fake_host(&f);
	struct uart8250 *u = uart8250_ops.create(&h);
	uint8_t big[UART8250_RX_BUF + 10];

	(void)state;
	wr(&uart8250_ops, u, 1, 0x01);		/* enable RDI */
	assert_int_equal(f.irq[4], 0);
	assert_int_equal(uart8250_receive(u, (const uint8_t *)"ab", 2), 2);
	assert_int_equal(f.irq[4], 1);
	assert_int_equal(rd(&uart8250_ops, u, 5) & 1, 1);	/* DR */
	assert_int_equal(rd(&uart8250_ops, u, 2) & 0x0f, 0x04);
	assert_int_equal(rd(&uart8250_ops, u, 0), 'a');
	assert_int_equal(rd(&uart8250_ops, u, 0), 'b');
	assert_int_equal(rd(&uart8250_ops, u, 5) & 1, 0);
	assert_int_equal(f.irq[4], 0);
	assert_int_equal(rd(&uart8250_ops, u, 0), 0);	/* empty: no crash */
	/* the buffer takes what fits and says so */
	memset(big, 'z', sizeof(big));
	assert_int_equal(uart8250_receive(u, big, sizeof(big)),
	    UART8250_RX_BUF);
	assert_int_equal(uart8250_rx_space(u), 0);
	assert_int_equal(uart8250_receive(u, big, 1), 0);
	wr(&uart8250_ops, u, 2, 0x03);		/* FCR: enable, clear RX */
	assert_int_equal(uart8250_rx_space(u), UART8250_RX_BUF);
	assert_int_equal(rd(&uart8250_ops, u, 2) & 0xc0, 0xc0);
	uart8250_ops.destroy(u);
}

static void
test_uart_loopback(void **state)
{
	struct fake f;
	struct vmm_dev_host h = fake_host(&f);
	void *u = uart8250_ops.create(&h);

	(void)state;
	wr(&uart8250_ops, u, 4, 0x10 | 0x03);	/* LOOP, DTR, RTS */
	assert_int_equal(rd(&uart8250_ops, u, 6) & 0xf0, 0x30);	/* DSR CTS */
	wr(&uart8250_ops, u, 0, 0x42);
	assert_int_equal(f.nout, 0);		/* not on the console */
	assert_int_equal(rd(&uart8250_ops, u, 0), 0x42);
	uart8250_ops.destroy(u);
}

/* ---- i8042 -------------------------------------------------------------- */

static void
test_i8042(void **state)
{
	struct fake f;
	struct vmm_dev_host h = fake_host(&f);
	void *k = i8042_ops.create(&h);

	(void)state;
	assert_int_equal(rd(&i8042_ops, k, 4) & 1, 0);
	wr(&i8042_ops, k, 4, 0xaa);		/* self test */
	assert_int_equal(rd(&i8042_ops, k, 4) & 1, 1);
	assert_int_equal(rd(&i8042_ops, k, 0), 0x55);
	wr(&i8042_ops, k, 4, 0x60);		/* write CTR */
	wr(&i8042_ops, k, 0, 0x00);		/* interrupts off */
	wr(&i8042_ops, k, 4, 0x20);
	assert_int_equal(rd(&i8042_ops, k, 0), 0x00);
	wr(&i8042_ops, k, 0, 0xff);		/* keyboard reset */
	assert_int_equal(rd(&i8042_ops, k, 0), 0xfa);
	assert_int_equal(rd(&i8042_ops, k, 0), 0xaa);
	assert_int_equal(f.exits, 0);
	wr(&i8042_ops, k, 4, 0xd1);		/* write output port ... */
	wr(&i8042_ops, k, 0, 0x03);		/* ... reset bit high: nothing */
	assert_int_equal(f.exits, 0);
	wr(&i8042_ops, k, 4, 0xfe);		/* pulse reset */
	assert_int_equal(f.exits, 1);
	assert_int_equal(f.exit_code, VMM_EXIT_REBOOT);
	wr(&i8042_ops, k, 4, 0xd1);
	wr(&i8042_ops, k, 0, 0x02);		/* reset bit low */
	assert_int_equal(f.exits, 2);
	/* a full output queue drops, never overflows */
	for (int i = 0; i < 100; i++)
		wr(&i8042_ops, k, 4, 0xaa);
	i8042_ops.destroy(k);
}

static void
test_i8042_irq(void **state)
{
	struct fake f;
	struct vmm_dev_host h = fake_host(&f);
	void *k = i8042_ops.create(&h);

	(void)state;
	wr(&i8042_ops, k, 0, 0xf4);		/* keyboard command: ACK */
	assert_int_equal(f.irq[1], 1);
	assert_int_equal(rd(&i8042_ops, k, 0), 0xfa);
	assert_int_equal(f.irq[1], 0);
	i8042_ops.destroy(k);
}

static void
test_i8042_ctrl_alt_del(void **state)
{
	static const uint8_t set1[] = { 0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3,
	    0xb8, 0x9d };
	static const uint8_t set2[] = { 0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0,
	    0x71, 0xf0, 0x11, 0xf0, 0x14 };
	struct fake f;
	struct vmm_dev_host h = fake_host(&f);
	struct i8042 *k = i8042_ops.create(&h);

	(void)state;
	i8042_ctrl_alt_del(k);		/* translation on: set 1 */
	assert_int_equal(f.irq[1], 1);
	for (size_t i = 0; i < sizeof(set1); i++) {
		/* One rising edge per byte: the line drops on every read
		 * and rises again while bytes are left (IRQ 1 is edge). */
		int before = f.irq_changes;

		assert_int_equal(f.irq[1], 1);
		assert_int_equal(rd(&i8042_ops, k, 0), set1[i]);
		assert_int_equal(f.irq_changes - before,
		    i + 1 < sizeof(set1) ? 2 : 1);
	}
	assert_int_equal(rd(&i8042_ops, k, 4) & 1, 0);
	assert_int_equal(f.irq[1], 0);
	wr(&i8042_ops, k, 4, 0x60);
	wr(&i8042_ops, k, 0, 0x01);	/* translation off: set 2 */
	i8042_ctrl_alt_del(k);
	for (size_t i = 0; i < sizeof(set2); i++)
		assert_int_equal(rd(&i8042_ops, k, 0), set2[i]);
	i8042_ops.destroy(k);
}

/* ---- PCI host bridge ---------------------------------------------------- */

static uint32_t
cfg_read32(void *h, uint32_t addr)
{
	uint32_t v;

	pci_host_ops.write(h, 0, (const uint8_t *)&addr, 4);
	pci_host_ops.read(h, 4, (uint8_t *)&v, 4);
	return v;
}

static void
cfg_write32(void *h, uint32_t addr, uint32_t v)
{
	pci_host_ops.write(h, 0, (const uint8_t *)&addr, 4);
	pci_host_ops.write(h, 4, (const uint8_t *)&v, 4);
}

static void
test_pci(void **state)
{
	struct fake f;
	struct vmm_dev_host hst = fake_host(&f);
	void *h = pci_host_ops.create(&hst);
	struct pci_function fn;
	uint32_t v = 0;
	uint16_t w = 0;

	(void)state;
	/* Linux's type-1 probe: the latch reads back. */
	cfg_write32(h, 0x80000000, 0);
	pci_host_ops.read(h, 0, (uint8_t *)&v, 4);
	assert_int_equal(v, 0x80000000);
	assert_int_equal(cfg_read32(h, 0x80000000), 0x12378086);
	assert_int_equal(cfg_read32(h, 0x80000008) >> 8, 0x060000);
	assert_int_equal(cfg_read32(h, 0x80000800), 0xffffffff); /* 00:01.0 */
	assert_int_equal(cfg_read32(h, 0x00000000), 0xffffffff); /* disabled */
	assert_int_equal(cfg_read32(h, 0x80010000), 0xffffffff); /* bus 1 */
	assert_int_equal(cfg_read32(h, 0x80000100), 0xffffffff); /* fn 1 */
	/* read-only IDs stay; the command register's enables change */
	cfg_write32(h, 0x80000000, 0);
	assert_int_equal(cfg_read32(h, 0x80000000), 0x12378086);
	cfg_write32(h, 0x80000004, 0xffffffff);
	assert_int_equal(cfg_read32(h, 0x80000004) & 0xffff, 0x0007);
	/* a 16-bit read at 0xcfe: bytes 2-3 of the dword */
	pci_host_ops.write(h, 0, (const uint8_t *)&(uint32_t){ 0x80000000 }, 4);
	pci_host_ops.read(h, 6, (uint8_t *)&w, 2);
	assert_int_equal(w, 0x1237);
	/* widths that cross the window are refused (all ones) */
	v = 0;
	pci_host_ops.read(h, 6, (uint8_t *)&v, 4);
	assert_int_equal(v, 0xffffffff);
	/* BAR sizing on an added device */
	memset(&fn, 0, sizeof(fn));
	fn.cfg[0] = 0xf4;
	fn.cfg[1] = 0x1a;
	fn.wmask[0x10] = 0x00;		/* 4 KiB memory BAR: bits 31:12 */
	fn.wmask[0x11] = 0xf0;
	fn.wmask[0x12] = 0xff;
	fn.wmask[0x13] = 0xff;
	assert_int_equal(pci_add_device(h, 3, &fn), 0);
	assert_int_equal(pci_add_device(h, 3, &fn), -EBUSY);
	assert_int_equal(pci_add_device(h, 0, &fn), -EINVAL);
	assert_int_equal(pci_add_device(h, 32, &fn), -EINVAL);
	cfg_write32(h, 0x80001810, 0xffffffff);
	assert_int_equal(cfg_read32(h, 0x80001810), 0xfffff000);
	assert_non_null(pci_get_function(h, 3));
	assert_null(pci_get_function(h, 4));
	/* byte writes to 0xcf8-0xcfb do not move the latch */
	pci_host_ops.write(h, 3, (const uint8_t *)"\x01", 1);
	pci_host_ops.read(h, 0, (uint8_t *)&v, 4);
	assert_int_equal(v, 0x80001810);
	pci_host_ops.destroy(h);
}

/* ---- boot timer --------------------------------------------------------- */

static void
test_boottimer(void **state)
{
	struct fake f;
	struct vmm_dev_host h = fake_host(&f);
	void *bt = boottimer_ops.create(&h);

	(void)state;
	wr(&boottimer_ops, bt, 0, BOOTTIMER_MAGIC);
	assert_int_equal(rd(&boottimer_ops, bt, 0), BOOTTIMER_MAGIC);
	assert_int_equal(rd(&boottimer_ops, bt, 8), 0);
	assert_true(boottimer_since_ms(&h.start) >= 0.0);
	boottimer_ops.destroy(bt);
}

/* ---- console -------------------------------------------------------------- */

static void
test_console_ring(void **state)
{
	int p[2];
	struct console *c;
	uint8_t chunk[4096], hist[16];
	ssize_t n;
	size_t total = 0;

	(void)state;
	assert_int_equal(pipe(p), 0);
	c = console_open(p[1], -1, NULL, NULL);
	assert_non_null(c);
	/* 1 MiB into a pipe nobody reads: must return at once, every time. */
	for (int i = 0; i < 256; i++) {
		memset(chunk, 'a' + i % 26, sizeof(chunk));
		console_write(c, chunk, sizeof(chunk));
	}
	console_write(c, (const uint8_t *)"THE END", 7);
	assert_int_equal(console_history(c, hist, 7), 7);
	assert_memory_equal(hist, "THE END", 7);
	/* Now read it all: the writer catches up, skipping what it lost. */
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	for (int idle = 0; idle < 200;) {
		n = read(p[0], chunk, sizeof(chunk));
		if (n > 0) {
			total += (size_t)n;
			idle = 0;
		} else {
			usleep(5000);
			idle++;
		}
	}
	assert_true(total < 256 * 4096);
	assert_true(total >= CONSOLE_RING);
	assert_true(console_dropped(c) > 0);
	assert_int_equal(console_close(c, 1000), 1);
	close(p[0]);
	close(p[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uart_tx),
		cmocka_unit_test(test_uart_thre_irq),
		cmocka_unit_test(test_uart_rx),
		cmocka_unit_test(test_uart_loopback),
		cmocka_unit_test(test_i8042),
		cmocka_unit_test(test_i8042_irq),
		cmocka_unit_test(test_i8042_ctrl_alt_del),
		cmocka_unit_test(test_boottimer),
		cmocka_unit_test(test_pci),
		cmocka_unit_test(test_console_ring),
	};

	return cmocka_run_group_tests_name("vmm_devices", tests, NULL, NULL);
}
