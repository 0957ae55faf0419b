/*
 * vmm.h: one virtual machine on /dev/kvm: its KVM objects, guest memory,
 * vCPU threads, devices, and the state that decides how it ends.
 *
 * Threads: the main thread sets everything up, then waits (vmm_wait) for
 * a stop request or a signal. Each vCPU runs KVM_RUN in its own thread
 * and dispatches I/O exits to the device table (bus.c), where each device
 * has its own lock. The console has a writer thread and, with input, a
 * reader thread (console.c).
 */
#ifndef DROVER_VMM_H
#define DROVER_VMM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "boot.h"
#include "config.h"
#include "devhost.h"
#include "exitcode.h"
#include "guestmem.h"

struct console;
struct control;
struct vmm_devices;

/* Address spaces of the device table. */
enum vmm_space {
	VMM_SPACE_PIO,
	VMM_SPACE_MMIO,
};

/* The devices, in the order of the table in bus.c. */
enum vmm_dev_id {
	VMM_DEV_UART,
	VMM_DEV_I8042,
	VMM_DEV_BOOTTIMER,
	VMM_DEV_PCI,
	VMM_DEV_RTC,
	VMM_DEV_COUNT,
};

struct vmm_dev {
	const struct vmm_dev_ops *ops;
	void *state;
	pthread_mutex_t lock;
};

/* Exit counters, per vCPU (the control socket's status reports them). */
struct vmm_vcpu_stats {
	_Atomic uint64_t runs;	/* atomic: the control socket reads them */
	_Atomic uint64_t io;
	_Atomic uint64_t mmio;
	_Atomic uint64_t unhandled;	/* accesses no device claimed */
	_Atomic uint64_t other;
};

struct vmm_vcpu {
	struct vmm *vm;
	unsigned id;		/* also its APIC ID */
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	int started;
	struct vmm_vcpu_stats stats;
};

struct vmm {
	int kvm_fd;
	int vm_fd;
	int reaper_fd;		/* reaper.c: its pipe, or -1 */
	pid_t reaper_pid;
	size_t run_size;
	uint8_t *ram;
	uint64_t ram_size;
	struct gmem mem;
	unsigned ncpus;
	struct vmm_vcpu *vcpus;
	struct kvm_cpuid2 *cpuid;	/* KVM_GET_SUPPORTED_CPUID */
	struct timespec start;		/* CLOCK_MONOTONIC at VMM start */

	struct vmm_dev_host host;
	struct vmm_dev dev[VMM_DEV_COUNT];
	struct console *console;
	struct control *control;
	struct vmm_devices *devices;	/* virtio devices (devices.c) */

	pthread_mutex_t lock;		/* the fields below */
	int stopping;
	int exit_code;
	int released;			/* vCPUs may enter the guest */
	pthread_cond_t go;		/* released or stopping changed */
	int shutdown_asked;		/* Ctrl+Alt+Del sent; waiting */
	struct timespec shutdown_deadline;	/* CLOCK_MONOTONIC */
	unsigned stop_timeout;		/* seconds */
	int stop_fd;			/* eventfd: wakes the main thread */

	/* coalesced.c: the ring of port writes KVM queued without an exit
	 * (NULL: none), the lock its consumers take, writes replayed. */
	struct kvm_coalesced_mmio_ring *_Atomic cring;
	uint32_t cring_max;
	int cring_init;
	pthread_mutex_t cring_lock;
	_Atomic uint64_t coalesced;
};

/* kvm.c: /dev/kvm, the VM, memory, irqchip, PIT; with rc, the reaper
 * (reaper.h) that frees the VM after the VMM's exit. 0 or -errno (logged). */
struct reaper_conf;
int vmm_kvm_open(struct vmm *vm, uint64_t ram_size,
    const struct reaper_conf *rc);
void vmm_kvm_close(struct vmm *vm);
/* KVM_IRQ_LINE on an ISA IRQ. */
void vmm_irq_line(struct vmm *vm, unsigned irq, int level);

/* vcpu.c: create and set up the vCPUs; start, stop and join them. */
int vmm_vcpus_create(struct vmm *vm, unsigned n,
    const struct boot_entry *entry);
/* Threads start and wait; vmm_vcpus_release lets them run the guest. */
int vmm_vcpus_start(struct vmm *vm);
void vmm_vcpus_release(struct vmm *vm);
void vmm_vcpus_kick(struct vmm *vm);
void vmm_vcpus_join(struct vmm *vm);
void vmm_vcpus_destroy(struct vmm *vm);

/* coalesced.c: port writes KVM queues without an exit (see there). After
 * the vCPUs are created; without host support every write exits. */
void vmm_coalesced_init(struct vmm *vm);
/* Replay the queued writes through the bus, in order; how many. Thread-safe. */
unsigned vmm_coalesced_drain(struct vmm *vm);
/* The last drain, once the vCPUs are stopped (safe without init). */
void vmm_coalesced_stop(struct vmm *vm);
/* The main thread drains every POLL ms while it finds writes, doubling
 * the wait up to IDLE ms while it finds none (guests that write and wait). */
#define VMM_COALESCED_POLL_MS	50
#define VMM_COALESCED_IDLE_MS	1000

/* cpuid.c: the CPUID table for vCPU id of n, from KVM's supported list. */
struct kvm_cpuid2 *cpuid_for_vcpu(const struct kvm_cpuid2 *supported,
    unsigned id, unsigned n);
struct kvm_cpuid2 *cpuid_get_supported(int kvm_fd);

/* bus.c: the device table, and dispatch of guest accesses. */
int vmm_bus_create(struct vmm *vm);
void vmm_bus_destroy(struct vmm *vm);
/* 1 if a device took the access, 0 if none did (reads get all ones). */
int vmm_bus_access(struct vmm *vm, enum vmm_space space, uint64_t addr,
    uint8_t *data, unsigned len, int is_write);
/* Press Ctrl+Alt+Del on the i8042 keyboard. */
void vmm_bus_ctrl_alt_del(struct vmm *vm);
/* Console input into the UART (the console's input callback). */
size_t vmm_bus_console_input(void *vm, const uint8_t *buf, size_t n);

/* devices.c: the virtio devices the config names, on PCI bus 0, with
 * ioeventfd and irqfd. 0 or -errno (logged). */
int vmm_devices_create(struct vmm *vm, const struct vmm_config *cfg);
/* Open disk dc's back end by its pinned format (and backing chain), ro or
 * read-write. 0 and *out, or -errno (logged). */
struct blk_backend;
int vmm_devices_open_disk(const struct vmm_disk_config *dc, int ro,
    struct blk_backend **out);
int vmm_devices_start(struct vmm *vm);	/* their I/O threads */
void vmm_devices_stop(struct vmm *vm);
void vmm_devices_destroy(struct vmm *vm);

/* vmm.c: the lifecycle. */
/* Ask the VM to end with code; the first request wins. Thread-safe. */
void vmm_request_exit(struct vmm *vm, int code, const char *why);
int vmm_is_stopping(struct vmm *vm);
/*
 * The host wants the VM gone (SIGTERM, SIGINT): ask the guest to shut down
 * with Ctrl+Alt+Del and give it vm->stop_timeout seconds; a second request
 * stops the VM at once (VMM_EXIT_STOPPED).
 */
void vmm_request_shutdown(struct vmm *vm, const char *why);
/* Build, run and tear down the VM described by cfg; the exit code. */
int vmm_run(const struct vmm_config *cfg);

#endif
