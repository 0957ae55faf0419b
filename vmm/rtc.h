/*
 * rtc.h: the PC's CMOS real-time clock (Motorola MC146818A) at ports
 * 0x70 (index; bit 7 is the NMI mask, ignored) and 0x71 (data), as Linux's
 * x86 boot code and rtc_cmos driver read it. Without it every read is
 * 0xff: "update in progress" never clears, and Linux spends seconds
 * polling before it reports "rtc_cmos: broken or not accessible".
 *
 * The time is the host's UTC clock at each read, in the mode the guest
 * chose in register B (BCD or binary, 24- or 12-hour); register A never
 * shows an update in progress; register D says the time is valid. Writes
 * to the time registers are ignored (the host owns the clock); the other
 * bytes (alarms, register B's mode bits, the CMOS RAM from 0x0e) keep what
 * the guest writes. No periodic, alarm or update interrupts (IRQ 8).
 */
#ifndef DROVER_RTC_H
#define DROVER_RTC_H

#include "devhost.h"

#define RTC_PORT	0x70
#define RTC_PORT_SPAN	2

extern const struct vmm_dev_ops rtc_ops;

#endif
