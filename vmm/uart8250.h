/*
 * uart8250.h: a 16550A-compatible UART (National Semiconductor PC16550D
 * data sheet), as on COM1 (ports 0x3f8-0x3ff, ISA IRQ 4). Transmission is
 * instant: each byte written to THR goes to the console at once, so THR
 * is always empty. Received bytes wait in a buffer larger than the 16-byte
 * FIFO, so console input is not lost while the guest is slow to read.
 */
#ifndef DROVER_UART8250_H
#define DROVER_UART8250_H

#include <stddef.h>
#include <stdint.h>

#include "devhost.h"

#define UART8250_COM1_BASE	0x3f8
#define UART8250_COM1_IRQ	4
#define UART8250_RX_BUF		1024

struct uart8250;

extern const struct vmm_dev_ops uart8250_ops;

/* Queue console input; returns how many bytes were taken (0 when full). */
size_t uart8250_receive(struct uart8250 *u, const uint8_t *buf, size_t len);
/* Room left in the receive buffer. */
size_t uart8250_rx_space(const struct uart8250 *u);

#endif
