/*
 * kvmcheck: proves that /dev/kvm works, for the node's end-to-end tests.
 * Opens /dev/kvm, checks KVM_GET_API_VERSION == 12, creates a VM and a
 * vCPU, maps one page of real-mode code at guest address 0x1000 that does
 * `mov al, 0x42; out 0x10, al; hlt`, runs it and checks the exits (an
 * KVM_EXIT_IO on port 0x10 with 0x42, then KVM_EXIT_HLT). Then measures the
 * cost of an exit to user space: a loop of 1000 `out` instructions.
 * Prints TAP lines ("ok - kvm ..." / "not ok - kvm ...") and exits 0 iff
 * all passed. Usage: kvmcheck [/dev/kvm]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define GUEST_ADDR 0x1000u
#define PAGE 4096u

struct vm {
	int kvm, vm, vcpu;
	uint8_t *mem;
	struct kvm_run *run;
	size_t run_size;
};

static int failed;

static int
check(int cond, const char *name, const char *detail)
{
	if (cond)
		printf("ok - kvm %s\n", name);
	else
		printf("not ok - kvm %s: %s\n", name, detail);
	failed |= !cond;
	fflush(stdout);
	return cond;
}

#define LOOP_OFFSET 0x100u
#define LOOP_COUNT 1000

static int
setup_memory(struct vm *v)
{
	/* mov al, 0x42; out 0x10, al; hlt */
	static const uint8_t code[] = { 0xb0, 0x42, 0xe6, 0x10, 0xf4 };
	/* mov cx, 1000; 1: out 0x10, al; dec cx; jnz 1b; hlt */
	static const uint8_t loop[] = { 0xb9, LOOP_COUNT & 0xff, LOOP_COUNT >> 8, 0xe6, 0x10,
					0x49, 0x75, 0xfb, 0xf4 };
	struct kvm_userspace_memory_region region = {
		.slot = 0, .guest_phys_addr = GUEST_ADDR, .memory_size = PAGE,
	};

	v->mem = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (v->mem == MAP_FAILED) {
		v->mem = NULL;
		return -1;
	}
	memcpy(v->mem, code, sizeof(code));
	memcpy(v->mem + LOOP_OFFSET, loop, sizeof(loop));
	region.userspace_addr = (uint64_t)(uintptr_t)v->mem;
	return ioctl(v->vm, KVM_SET_USER_MEMORY_REGION, &region);
}

static int
setup_vcpu(struct vm *v)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	int sz;

	v->vcpu = ioctl(v->vm, KVM_CREATE_VCPU, 0);
	if (v->vcpu < 0)
		return -1;
	sz = ioctl(v->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (sz <= 0)
		return -1;
	v->run_size = (size_t)sz;
	v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->vcpu, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		return -1;
	}
	if (ioctl(v->vcpu, KVM_GET_SREGS, &sregs) < 0)
		return -1;
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(v->vcpu, KVM_SET_SREGS, &sregs) < 0)
		return -1;
	memset(&regs, 0, sizeof(regs));
	regs.rip = GUEST_ADDR;
	regs.rflags = 2;
	return ioctl(v->vcpu, KVM_SET_REGS, &regs);
}

static int
run_guest(struct vm *v)
{
	char detail[128];
	int saw_io = 0, i;

	for (i = 0; i < 16; i++) {
		if (ioctl(v->vcpu, KVM_RUN, 0) < 0) {
			snprintf(detail, sizeof(detail), "KVM_RUN: %s", strerror(errno));
			return check(0, "KVM_RUN", detail);
		}
		switch (v->run->exit_reason) {
		case KVM_EXIT_IO: {
			uint8_t val = *((uint8_t *)v->run + v->run->io.data_offset);

			snprintf(detail, sizeof(detail), "port 0x%x value 0x%x", v->run->io.port, val);
			saw_io = check(v->run->io.direction == KVM_EXIT_IO_OUT && v->run->io.port == 0x10 &&
					       val == 0x42,
				       "guest out 0x42 to port 0x10", detail);
			break;
		}
		case KVM_EXIT_HLT:
			return check(saw_io, "guest reached hlt after out", "hlt before out");
		default:
			snprintf(detail, sizeof(detail), "unexpected exit reason %u", v->run->exit_reason);
			return check(0, "KVM_RUN exit", detail);
		}
	}
	return check(0, "KVM_RUN", "no hlt after 16 exits");
}

static double
elapsed_ms(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

/* Runs the out loop; prints the mean time of one exit to user space. */
static void
measure_exits(struct vm *v)
{
	struct kvm_regs regs;
	struct timespec t0, t1;
	int exits = 0;

	if (ioctl(v->vcpu, KVM_GET_REGS, &regs) < 0)
		return;
	regs.rip = GUEST_ADDR + LOOP_OFFSET;
	regs.rflags = 2;
	if (ioctl(v->vcpu, KVM_SET_REGS, &regs) < 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (exits <= LOOP_COUNT + 1 && ioctl(v->vcpu, KVM_RUN, 0) == 0) {
		if (v->run->exit_reason != KVM_EXIT_IO)
			break;
		exits++;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (v->run->exit_reason == KVM_EXIT_HLT && exits == LOOP_COUNT)
		printf("# kvm exit to user space (out, KVM_RUN round trip): %.1f us mean over %d\n",
		       elapsed_ms(&t0, &t1) * 1e3 / exits, exits);
}

int
main(int argc, char **argv)
{
	const char *dev = argc > 1 ? argv[1] : "/dev/kvm";
	struct vm v = { .kvm = -1, .vm = -1, .vcpu = -1 };
	struct timespec t0, t1;
	char detail[128];
	int api;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	v.kvm = open(dev, O_RDWR | O_CLOEXEC);
	snprintf(detail, sizeof(detail), "%s: %s", dev, strerror(errno));
	if (!check(v.kvm >= 0, "open /dev/kvm", detail))
		goto cleanup;
	api = ioctl(v.kvm, KVM_GET_API_VERSION, 0);
	snprintf(detail, sizeof(detail), "got %d", api);
	if (!check(api == 12, "KVM_GET_API_VERSION == 12", detail))
		goto cleanup;
	v.vm = ioctl(v.kvm, KVM_CREATE_VM, 0);
	snprintf(detail, sizeof(detail), "%s", strerror(errno));
	if (!check(v.vm >= 0, "KVM_CREATE_VM", detail))
		goto cleanup;
	snprintf(detail, sizeof(detail), "memory region: %s", strerror(errno));
	if (!check(setup_memory(&v) == 0, "KVM_SET_USER_MEMORY_REGION", detail))
		goto cleanup;
	if (!check(setup_vcpu(&v) == 0, "KVM_CREATE_VCPU and registers", strerror(errno)))
		goto cleanup;
	run_guest(&v);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("# kvmcheck wall time: %.1f ms\n", elapsed_ms(&t0, &t1));
	measure_exits(&v);
cleanup:
	if (v.run)
		munmap(v.run, v.run_size);
	if (v.mem)
		munmap(v.mem, PAGE);
	if (v.vcpu >= 0)
		close(v.vcpu);
	if (v.vm >= 0)
		close(v.vm);
	if (v.kvm >= 0)
		close(v.kvm);
	return failed ? 1 : 0;
}
