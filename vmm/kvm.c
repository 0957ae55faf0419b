/*
 * kvm.c: the VM on /dev/kvm (Documentation/virt/kvm/api.rst): API version
 * check, KVM_CREATE_VM, the TSS and identity-map pages KVM needs below
 * 4 GiB, the in-kernel irqchip (PIC, IOAPIC, LAPICs) and PIT, the
 * reaper that frees the VM after the VMM's exit (reaper.c), and guest
 * RAM: one anonymous MAP_NORESERVE mapping (touched lazily, so a 256 MiB
 * guest costs what it uses), registered as one slot below the 32-bit hole
 * and one above 4 GiB when the guest is that large.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "reaper.h"
#include "vmm.h"

/* Three pages for the TSS KVM needs for real mode on VMX, and one for its
 * EPT identity map: in the hole, below the IOAPIC/LAPIC pages' region. */
#define KVM_TSS_GPA		0xfffbd000ULL
#define KVM_IDENTITY_GPA	0xfffbc000ULL
/* Guest RAM's alignment in the VMM: a huge page (2 MiB). */
#define VMM_RAM_ALIGN		(2ULL << 20)

static int
vmm_kvm_check(struct vmm *vm)
{
	int v = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);

	if (v != KVM_API_VERSION) {
		log_warnx("/dev/kvm API version %d, want %d", v,
		    KVM_API_VERSION);
		return -EPROTO;
	}
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQCHIP) <= 0 ||
	    ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY) <= 0) {
		log_warnx("/dev/kvm lacks the in-kernel irqchip or user memory");
		return -ENOTSUP;
	}
	return 0;
}

static int
vmm_kvm_slot(struct vmm *vm, uint32_t slot, uint64_t gpa, uint8_t *host,
    uint64_t size)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)host,
	};

	if (size == 0)
		return 0;
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
		log_warn("KVM_SET_USER_MEMORY_REGION slot %u (%#llx bytes at "
		    "%#llx)", slot, (unsigned long long)size,
		    (unsigned long long)gpa);
		return -errno;
	}
	return 0;
}

static int
vmm_kvm_memory(struct vmm *vm, uint64_t ram_size)
{
	int err;

	uint8_t *map, *ram;
	uintptr_t head;

	if (ram_size > SIZE_MAX - VMM_RAM_ALIGN)
		return -ENOMEM;
	/* Over-map by 2 MiB and trim, so that GPA 0 sits on a 2 MiB
	 * boundary of our address space: only then can KVM back the
	 * guest with 2 MiB pages when THP gives us huge pages. */
	map = mmap(NULL, ram_size + VMM_RAM_ALIGN, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (map == MAP_FAILED) {
		log_warn("mmap %llu bytes of guest RAM",
		    (unsigned long long)ram_size);
		return -ENOMEM;
	}
	head = (VMM_RAM_ALIGN - ((uintptr_t)map & (VMM_RAM_ALIGN - 1))) &
	    (VMM_RAM_ALIGN - 1);
	ram = map + head;
	if (head)
		munmap(map, head);
	munmap(ram + ram_size, VMM_RAM_ALIGN - head);
	vm->ram = ram;
	vm->ram_size = ram_size;
	/* A forked helper must not share (or copy) guest memory. */
	(void)madvise(vm->ram, ram_size, MADV_DONTFORK);

	gmem_layout(&vm->mem, vm->ram, ram_size);
	if ((err = vmm_kvm_slot(vm, 0, 0, vm->ram, vm->mem.low_size)) < 0)
		return err;
	return vmm_kvm_slot(vm, 1, GMEM_HIGH_START, vm->ram +
	    vm->mem.low_size, vm->mem.high_size);
}

/*
 * The PIC, IOAPIC and LAPICs in the kernel; then the PIT (which needs
 * the irqchip first), with its speaker port as a dummy. The PIT keeps
 * KVM's default tick reinjection (QEMU's default for its in-kernel PIT,
 * Firecracker's too). Turning it off (KVM_REINJECT_CONTROL) waits for an
 * SRCU grace period here, 6-20 ms on the development host; freeing a PIT
 * that reinjects waits for one too, but that is the reaper's (reaper.c).
 */
static int
vmm_kvm_irqchip(struct vmm *vm)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };

	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_GPA) < 0)
		log_debug("KVM_SET_TSS_ADDR: %s", strerror(errno));
	if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR,
	    &(uint64_t){ KVM_IDENTITY_GPA }) < 0)
		log_debug("KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(errno));
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		log_warn("KVM_CREATE_IRQCHIP");
		return -errno;
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		log_warn("KVM_CREATE_PIT2");
		return -errno;
	}
	return 0;
}

int
vmm_kvm_open(struct vmm *vm, uint64_t ram_size, const struct reaper_conf *rc)
{
	int err, mmap_size;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		err = -errno;
		log_warn("/dev/kvm");
		return err;
	}
	if ((err = vmm_kvm_check(vm)) < 0)
		return err;
	mmap_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (mmap_size < (int)sizeof(struct kvm_run)) {
		log_warn("KVM_GET_VCPU_MMAP_SIZE");
		return -EPROTO;
	}
	vm->run_size = (size_t)mmap_size;
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		err = -errno;
		log_warn("KVM_CREATE_VM");
		return err;
	}
	/* Before anything else is open or mapped: the reaper frees the VM
	 * after the VMM has exited (reaper.c). */
	if (rc)
		vm->reaper_fd = reaper_start(vm->vm_fd, rc, &vm->reaper_pid);
	/* KVM_GET_SUPPORTED_CPUID runs CPUID for every leaf in the host
	 * kernel: ~0.4 ms here (the host's own CPUID traps to the hypervisor
	 * it runs on). Asking from a thread during the rest of the set-up
	 * measured no better (median 3.15/2.86 ms against 3.13/2.87). */
	vm->cpuid = cpuid_get_supported(vm->kvm_fd);
	if (vm->cpuid == NULL) {
		log_warn("KVM_GET_SUPPORTED_CPUID");
		return -EPROTO;
	}
	/* Memory before the irqchip: on this host's KVM the memslot update
	 * waits for an SRCU grace period that is much shorter while the VM
	 * has no irqchip or PIT yet (measured: ~0.1 ms against 4-7 ms). */
	if ((err = vmm_kvm_memory(vm, ram_size)) < 0)
		return err;
	return vmm_kvm_irqchip(vm);
}

void
vmm_kvm_close(struct vmm *vm)
{
	if (vm->ram)
		munmap(vm->ram, vm->ram_size);
	vm->ram = NULL;
	free(vm->cpuid);
	vm->cpuid = NULL;
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	vm->vm_fd = vm->kvm_fd = -1;
	/* The reaper's turn: its exit frees the VM (reaper.c). */
	if (vm->reaper_fd >= 0)
		close(vm->reaper_fd);
	vm->reaper_fd = -1;
}

void
vmm_irq_line(struct vmm *vm, unsigned irq, int level)
{
	struct kvm_irq_level l = { .irq = irq, .level = level ? 1 : 0 };

	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &l) < 0)
		log_debug("KVM_IRQ_LINE %u: %s", irq, strerror(errno));
}
