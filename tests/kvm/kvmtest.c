/* kvmtest.c: helpers for tiny-guest KVM tests on the local /dev/kvm. */
#include "kvmtest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

static int kt_failed;

int
kt_check(int cond, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (cond) {
		printf("ok - %s\n", name);
	} else {
		kt_failed++;
		printf("not ok - %s: ", name);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
	}
	fflush(stdout);
	return cond;
}

void
kt_skip(const char *name, const char *why)
{
	printf("ok - %s # SKIP %s\n", name, why);
	fflush(stdout);
}

int
kt_status(void)
{
	return kt_failed ? 1 : 0;
}

static int
kt_vcpu_setup(struct kt_vm *t, uint16_t entry)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (ioctl(t->vcpu, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(t->vcpu, KVM_SET_SREGS, &sregs) < 0)
		return -errno;
	memset(&regs, 0, sizeof(regs));
	regs.rip = entry;
	regs.rflags = 0x2;
	regs.rsp = 0x800;
	if (ioctl(t->vcpu, KVM_SET_REGS, &regs) < 0)
		return -errno;
	return 0;
}

int
kt_vm_create(struct kt_vm *t, size_t mem_size, uint16_t entry)
{
	struct kvm_userspace_memory_region region;
	int run_size, err;

	memset(t, 0, sizeof(*t));
	t->kvm = t->vm = t->vcpu = -1;
	t->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (t->kvm < 0)
		return -errno;
	err = -EPROTO;
	if (ioctl(t->kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		goto fail;
	t->vm = ioctl(t->kvm, KVM_CREATE_VM, 0);
	if (t->vm < 0)
		goto fail_errno;
	t->mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (t->mem == MAP_FAILED) {
		t->mem = NULL;
		goto fail_errno;
	}
	t->mem_size = mem_size;
	region = (struct kvm_userspace_memory_region){
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = mem_size,
		.userspace_addr = (uintptr_t)t->mem,
	};
	if (ioctl(t->vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		goto fail_errno;
	t->vcpu = ioctl(t->vm, KVM_CREATE_VCPU, 0);
	if (t->vcpu < 0)
		goto fail_errno;
	run_size = ioctl(t->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size < (int)sizeof(struct kvm_run))
		goto fail_errno;
	t->run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE,
	    MAP_SHARED, t->vcpu, 0);
	if (t->run == MAP_FAILED) {
		t->run = NULL;
		goto fail_errno;
	}
	err = kt_vcpu_setup(t, entry);
	if (err < 0)
		goto fail;
	return 0;
fail_errno:
	err = errno ? -errno : -EIO;
fail:
	kt_vm_destroy(t);
	return err;
}

void
kt_vm_destroy(struct kt_vm *t)
{
	if (t->run)
		munmap(t->run, sizeof(*t->run));
	if (t->vcpu >= 0)
		close(t->vcpu);
	if (t->mem)
		munmap(t->mem, t->mem_size);
	if (t->vm >= 0)
		close(t->vm);
	if (t->kvm >= 0)
		close(t->kvm);
	memset(t, 0, sizeof(*t));
	t->kvm = t->vm = t->vcpu = -1;
}

int
kt_vm_run(struct kt_vm *t)
{
	if (ioctl(t->vcpu, KVM_RUN, 0) < 0)
		return -errno;
	return (int)t->run->exit_reason;
}
