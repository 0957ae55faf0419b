/*
 * vcpu.c: vCPUs. Each is created and set up by the main thread (CPUID,
 * MSRs, LAPIC LINT pins, and for the BSP the boot entry state), then runs
 * KVM_RUN in its own thread. With the in-kernel irqchip, APs wait in KVM
 * for the guest's INIT/SIPI; HLT is handled in the kernel too.
 *
 * Stopping: vmm_request_exit sets vm->stopping and sends SIGUSR1 to every
 * vCPU thread; the handler sets kvm_run.immediate_exit, so a vCPU that was
 * about to enter the guest returns at once (KVM_CAP_IMMEDIATE_EXIT) and
 * one inside the guest is kicked out with EINTR.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "vmm.h"

#define MSR_IA32_MISC_ENABLE	0x1a0
#define MSR_MTRR_DEF_TYPE	0x2ff
#define MISC_ENABLE_FAST_STRING	0x1
#define MTRR_ENABLE_WB		0x806	/* MTRRs on, default type WB */
#define APIC_LVT0		0x350
#define APIC_LVT1		0x360
#define APIC_MODE_NMI		0x4
#define APIC_MODE_EXTINT	0x7
#define X86_CR0_PE		0x1ULL
#define X86_CR0_ET		0x10ULL
#define X86_CR0_PG		0x80000000ULL
#define X86_CR4_PAE		0x20ULL
#define EFER_LME		0x100ULL
#define EFER_LMA		0x400ULL

static __thread struct kvm_run *vcpu_tls_run;

static void
vcpu_kick_handler(int sig)
{
	(void)sig;
	if (vcpu_tls_run)
		vcpu_tls_run->immediate_exit = 1;
}

static int
vcpu_set_msrs(struct vmm_vcpu *v)
{
	static const struct { uint32_t index; uint64_t data; } init[] = {
		{ MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING },
		{ MSR_MTRR_DEF_TYPE, MTRR_ENABLE_WB },
	};
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[1];
	} m;

	/* One at a time: a host (PVM) may refuse one and take the other. */
	for (size_t i = 0; i < sizeof(init) / sizeof(init[0]); i++) {
		memset(&m, 0, sizeof(m));
		m.hdr.nmsrs = 1;
		m.e[0].index = init[i].index;
		m.e[0].data = init[i].data;
		if (ioctl(v->fd, KVM_SET_MSRS, &m) != 1)
			log_debug("vCPU %u: MSR %#x not set", v->id,
			    init[i].index);
	}
	return 0;
}

static void
lapic_set_mode(struct kvm_lapic_state *l, unsigned reg, uint32_t mode)
{
	uint32_t v;

	memcpy(&v, l->regs + reg, 4);
	v = (v & ~0x700U) | mode << 8;
	memcpy(l->regs + reg, &v, 4);
}

/* LINT0 delivers the 8259's ExtINT, LINT1 NMI (as the MP table says). */
static int
vcpu_set_lapic(struct vmm_vcpu *v)
{
	struct kvm_lapic_state l;

	if (ioctl(v->fd, KVM_GET_LAPIC, &l) < 0) {
		log_warn("vCPU %u: KVM_GET_LAPIC", v->id);
		return -errno;
	}
	lapic_set_mode(&l, APIC_LVT0, APIC_MODE_EXTINT);
	lapic_set_mode(&l, APIC_LVT1, APIC_MODE_NMI);
	if (ioctl(v->fd, KVM_SET_LAPIC, &l) < 0) {
		log_warn("vCPU %u: KVM_SET_LAPIC", v->id);
		return -errno;
	}
	return 0;
}

static void
vcpu_flat_segment(struct kvm_segment *s, uint16_t sel, uint8_t type,
    int long_code)
{
	memset(s, 0, sizeof(*s));
	s->base = 0;
	s->limit = 0xffffffff;
	s->selector = sel;
	s->type = type;
	s->present = 1;
	s->s = 1;
	s->g = 1;
	s->l = long_code ? 1 : 0;
	s->db = long_code ? 0 : 1;
}

/* The boot protocols' entry state: flat segments from the boot GDT, a
 * busy TSS, no IDT; protected mode, or long mode with identity paging. */
static int
vcpu_set_boot_sregs(struct vmm_vcpu *v, const struct boot_entry *b)
{
	struct kvm_sregs s;
	int lm = b->mode == BOOT_MODE_LONG64;

	if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
		return -errno;
	vcpu_flat_segment(&s.cs, BOOT_SEL_CODE, 0xb, lm);
	vcpu_flat_segment(&s.ds, BOOT_SEL_DATA, 0x3, 0);
	s.es = s.fs = s.gs = s.ss = s.ds;
	memset(&s.tr, 0, sizeof(s.tr));
	s.tr.selector = BOOT_SEL_TSS;
	s.tr.limit = 0x67;
	s.tr.type = 0xb;
	s.tr.present = 1;
	s.gdt.base = BOOT_GDT_GPA;
	s.gdt.limit = 6 * 8 - 1;
	s.idt.base = 0;
	s.idt.limit = 0;
	s.cr0 = X86_CR0_PE | X86_CR0_ET;
	s.cr4 = 0;
	s.efer = 0;
	if (lm) {
		s.cr3 = b->cr3;
		s.cr4 |= X86_CR4_PAE;
		s.cr0 |= X86_CR0_PG;
		s.efer |= EFER_LME | EFER_LMA;
	}
	return ioctl(v->fd, KVM_SET_SREGS, &s) < 0 ? -errno : 0;
}

static int
vcpu_set_boot_regs(struct vmm_vcpu *v, const struct boot_entry *b)
{
	struct kvm_regs r;
	int err;

	if ((err = vcpu_set_boot_sregs(v, b)) < 0) {
		log_warnx("vCPU %u: KVM_SET_SREGS: %s", v->id, strerror(-err));
		return err;
	}
	memset(&r, 0, sizeof(r));
	r.rflags = 0x2;		/* reserved bit; IF clear */
	r.rip = b->rip;
	r.rsi = b->rsi;
	r.rbx = b->rbx;
	r.rsp = BOOT_STACK_GPA;
	if (ioctl(v->fd, KVM_SET_REGS, &r) < 0) {
		log_warn("vCPU %u: KVM_SET_REGS", v->id);
		return -errno;
	}
	return 0;
}

static int
vcpu_create_one(struct vmm *vm, struct vmm_vcpu *v, unsigned id,
    const struct boot_entry *entry)
{
	struct kvm_cpuid2 *cpuid;
	int err;

	v->vm = vm;
	v->id = id;
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (v->fd < 0) {
		log_warn("KVM_CREATE_VCPU %u", id);
		return -errno;
	}
	v->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
	    v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		log_warn("vCPU %u: mmap kvm_run", id);
		return -errno;
	}
	cpuid = cpuid_for_vcpu(vm->cpuid, id, vm->ncpus);
	if (cpuid == NULL)
		return -ENOMEM;
	err = ioctl(v->fd, KVM_SET_CPUID2, cpuid) < 0 ? -errno : 0;
	free(cpuid);
	if (err < 0) {
		log_warnx("vCPU %u: KVM_SET_CPUID2: %s", id, strerror(-err));
		return err;
	}
	vcpu_set_msrs(v);
	if ((err = vcpu_set_lapic(v)) < 0)
		return err;
	/* The BSP starts at the kernel entry; APs wait for INIT/SIPI. */
	return id == 0 ? vcpu_set_boot_regs(v, entry) : 0;
}

int
vmm_vcpus_create(struct vmm *vm, unsigned n, const struct boot_entry *entry)
{
	int max, err;

	max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (max <= 0)
		max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (max > 0 && n > (unsigned)max) {
		log_error("%u vCPUs requested; this host's KVM allows %d", n,
		    max);
		return -EINVAL;
	}
	vm->vcpus = calloc(n, sizeof(*vm->vcpus));
	if (vm->vcpus == NULL)
		return -ENOMEM;
	vm->ncpus = n;
	for (unsigned i = 0; i < n; i++)
		vm->vcpus[i].fd = -1;
	for (unsigned i = 0; i < n; i++)
		if ((err = vcpu_create_one(vm, &vm->vcpus[i], i, entry)) < 0)
			return err;
	return 0;
}

void
vmm_vcpus_destroy(struct vmm *vm)
{
	struct vmm_vcpu *v;

	for (unsigned i = 0; vm->vcpus && i < vm->ncpus; i++) {
		v = &vm->vcpus[i];
		if (v->run)
			munmap(v->run, vm->run_size);
		if (v->fd >= 0)
			close(v->fd);
	}
	free(vm->vcpus);
	vm->vcpus = NULL;
	vm->ncpus = 0;
}

/* ---- the run loop ------------------------------------------------------- */

/* KVM_EXIT_IO: count accesses of size bytes each (string I/O: count > 1),
 * at data_offset in the kvm_run page. KVM set the sizes; bound them. */
static void
vcpu_exit_io(struct vmm_vcpu *v)
{
	struct kvm_run *r = v->run;
	uint8_t *data = (uint8_t *)r + r->io.data_offset;
	unsigned size = r->io.size;

	v->stats.io++;
	if (size == 0 || size > 4 || r->io.data_offset >= v->vm->run_size ||
	    (uint64_t)size * r->io.count > v->vm->run_size - r->io.data_offset)
		return;
	for (uint32_t i = 0; i < r->io.count; i++, data += size)
		if (!vmm_bus_access(v->vm, VMM_SPACE_PIO, r->io.port, data,
		    size, r->io.direction == KVM_EXIT_IO_OUT))
			v->stats.unhandled++;
}

static void
vcpu_exit_mmio(struct vmm_vcpu *v)
{
	struct kvm_run *r = v->run;
	unsigned len = r->mmio.len;

	v->stats.mmio++;
	if (len == 0 || len > sizeof(r->mmio.data))
		return;
	if (!vmm_bus_access(v->vm, VMM_SPACE_MMIO, r->mmio.phys_addr,
	    r->mmio.data, len, r->mmio.is_write))
		v->stats.unhandled++;
}

static void
vcpu_report_regs(struct vmm_vcpu *v)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 ||
	    ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
		return;
	log_warnx("vCPU %u: rip %#llx rsp %#llx rflags %#llx cr0 %#llx "
	    "cr2 %#llx cr3 %#llx cr4 %#llx efer %#llx cs %#x/%#llx "
	    "idt %#llx/%#x", v->id, (unsigned long long)r.rip,
	    (unsigned long long)r.rsp, (unsigned long long)r.rflags,
	    (unsigned long long)s.cr0, (unsigned long long)s.cr2,
	    (unsigned long long)s.cr3, (unsigned long long)s.cr4,
	    (unsigned long long)s.efer, s.cs.selector,
	    (unsigned long long)s.cs.base, (unsigned long long)s.idt.base,
	    s.idt.limit);
}

static void
vcpu_exit_system_event(struct vmm_vcpu *v)
{
	switch (v->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		vmm_request_exit(v->vm, VMM_EXIT_POWEROFF, "system event: "
		    "shutdown");
		break;
	case KVM_SYSTEM_EVENT_RESET:
		vmm_request_exit(v->vm, VMM_EXIT_REBOOT, "system event: reset");
		break;
	default:
		vmm_request_exit(v->vm, VMM_EXIT_CRASH, "system event: crash");
		break;
	}
}

/* One exit. Returns 0 to keep running, 1 when this vCPU is done. */
static int
vcpu_handle_exit(struct vmm_vcpu *v)
{
	struct kvm_run *r = v->run;
	char why[96];

	/* Writes KVM queued come first (coalesced.c). */
	(void)vmm_coalesced_drain(v->vm);
	switch (r->exit_reason) {
	case KVM_EXIT_IO:
		vcpu_exit_io(v);
		return 0;
	case KVM_EXIT_MMIO:
		vcpu_exit_mmio(v);
		return 0;
	case KVM_EXIT_INTR:
	case KVM_EXIT_IRQ_WINDOW_OPEN:
		v->stats.other++;
		return 0;
	case KVM_EXIT_HLT:
		vmm_request_exit(v->vm, VMM_EXIT_POWEROFF, "vCPU halted");
		return 1;
	case KVM_EXIT_SHUTDOWN:
		vcpu_report_regs(v);
		vmm_request_exit(v->vm, VMM_EXIT_REBOOT, "triple fault "
		    "(KVM_EXIT_SHUTDOWN)");
		return 1;
	case KVM_EXIT_SYSTEM_EVENT:
		vcpu_exit_system_event(v);
		return 1;
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(why, sizeof(why), "KVM internal error, suberror %u",
		    r->internal.suberror);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(why, sizeof(why), "VM entry failed, reason %#llx",
		    (unsigned long long)
		    r->fail_entry.hardware_entry_failure_reason);
		break;
	default:
		snprintf(why, sizeof(why), "unexpected KVM exit %u",
		    r->exit_reason);
		break;
	}
	log_warnx("vCPU %u: %s", v->id, why);
	vcpu_report_regs(v);
	vmm_request_exit(v->vm, VMM_EXIT_CRASH, why);
	return 1;
}

static void *
vcpu_thread(void *arg)
{
	struct vmm_vcpu *v = arg;
	sigset_t kick;

	vcpu_tls_run = v->run;
	sigemptyset(&kick);
	sigaddset(&kick, SIGUSR1);
	pthread_sigmask(SIG_UNBLOCK, &kick, NULL);
	/* Wait for the sandbox (vmm.c): no guest code runs before it. */
	pthread_mutex_lock(&v->vm->lock);
	while (!v->vm->released && !v->vm->stopping)
		pthread_cond_wait(&v->vm->go, &v->vm->lock);
	pthread_mutex_unlock(&v->vm->lock);
	while (!vmm_is_stopping(v->vm)) {
		v->stats.runs++;
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			log_warn("vCPU %u: KVM_RUN", v->id);
			vmm_request_exit(v->vm, VMM_EXIT_ERROR, "KVM_RUN failed");
			break;
		}
		if (vcpu_handle_exit(v))
			break;
	}
	vcpu_tls_run = NULL;
	return NULL;
}

int
vmm_vcpus_start(struct vmm *vm)
{
	struct sigaction sa;
	int err;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = vcpu_kick_handler;	/* no SA_RESTART: KVM_RUN -> EINTR */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) < 0)
		return -errno;
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IMMEDIATE_EXIT) <= 0)
		log_debug("no KVM_CAP_IMMEDIATE_EXIT: a stop may wait for "
		    "the next exit");
	for (unsigned i = 0; i < vm->ncpus; i++) {
		err = pthread_create(&vm->vcpus[i].thread, NULL, vcpu_thread,
		    &vm->vcpus[i]);
		if (err) {
			log_warnx("vCPU %u thread: %s", i, strerror(err));
			return -err;
		}
		vm->vcpus[i].started = 1;
	}
	return 0;
}

void
vmm_vcpus_release(struct vmm *vm)
{
	pthread_mutex_lock(&vm->lock);
	vm->released = 1;
	pthread_cond_broadcast(&vm->go);
	pthread_mutex_unlock(&vm->lock);
}

/* Kick every vCPU out of KVM_RUN; callers have set vm->stopping. */
void
vmm_vcpus_kick(struct vmm *vm)
{
	for (unsigned i = 0; i < vm->ncpus; i++)
		if (vm->vcpus[i].started)
			pthread_kill(vm->vcpus[i].thread, SIGUSR1);
}

void
vmm_vcpus_join(struct vmm *vm)
{
	for (unsigned i = 0; i < vm->ncpus; i++) {
		if (!vm->vcpus[i].started)
			continue;
		pthread_join(vm->vcpus[i].thread, NULL);
		vm->vcpus[i].started = 0;
	}
}
