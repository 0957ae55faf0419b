/*
 * uart8250.c: the 16550A model (see uart8250.h). Register numbers and bits
 * follow the PC16550D data sheet, table II ("Register Addresses") and
 * table IV ("Interrupt Control Functions").
 */
#include "uart8250.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum {
	UART_RBR_THR = 0,	/* DLAB=1: divisor latch LSB */
	UART_IER = 1,		/* DLAB=1: divisor latch MSB */
	UART_IIR_FCR = 2,
	UART_LCR = 3,
	UART_MCR = 4,
	UART_LSR = 5,
	UART_MSR = 6,
	UART_SCR = 7,
	UART_NREGS = 8,
};

#define IER_RDI		0x01	/* received data available */
#define IER_THRI	0x02	/* transmitter holding register empty */
#define IER_MASK	0x0f
#define IIR_NONE	0x01
#define IIR_THRI	0x02
#define IIR_RDI		0x04
#define IIR_FIFO	0xc0	/* FIFOs enabled */
#define FCR_ENABLE	0x01
#define FCR_CLEAR_RX	0x02
#define LCR_DLAB	0x80
#define MCR_MASK	0x1f
#define MCR_DTR		0x01
#define MCR_RTS		0x02
#define MCR_OUT1	0x04
#define MCR_OUT2	0x08
#define MCR_LOOP	0x10
#define LSR_DR		0x01
#define LSR_THRE	0x20
#define LSR_TEMT	0x40
#define MSR_CTS		0x10
#define MSR_DSR		0x20
#define MSR_RI		0x40
#define MSR_DCD		0x80

struct uart8250 {
	struct vmm_dev_host host;
	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
	int thre_pending;	/* THR-empty interrupt not yet acknowledged */
	int irq_level;
	uint8_t rx[UART8250_RX_BUF];
	size_t rx_head, rx_len;
};

static void
uart_update_irq(struct uart8250 *u)
{
	int level = ((u->ier & IER_RDI) && u->rx_len) ||
	    ((u->ier & IER_THRI) && u->thre_pending);

	if (level != u->irq_level) {
		u->irq_level = level;
		if (u->host.irq_line)
			u->host.irq_line(u->host.arg, UART8250_COM1_IRQ, level);
	}
}

static void
uart_rx_push(struct uart8250 *u, uint8_t b)
{
	if (u->rx_len == UART8250_RX_BUF)
		return;		/* overrun: the byte is lost, as on hardware */
	u->rx[(u->rx_head + u->rx_len) % UART8250_RX_BUF] = b;
	u->rx_len++;
}

static uint8_t
uart_rx_pop(struct uart8250 *u)
{
	uint8_t b;

	if (u->rx_len == 0)
		return 0;
	b = u->rx[u->rx_head];
	u->rx_head = (u->rx_head + 1) % UART8250_RX_BUF;
	u->rx_len--;
	return b;
}

size_t
uart8250_receive(struct uart8250 *u, const uint8_t *buf, size_t len)
{
	size_t n = 0;

	while (n < len && u->rx_len < UART8250_RX_BUF)
		uart_rx_push(u, buf[n++]);
	uart_update_irq(u);
	return n;
}

size_t
uart8250_rx_space(const struct uart8250 *u)
{
	return UART8250_RX_BUF - u->rx_len;
}

static void
uart_transmit(struct uart8250 *u, uint8_t b)
{
	if (u->mcr & MCR_LOOP)
		uart_rx_push(u, b);	/* loopback: back to our own RBR */
	else if (u->host.console_out)
		u->host.console_out(u->host.arg, &b, 1);
	u->thre_pending = 1;		/* sent at once: THR is empty again */
}

/* IIR: the highest-priority pending interrupt; reading it acknowledges
 * a THR-empty interrupt (data sheet, table IV, "reset control"). */
static uint8_t
uart_read_iir(struct uart8250 *u)
{
	uint8_t fifo = (u->fcr & FCR_ENABLE) ? IIR_FIFO : 0;

	if ((u->ier & IER_RDI) && u->rx_len)
		return fifo | IIR_RDI;
	if ((u->ier & IER_THRI) && u->thre_pending) {
		u->thre_pending = 0;
		uart_update_irq(u);
		return fifo | IIR_THRI;
	}
	return fifo | IIR_NONE;
}

static uint8_t
uart_read_msr(const struct uart8250 *u)
{
	uint8_t msr = 0;

	if (!(u->mcr & MCR_LOOP))
		return MSR_DCD | MSR_DSR | MSR_CTS;	/* a cable, always ready */
	/* Loopback wires the modem outputs to the inputs. */
	if (u->mcr & MCR_DTR)
		msr |= MSR_DSR;
	if (u->mcr & MCR_RTS)
		msr |= MSR_CTS;
	if (u->mcr & MCR_OUT1)
		msr |= MSR_RI;
	if (u->mcr & MCR_OUT2)
		msr |= MSR_DCD;
	return msr;
}

static uint8_t
uart_read_reg(struct uart8250 *u, unsigned reg)
{
	uint8_t v;

	switch (reg) {
	case UART_RBR_THR:
		if (u->lcr & LCR_DLAB)
			return u->dll;
		v = uart_rx_pop(u);
		uart_update_irq(u);
		return v;
	case UART_IER:
		return (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
	case UART_IIR_FCR:
		return uart_read_iir(u);
	case UART_LCR:
		return u->lcr;
	case UART_MCR:
		return u->mcr;
	case UART_LSR:
		return LSR_THRE | LSR_TEMT | (u->rx_len ? LSR_DR : 0);
	case UART_MSR:
		return uart_read_msr(u);
	default:
		return u->scr;
	}
}

static void
uart_write_reg(struct uart8250 *u, unsigned reg, uint8_t v)
{
	switch (reg) {
	case UART_RBR_THR:
		if (u->lcr & LCR_DLAB)
			u->dll = v;
		else
			uart_transmit(u, v);
		break;
	case UART_IER:
		if (u->lcr & LCR_DLAB) {
			u->dlm = v;
			break;
		}
		/* Enabling THRI while THR is empty raises it at once. */
		if ((v & IER_THRI) && !(u->ier & IER_THRI))
			u->thre_pending = 1;
		u->ier = v & IER_MASK;
		break;
	case UART_IIR_FCR:
		u->fcr = v & FCR_ENABLE;
		if (v & FCR_CLEAR_RX)
			u->rx_head = u->rx_len = 0;
		break;
	case UART_LCR:
		u->lcr = v;
		break;
	case UART_MCR:
		u->mcr = v & MCR_MASK;
		break;
	case UART_SCR:
		u->scr = v;
		break;
	default:
		break;		/* LSR and MSR are read-only */
	}
	uart_update_irq(u);
}

static void
uart_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	memset(data, 0xff, len);
	if (off < UART_NREGS && len > 0)
		data[0] = uart_read_reg(dev, (unsigned)off);
}

static void
uart_write(void *dev, uint64_t off, const uint8_t *data, unsigned len)
{
	if (off < UART_NREGS && len > 0)
		uart_write_reg(dev, (unsigned)off, data[0]);
}

static void *
uart_create(const struct vmm_dev_host *host)
{
	struct uart8250 *u = calloc(1, sizeof(*u));

	if (u == NULL)
		return NULL;
	u->host = *host;
	u->dll = 0x0c;		/* 9600 baud from the 1.8432 MHz clock */
	return u;
}

static void
uart_destroy(void *dev)
{
	free(dev);
}

const struct vmm_dev_ops uart8250_ops = {
	.name = "uart8250",
	.create = uart_create,
	.destroy = uart_destroy,
	.read = uart_read,
	.write = uart_write,
};
