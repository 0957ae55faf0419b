/*
 * cpuid.c: each vCPU's CPUID table: what KVM supports on this host
 * (KVM_GET_SUPPORTED_CPUID), with the topology rewritten so the guest sees
 * one package of n single-threaded cores whose APIC IDs are 0..n-1:
 *   leaf 1     EBX[31:24] initial APIC ID, EBX[23:16] logical processors,
 *              EDX[28] HTT when n > 1, ECX[31] "running on a hypervisor"
 *   leaf 4     (Intel) EAX[31:26] cores per package - 1, EAX[25:14]
 *              threads sharing the cache - 1
 *   leaf 0xB   (and 0x1F) x2APIC topology: SMT level (1 thread), then
 *              core level (n), then invalid; EDX the x2APIC ID
 *   0x80000008 (AMD) ECX[7:0] cores per package - 1
 *   0x8000001E (AMD) EAX extended APIC ID, EBX core ID
 * (Intel SDM vol. 2A "CPUID"; AMD APM vol. 3 appendix E.)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "log.h"
#include "vmm.h"

#define CPUID_MAX_ENTRIES 1024

/*
 * What KVM emulates but KVM_GET_SUPPORTED_CPUID leaves for the VMM to
 * announce (api.rst, KVM_GET_SUPPORTED_CPUID): the TSC-deadline mode of
 * the in-kernel LAPIC timer (leaf 1 ECX[24]). Without it Linux runs the
 * LAPIC timer in one-shot mode and must calibrate it against the PIT,
 * which goes badly wrong on a slow (nested, emulated) host.
 */
static void
cpuid_host_features(int kvm_fd, struct kvm_cpuid2 *c)
{
	int deadline = ioctl(kvm_fd, KVM_CHECK_EXTENSION,
	    KVM_CAP_TSC_DEADLINE_TIMER) > 0;

	for (unsigned i = 0; i < c->nent; i++)
		if (c->entries[i].function == 1 && deadline)
			c->entries[i].ecx |= 1U << 24;
}

struct kvm_cpuid2 *
cpuid_get_supported(int kvm_fd)
{
	struct kvm_cpuid2 *c;
	unsigned n = 128;

	for (;;) {
		c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
		if (c == NULL)
			return NULL;
		c->nent = n;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			cpuid_host_features(kvm_fd, c);
			return c;
		}
		free(c);
		if (errno != E2BIG || n >= CPUID_MAX_ENTRIES)
			return NULL;
		n *= 2;
	}
}

/* Bits needed to number n things (the 0xB "shift"): ceil(log2(n)). */
static unsigned
cpuid_bits(unsigned n)
{
	unsigned b = 0;

	while ((1U << b) < n)
		b++;
	return b;
}

static void
cpuid_leaf_b(struct kvm_cpuid_entry2 *e, unsigned id, unsigned n)
{
	e->edx = id;
	switch (e->index) {
	case 0:		/* SMT level: one thread per core */
		e->eax = 0;
		e->ebx = 1;
		e->ecx = 0 | 1 << 8;
		break;
	case 1:		/* core level: n cores */
		e->eax = cpuid_bits(n);
		e->ebx = n;
		e->ecx = 1 | 2 << 8;
		break;
	default:	/* invalid level: the list ends */
		e->eax = 0;
		e->ebx = 0;
		e->ecx = e->index;
		break;
	}
}

static void
cpuid_patch(struct kvm_cpuid_entry2 *e, unsigned id, unsigned n)
{
	switch (e->function) {
	case 1:
		e->ebx = (e->ebx & 0xffff) | id << 24 | (n & 0xff) << 16;
		if (n > 1)
			e->edx |= 1U << 28;
		else
			e->edx &= ~(1U << 28);
		e->ecx |= 1U << 31;
		break;
	case 4:
		if ((e->eax & 0x1f) == 0)
			break;	/* no more caches */
		e->eax &= 0x3fff;
		e->eax |= (n - 1) << 26;
		/* L3 (level 3) is shared by all cores; L1 and L2 are not. */
		if (((e->eax >> 5) & 7) == 3)
			e->eax |= (n - 1) << 14;
		break;
	case 0xb:
	case 0x1f:
		cpuid_leaf_b(e, id, n);
		break;
	case 0x80000008:
		e->ecx = (e->ecx & ~0xffU) | (n - 1);
		break;
	case 0x8000001e:
		e->eax = id;
		e->ebx = id & 0xff;	/* core ID; one thread per core */
		e->ecx = 0;		/* node 0 */
		break;
	default:
		break;
	}
}

struct kvm_cpuid2 *
cpuid_for_vcpu(const struct kvm_cpuid2 *supported, unsigned id, unsigned n)
{
	size_t size = sizeof(*supported) +
	    supported->nent * sizeof(supported->entries[0]);
	struct kvm_cpuid2 *c = malloc(size);

	if (c == NULL)
		return NULL;
	memcpy(c, supported, size);
	for (unsigned i = 0; i < c->nent; i++)
		cpuid_patch(&c->entries[i], id, n);
	return c;
}
