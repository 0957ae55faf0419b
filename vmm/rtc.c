/*
 * rtc.c: the MC146818A CMOS clock (see rtc.h). Register numbers and bits
 * are those of the MC146818A data sheet (table 2, "Address Map", and the
 * register A-D descriptions), as Linux's include/linux/mc146818rtc.h
 * names them.
 */
#include "rtc.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
	REG_SEC = 0x00, REG_SEC_ALARM, REG_MIN, REG_MIN_ALARM, REG_HOUR,
	REG_HOUR_ALARM, REG_WDAY, REG_MDAY, REG_MONTH, REG_YEAR,
	REG_A = 0x0a, REG_B, REG_C, REG_D,
	REG_CENTURY = 0x32,	/* the PC's (ACPI FADT default) century byte */
	RTC_NREGS = 128,
};

#define A_DIVIDER_32K	0x20	/* 32.768 kHz time base */
#define A_RATE_1K	0x06	/* 1024 Hz periodic rate (BIOS default) */
#define A_UIP		0x80
#define B_24H		0x02
#define B_DM_BINARY	0x04
#define B_WRITABLE	0x7e	/* SET is ignored; UIE/AIE/PIE/SQWE/DSE kept */
#define D_VRT		0x80	/* valid RAM and time */
#define HOUR_PM		0x80

struct rtc {
	uint8_t index;
	uint8_t ram[RTC_NREGS];
};

static uint8_t
rtc_enc(const struct rtc *r, unsigned v)
{
	if (r->ram[REG_B] & B_DM_BINARY)
		return (uint8_t)v;
	return (uint8_t)((v / 10) << 4 | v % 10);
}

static uint8_t
rtc_hour(const struct rtc *r, unsigned h)
{
	unsigned h12;

	if (r->ram[REG_B] & B_24H)
		return rtc_enc(r, h);
	h12 = h % 12 == 0 ? 12 : h % 12;
	return (uint8_t)(rtc_enc(r, h12) | (h >= 12 ? HOUR_PM : 0));
}

static uint8_t
rtc_read_reg(struct rtc *r, unsigned reg)
{
	time_t now = time(NULL);
	struct tm tm;

	if (reg > REG_YEAR && reg != REG_CENTURY)
		return reg == REG_C ? 0 : r->ram[reg];
	if (reg == REG_SEC_ALARM || reg == REG_MIN_ALARM ||
	    reg == REG_HOUR_ALARM)
		return r->ram[reg];
	if (gmtime_r(&now, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	switch (reg) {
	case REG_SEC:
		return rtc_enc(r, (unsigned)tm.tm_sec % 60);
	case REG_MIN:
		return rtc_enc(r, (unsigned)tm.tm_min);
	case REG_HOUR:
		return rtc_hour(r, (unsigned)tm.tm_hour);
	case REG_WDAY:
		return rtc_enc(r, (unsigned)tm.tm_wday + 1);
	case REG_MDAY:
		return rtc_enc(r, (unsigned)tm.tm_mday);
	case REG_MONTH:
		return rtc_enc(r, (unsigned)tm.tm_mon + 1);
	case REG_YEAR:
		return rtc_enc(r, (unsigned)(tm.tm_year + 1900) % 100);
	default:	/* REG_CENTURY */
		return rtc_enc(r, (unsigned)(tm.tm_year + 1900) / 100 % 100);
	}
}

static void
rtc_write_reg(struct rtc *r, unsigned reg, uint8_t v)
{
	switch (reg) {
	case REG_SEC_ALARM:
	case REG_MIN_ALARM:
	case REG_HOUR_ALARM:
		r->ram[reg] = v;
		break;
	case REG_A:
		r->ram[reg] = v & (uint8_t)~A_UIP;	/* UIP is read-only */
		break;
	case REG_B:
		r->ram[reg] = v & B_WRITABLE;
		break;
	case REG_C:
	case REG_D:
	case REG_CENTURY:
		break;		/* read-only, or the host's clock */
	default:
		if (reg > REG_D)
			r->ram[reg] = v;	/* CMOS RAM */
		break;		/* the time registers: the host's clock */
	}
}

static void
rtc_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	struct rtc *r = dev;

	memset(data, 0xff, len);
	if (len == 0)
		return;
	if (off == 0)
		data[0] = r->index;
	else if (off == 1)
		data[0] = rtc_read_reg(r, r->index);
}

static void
rtc_write(void *dev, uint64_t off, const uint8_t *data, unsigned len)
{
	struct rtc *r = dev;

	if (len == 0)
		return;
	if (off == 0)
		r->index = data[0] & (RTC_NREGS - 1);	/* bit 7: NMI mask */
	else if (off == 1)
		rtc_write_reg(r, r->index, data[0]);
}

static void *
rtc_create(const struct vmm_dev_host *host)
{
	struct rtc *r = calloc(1, sizeof(*r));

	(void)host;
	if (r == NULL)
		return NULL;
	r->ram[REG_A] = A_DIVIDER_32K | A_RATE_1K;
	r->ram[REG_B] = B_24H;
	r->ram[REG_D] = D_VRT;
	return r;
}

static void
rtc_destroy(void *dev)
{
	free(dev);
}

const struct vmm_dev_ops rtc_ops = {
	.name = "rtc",
	.create = rtc_create,
	.destroy = rtc_destroy,
	.read = rtc_read,
	.write = rtc_write,
};
