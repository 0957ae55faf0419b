/*
 * kvmfloor: the host kernel's own cost of a VM's life, with nothing of
 * a VMM around it (tests/bench/pvh-start.sh prints it next to drover-vmm
 * and QEMU). One run: open /dev/kvm, KVM_CREATE_VM, 128 MiB of
 * MAP_NORESERVE RAM in one slot, one vCPU running three bytes of real-mode
 * code (out 0x10; hlt) to its first exit, then close everything. The
 * machine is one of:
 *   bare     no irqchip (the "raw-ioctl floor")
 *   irqchip  KVM_CREATE_IRQCHIP (PIC, IOAPIC, LAPICs in the kernel)
 *   pit      irqchip and KVM_CREATE_PIT2 (drover-vmm's set-up)
 *   noreinj  irqchip, PIT and KVM_REINJECT_CONTROL off
 *
 *   kvmfloor [-n RUNS] MACHINE
 *
 * prints "MACHINE median_us min_us max_us" of the whole life, then the
 * medians of its parts: "parts create_us run_us destroy_us".
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define RAM (128ul << 20)
#define MAX_RUNS 1000

enum machine { BARE, IRQCHIP, PIT, NOREINJ };

static double
now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int
xioctl(int fd, unsigned long req, void *arg, const char *what)
{
	if (ioctl(fd, req, arg) < 0) {
		perror(what);
		return -1;
	}
	return 0;
}

static int
vm_devices(int vm, enum machine m)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	struct kvm_reinject_control rc = { .pit_reinject = 0 };

	if (m >= IRQCHIP && xioctl(vm, KVM_CREATE_IRQCHIP, NULL, "KVM_CREATE_IRQCHIP"))
		return -1;
	if (m >= PIT && xioctl(vm, KVM_CREATE_PIT2, &pit, "KVM_CREATE_PIT2"))
		return -1;
	if (m >= NOREINJ && xioctl(vm, KVM_REINJECT_CONTROL, &rc, "KVM_REINJECT_CONTROL"))
		return -1;
	return 0;
}

static int
vcpu_run(int kvm, int vm, char *ram)
{
	static const unsigned char code[] = { 0xe6, 0x10, 0xf4 };
	struct kvm_sregs s;
	struct kvm_regs r = { .rip = 0x1000, .rflags = 2 };
	struct kvm_run *run;
	int cpu, sz, rc = -1;

	cpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	sz = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (cpu < 0 || sz <= 0) {
		perror("KVM_CREATE_VCPU");
		goto out;
	}
	run = mmap(NULL, (size_t)sz, PROT_READ | PROT_WRITE, MAP_SHARED, cpu, 0);
	if (run == MAP_FAILED)
		goto out;
	memcpy(ram + 0x1000, code, sizeof(code));
	if (xioctl(cpu, KVM_GET_SREGS, &s, "KVM_GET_SREGS") == 0) {
		s.cs.base = 0;
		s.cs.selector = 0;
		if (xioctl(cpu, KVM_SET_SREGS, &s, "KVM_SET_SREGS") == 0 &&
		    xioctl(cpu, KVM_SET_REGS, &r, "KVM_SET_REGS") == 0 &&
		    xioctl(cpu, KVM_RUN, NULL, "KVM_RUN") == 0)
			rc = run->exit_reason == KVM_EXIT_IO ? 0 : -1;
	}
	if (rc < 0)
		fprintf(stderr, "kvmfloor: the vCPU did not exit on its out\n");
	munmap(run, (size_t)sz);
out:
	if (cpu >= 0)
		close(cpu);
	return rc;
}

/* One life; its parts in part[0..2] (us). */
static int
one(enum machine m, double part[3])
{
	struct kvm_userspace_memory_region slot = { .memory_size = RAM };
	double t0, t1, t2;
	int kvm, vm = -1, rc = -1;
	char *ram;

	t0 = now_us();
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		perror("/dev/kvm");
		return -1;
	}
	ram = mmap(NULL, RAM, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (ram == MAP_FAILED || vm < 0) {
		perror("KVM_CREATE_VM");
		goto out;
	}
	slot.userspace_addr = (unsigned long)ram;
	if (xioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot, "memory slot") ||
	    ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000ul) < 0 || vm_devices(vm, m))
		goto out;
	t1 = now_us();
	rc = vcpu_run(kvm, vm, ram);
	t2 = now_us();
out:
	if (ram != MAP_FAILED)
		munmap(ram, RAM);
	if (vm >= 0)
		close(vm);
	close(kvm);
	if (rc == 0) {
		part[0] = t1 - t0;
		part[1] = t2 - t1;
		part[2] = now_us() - t2;
	}
	return rc;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int
main(int argc, char **argv)
{
	static const char *names[] = { "bare", "irqchip", "pit", "noreinj" };
	static double total[MAX_RUNS], part[3][MAX_RUNS];
	double p[3];
	int runs = 20, m = -1, c, i, k;

	while ((c = getopt(argc, argv, "n:")) != -1) {
		if (c != 'n')
			goto usage;
		runs = atoi(optarg);
	}
	for (k = 0; optind < argc && k < 4; k++)
		if (strcmp(argv[optind], names[k]) == 0)
			m = k;
	if (m < 0 || runs < 1 || runs > MAX_RUNS)
		goto usage;
	if (one(m, p) < 0)	/* warm-up */
		return 1;
	for (i = 0; i < runs; i++) {
		if (one(m, p) < 0)
			return 1;
		for (k = 0; k < 3; k++)
			part[k][i] = p[k];
		total[i] = p[0] + p[1] + p[2];
	}
	qsort(total, (size_t)runs, sizeof(*total), cmp);
	printf("%s %.0f %.0f %.0f\n", names[m], median(total, runs), total[0],
	    total[runs - 1]);
	printf("parts %.0f %.0f %.0f\n", median(part[0], runs),
	    median(part[1], runs), median(part[2], runs));
	return 0;
usage:
	fprintf(stderr, "usage: kvmfloor [-n RUNS(1-%d)] bare|irqchip|pit|noreinj\n",
	    MAX_RUNS);
	return 2;
}
