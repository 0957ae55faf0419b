/*
 * i8042.c: the keyboard controller (see i8042.h). Commands and the status
 * and controller configuration bits are those of the IBM PC/AT technical
 * reference ("Keyboard Controller"), as Linux's drivers/input/serio/
 * i8042.h names them.
 */
#include "i8042.h"

#include <stdlib.h>
#include <string.h>

#include "exitcode.h"

#define OFF_DATA	0	/* port 0x60 */
#define OFF_CMD		4	/* port 0x64 */

#define STR_OBF		0x01	/* output buffer full */
#define STR_SYSFLAG	0x04	/* self-test passed */
#define STR_CMDDAT	0x08	/* last write was a command */
#define STR_KEYLOCK	0x10	/* keyboard not inhibited */

#define CTR_KBDINT	0x01
#define CTR_SYSFLAG	0x04
#define CTR_KBDDIS	0x10
#define CTR_AUXDIS	0x20
#define CTR_XLATE	0x40

#define CMD_READ_CTR	0x20
#define CMD_WRITE_CTR	0x60
#define CMD_AUX_DISABLE	0xa7
#define CMD_AUX_ENABLE	0xa8
#define CMD_AUX_TEST	0xa9
#define CMD_SELF_TEST	0xaa
#define CMD_KBD_TEST	0xab
#define CMD_KBD_DISABLE	0xad
#define CMD_KBD_ENABLE	0xae
#define CMD_READ_OUTP	0xd0
#define CMD_WRITE_OUTP	0xd1
#define CMD_RESET	0xfe

#define KBD_ACK		0xfa
#define KBD_RESET	0xff
#define KBD_BAT_OK	0xaa
#define AUX_TEST_NONE	0x02	/* "clock line stuck high": nothing there */

#define OUTQ_LEN	32

struct i8042 {
	struct vmm_dev_host host;
	uint8_t ctr;
	uint8_t status;
	uint8_t pending_cmd;	/* command waiting for its data byte */
	uint8_t outq[OUTQ_LEN];
	unsigned outq_head, outq_len;
	int irq_level;
};

static void
kbc_update_irq(struct i8042 *k)
{
	int level = k->outq_len && (k->ctr & CTR_KBDINT);

	if (level != k->irq_level) {
		k->irq_level = level;
		if (k->host.irq_line)
			k->host.irq_line(k->host.arg, I8042_KBD_IRQ, level);
	}
}

static void
kbc_push(struct i8042 *k, uint8_t b)
{
	if (k->outq_len < OUTQ_LEN)
		k->outq[(k->outq_head + k->outq_len++) % OUTQ_LEN] = b;
	kbc_update_irq(k);
}

void
i8042_key_bytes(struct i8042 *k, const uint8_t *b, unsigned n)
{
	while (n--)
		kbc_push(k, *b++);
}

void
i8042_ctrl_alt_del(struct i8042 *k)
{
	/* Make and break codes: Ctrl, Alt, Del (an E0-prefixed key). */
	static const uint8_t set1[] = { 0x1d, 0x38, 0xe0, 0x53,
	    0xe0, 0xd3, 0xb8, 0x9d };
	static const uint8_t set2[] = { 0x14, 0x11, 0xe0, 0x71,
	    0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14 };

	if (k->ctr & CTR_XLATE)
		i8042_key_bytes(k, set1, sizeof(set1));
	else
		i8042_key_bytes(k, set2, sizeof(set2));
}

static void
kbc_reset_machine(struct i8042 *k, const char *why)
{
	if (k->host.request_exit)
		k->host.request_exit(k->host.arg, VMM_EXIT_REBOOT, why);
}

static void
kbc_command(struct i8042 *k, uint8_t cmd)
{
	k->status |= STR_CMDDAT;
	switch (cmd) {
	case CMD_READ_CTR:
		kbc_push(k, k->ctr);
		break;
	case CMD_WRITE_CTR:
	case CMD_WRITE_OUTP:
		k->pending_cmd = cmd;
		break;
	case CMD_SELF_TEST:
		kbc_push(k, 0x55);
		break;
	case CMD_KBD_TEST:
		kbc_push(k, 0x00);	/* interface OK */
		break;
	case CMD_AUX_TEST:
		/* No mouse: Linux's i8042 then gives up on the AUX port at
		 * once (its loop test, 0xd3, is unknown here, as on AT-type
		 * controllers), rather than probing a mouse that never
		 * answers. */
		kbc_push(k, AUX_TEST_NONE);
		break;
	case CMD_KBD_DISABLE:
		k->ctr |= CTR_KBDDIS;
		break;
	case CMD_KBD_ENABLE:
		k->ctr &= (uint8_t)~CTR_KBDDIS;
		break;
	case CMD_AUX_DISABLE:
		k->ctr |= CTR_AUXDIS;
		break;
	case CMD_AUX_ENABLE:
		k->ctr &= (uint8_t)~CTR_AUXDIS;
		break;
	case CMD_READ_OUTP:
		kbc_push(k, 0x01);	/* reset line high: running */
		break;
	case CMD_RESET:
		kbc_reset_machine(k, "i8042 reset command (0xfe)");
		break;
	default:
		break;	/* the rest: nothing to model */
	}
}

/* A data byte: the argument of a pending command, or for the keyboard. */
static void
kbc_data(struct i8042 *k, uint8_t v)
{
	uint8_t cmd = k->pending_cmd;

	k->status &= (uint8_t)~STR_CMDDAT;
	k->pending_cmd = 0;
	if (cmd == CMD_WRITE_CTR) {
		k->ctr = v;
		kbc_update_irq(k);
	} else if (cmd == CMD_WRITE_OUTP) {
		if (!(v & 0x01))
			kbc_reset_machine(k, "i8042 output port reset bit");
	} else {
		/* A keyboard command: acknowledge; a reset also passes BAT. */
		kbc_push(k, KBD_ACK);
		if (v == KBD_RESET)
			kbc_push(k, KBD_BAT_OK);
	}
}

static void
kbc_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	struct i8042 *k = dev;

	memset(data, 0xff, len);
	if (len == 0)
		return;
	if (off == OFF_CMD) {
		data[0] = (uint8_t)(k->status | (k->outq_len ? STR_OBF : 0));
	} else if (off == OFF_DATA) {
		data[0] = k->outq_len ? k->outq[k->outq_head] : 0;
		if (k->outq_len) {
			k->outq_head = (k->outq_head + 1) % OUTQ_LEN;
			k->outq_len--;
		}
		/* Reading empties the output buffer, which drops IRQ 1; the
		 * next queued byte fills it again, a new rising edge (IRQ 1
		 * is edge-triggered, and Linux takes one byte per interrupt:
		 * a line left high would strand the rest of the queue). */
		if (k->irq_level) {
			k->irq_level = 0;
			if (k->host.irq_line)
				k->host.irq_line(k->host.arg, I8042_KBD_IRQ, 0);
		}
		kbc_update_irq(k);
	}
}

static void
kbc_write(void *dev, uint64_t off, const uint8_t *data, unsigned len)
{
	if (len == 0)
		return;
	if (off == OFF_CMD)
		kbc_command(dev, data[0]);
	else if (off == OFF_DATA)
		kbc_data(dev, data[0]);
}

static void *
kbc_create(const struct vmm_dev_host *host)
{
	struct i8042 *k = calloc(1, sizeof(*k));

	if (k == NULL)
		return NULL;
	k->host = *host;
	k->status = STR_SYSFLAG | STR_KEYLOCK;
	k->ctr = CTR_KBDINT | CTR_SYSFLAG | CTR_AUXDIS | CTR_XLATE;
	return k;
}

static void
kbc_destroy(void *dev)
{
	free(dev);
}

const struct vmm_dev_ops i8042_ops = {
	.name = "i8042",
	.create = kbc_create,
	.destroy = kbc_destroy,
	.read = kbc_read,
	.write = kbc_write,
};
