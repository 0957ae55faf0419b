/*
 * i8042.h: the PC keyboard controller at ports 0x60 (data) and 0x64
 * (status/command), enough of it for Linux's i8042 and atkbd drivers to
 * probe quietly, and for the guest to reset the machine: command 0xFE
 * ("pulse output line 0", the reset line) or writing an output port value
 * with bit 0 clear (command 0xD1) ends the VM with VMM_EXIT_REBOOT.
 * There is no mouse (AUX) port.
 */
#ifndef DROVER_I8042_H
#define DROVER_I8042_H

#include <stdint.h>

#include "devhost.h"

#define I8042_DATA_PORT		0x60
#define I8042_PORT_SPAN		5	/* 0x60..0x64; 0x61 is the PIT's */
#define I8042_KBD_IRQ		1

struct i8042;

extern const struct vmm_dev_ops i8042_ops;

/* Queue bytes as if the keyboard sent them (scan code set 1 or 2). */
void i8042_key_bytes(struct i8042 *k, const uint8_t *b, unsigned n);
/*
 * Press and release Ctrl+Alt+Del: Linux's keyboard driver then signals
 * init (kernel.ctrl-alt-del = 0), whose ctrlaltdel action shuts down.
 * Scan code set 1 when the guest has translation on (CTR bit 6), else 2.
 */
void i8042_ctrl_alt_del(struct i8042 *k);

#endif
