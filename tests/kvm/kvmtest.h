/* kvmtest.h: tiny-guest KVM tests, selftests style, with TAP output. */
#ifndef DROVER_KVMTEST_H
#define DROVER_KVMTEST_H

#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

struct kt_vm {
	int kvm;
	int vm;
	int vcpu;
	uint8_t *mem;
	size_t mem_size;
	struct kvm_run *run;
};

/* Print "ok - name" or "not ok - name: why"; returns cond. */
int kt_check(int cond, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Print "ok - name # SKIP why". */
void kt_skip(const char *name, const char *why);
/* Summary exit status: 0 if nothing failed. */
int kt_status(void);

/*
 * Open /dev/kvm, create a VM with mem_size bytes of RAM at GPA 0 and one
 * vCPU in real mode with CS:IP = 0:entry. 0 on success, -errno on failure
 * (-ENOENT when /dev/kvm is absent: the caller SKIPs).
 */
int kt_vm_create(struct kt_vm *t, size_t mem_size, uint16_t entry);
void kt_vm_destroy(struct kt_vm *t);
/* KVM_RUN once; returns the exit reason or -errno. */
int kt_vm_run(struct kt_vm *t);

#endif
