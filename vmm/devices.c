/*
 * devices.c: the VM's virtio devices, from the config to the guest: open
 * each back end (a raw file, a tap), create its front end, wrap it in the
 * device core and put it on PCI bus 0 behind a virtio-pci function; and
 * the KVM plumbing the devices use:
 *
 *  - ioeventfd (KVM_IOEVENTFD): a driver's write to a queue's notify
 *    address signals the queue's kick eventfd inside KVM, without an exit
 *    to this process; the device's I/O thread wakes on it;
 *  - irqfd (KVM_IRQFD) with MSI routes (KVM_SET_GSI_ROUTING): each MSI-X
 *    vector of each device has a GSI and an eventfd bound to it; raising
 *    the vector is one write(2) to that eventfd, from any thread. When the
 *    guest programs a vector, the GSI's route is rewritten. KVM replaces the
 *    whole routing table at once, so ours keeps the irqchip's default
 *    routes (GSI 0-15 on the PICs and the IOAPIC, 16-23 on the IOAPIC) in
 *    front of the MSI ones. Without irqfd support a vector is raised with
 *    KVM_SIGNAL_MSI.
 *
 * Slots: disks first (00:01.0 on), then NICs, then the rng; BAR 0 of the
 * device in slot s is at PCI_MMIO_BASE + (s - 1) * VIRTIO_PCI_BAR_SIZE.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <unistd.h>

#include "blk.h"
#include "blk_qcow2.h"
#include "log.h"
#include "netbe.h"
#include "pci.h"
#include "virtio.h"
#include "virtio_pci.h"
#include "vmm.h"

#define VDEV_MAX_VECTORS	(VIRTIO_MAX_QUEUES + 1)
#define VDEV_MAX		(VMM_MAX_DISKS + VMM_MAX_NETS + 1)
#define IRQCHIP_GSIS		24	/* the IOAPIC's pins */
#define IRQCHIP_ROUTES		(IRQCHIP_GSIS + 16)	/* + the PICs */
#define MAX_ROUTES		(IRQCHIP_ROUTES + VDEV_MAX * VDEV_MAX_VECTORS)

/* One MSI-X vector: its GSI, its irqfd, the message the guest set. */
struct vdev_vector {
	unsigned gsi;
	int efd;		/* bound with KVM_IRQFD, or -1 */
	int routed;		/* the guest programmed it */
	uint64_t addr;
	uint32_t data;
};

/* One virtio device as the VMM holds it. */
struct vmm_vdev {
	struct vmm_devices *all;
	char name[32];
	struct virtio_dev vd;
	int vd_ready;		/* virtio_dev_init succeeded */
	struct virtio_pci *pci;
	struct vdev_vector vec[VDEV_MAX_VECTORS];
};

struct vmm_devices {
	int vm_fd;
	pthread_mutex_t lock;		/* the routing table */
	int have_irqfd;
	int ioeventfd_any_len;
	struct vmm_vdev dev[VDEV_MAX];
	unsigned n;
	struct {
		struct kvm_irq_routing hdr;
		struct kvm_irq_routing_entry e[MAX_ROUTES];
	} routes;
};

/* ---- interrupts ------------------------------------------------------------ */

/* The routes KVM_CREATE_IRQCHIP installs (kvm_setup_default_irq_routing). */
static unsigned
vmm_devices_default_routes(struct kvm_irq_routing_entry *e)
{
	unsigned n = 0;

	for (unsigned gsi = 0; gsi < IRQCHIP_GSIS; gsi++) {
		e[n++] = (struct kvm_irq_routing_entry){ .gsi = gsi,
		    .type = KVM_IRQ_ROUTING_IRQCHIP,
		    .u.irqchip = { .irqchip = KVM_IRQCHIP_IOAPIC, .pin = gsi } };
		if (gsi < 16)
			e[n++] = (struct kvm_irq_routing_entry){ .gsi = gsi,
			    .type = KVM_IRQ_ROUTING_IRQCHIP,
			    .u.irqchip = { .irqchip = gsi < 8 ?
			    KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
			    .pin = gsi % 8 } };
	}
	return n;
}

/* Rebuild and install the routing table. Called with all->lock held. */
static int
vmm_devices_commit_routes(struct vmm_devices *all)
{
	struct kvm_irq_routing_entry *e = all->routes.e;
	unsigned n = vmm_devices_default_routes(e);
	struct vdev_vector *v;

	for (unsigned d = 0; d < all->n; d++)
		for (unsigned i = 0; i < VDEV_MAX_VECTORS; i++) {
			v = &all->dev[d].vec[i];
			if (!v->routed)
				continue;
			e[n++] = (struct kvm_irq_routing_entry){ .gsi = v->gsi,
			    .type = KVM_IRQ_ROUTING_MSI,
			    .u.msi = { .address_lo = (uint32_t)v->addr,
			    .address_hi = (uint32_t)(v->addr >> 32),
			    .data = v->data } };
		}
	all->routes.hdr.nr = n;
	all->routes.hdr.flags = 0;
	if (ioctl(all->vm_fd, KVM_SET_GSI_ROUTING, &all->routes) < 0) {
		log_warn("KVM_SET_GSI_ROUTING (%u routes)", n);
		return -errno;
	}
	return 0;
}

static int
vmm_vdev_msi_route(void *arg, unsigned vec, uint64_t addr, uint32_t data)
{
	struct vmm_vdev *d = arg;
	struct vmm_devices *all = d->all;
	struct vdev_vector *v;
	int err = 0;

	if (vec >= VDEV_MAX_VECTORS)
		return -EINVAL;
	v = &d->vec[vec];
	pthread_mutex_lock(&all->lock);
	if (!v->routed || v->addr != addr || v->data != data) {
		v->addr = addr;
		v->data = data;
		v->routed = 1;
		if (all->have_irqfd)
			err = vmm_devices_commit_routes(all);
	}
	pthread_mutex_unlock(&all->lock);
	return err;
}

static void
vmm_vdev_msi_fire(void *arg, unsigned vec)
{
	struct vmm_vdev *d = arg;
	struct vdev_vector *v;
	struct kvm_msi msi;
	uint64_t one = 1;

	if (vec >= VDEV_MAX_VECTORS)
		return;
	v = &d->vec[vec];
	if (v->efd >= 0) {
		if (write(v->efd, &one, sizeof(one)) < 0)
			log_debug("%s: irqfd %u: %s", d->name, vec,
			    strerror(errno));
		return;
	}
	pthread_mutex_lock(&d->all->lock);
	msi = (struct kvm_msi){ .address_lo = (uint32_t)v->addr,
	    .address_hi = (uint32_t)(v->addr >> 32), .data = v->data };
	pthread_mutex_unlock(&d->all->lock);
	if (ioctl(d->all->vm_fd, KVM_SIGNAL_MSI, &msi) < 0)
		log_debug("%s: KVM_SIGNAL_MSI: %s", d->name, strerror(errno));
}

static int
vmm_vdev_ioeventfd(void *arg, uint64_t gpa, int efd, int on)
{
	struct vmm_vdev *d = arg;
	struct kvm_ioeventfd io = {
		.addr = gpa,
		.len = d->all->ioeventfd_any_len ? 0 : 2,
		.fd = efd,
		.flags = on ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN,
	};

	if (ioctl(d->all->vm_fd, KVM_IOEVENTFD, &io) < 0) {
		log_debug("%s: KVM_IOEVENTFD %s at %#llx: %s", d->name,
		    on ? "assign" : "deassign", (unsigned long long)gpa,
		    strerror(errno));
		return -errno;
	}
	return 0;
}

/* Give each vector of d a GSI and, with irqfd, an eventfd bound to it. */
static int
vmm_vdev_vectors(struct vmm_devices *all, struct vmm_vdev *d, unsigned idx)
{
	struct kvm_irqfd irqfd;

	for (unsigned i = 0; i < VDEV_MAX_VECTORS; i++) {
		d->vec[i].gsi = IRQCHIP_GSIS + idx * VDEV_MAX_VECTORS + i;
		d->vec[i].efd = -1;
	}
	for (unsigned i = 0; i < VDEV_MAX_VECTORS; i++) {
		if (!all->have_irqfd)
			continue;
		d->vec[i].efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (d->vec[i].efd < 0) {
			log_warn("%s: eventfd", d->name);
			return -errno;
		}
		irqfd = (struct kvm_irqfd){ .fd = (uint32_t)d->vec[i].efd,
		    .gsi = d->vec[i].gsi };
		if (ioctl(all->vm_fd, KVM_IRQFD, &irqfd) < 0) {
			log_warn("%s: KVM_IRQFD gsi %u", d->name,
			    d->vec[i].gsi);
			return -errno;
		}
	}
	return 0;
}

/* ---- back ends and front ends ------------------------------------------------ */

/*
 * The block back ends by image format (the config pins the format; the
 * file's contents never choose it). open_chain opens an image over the
 * chain of backing files the config pins (blk_qcow2.h); NULL: the format
 * has none.
 */
static const struct vmm_blk_format {
	const struct blk_backend_ops *ops;
	int (*open_chain)(const char *path, int ro,
	    const struct blk_qcow2_level *chain, unsigned n,
	    struct blk_backend **out);
} vmm_blk_formats[VMM_DISK_FORMATS] = {
	[VMM_DISK_RAW] = { &blk_raw_ops, NULL },
	[VMM_DISK_QCOW2] = { &blk_qcow2_ops, blk_qcow2_open_chain },
};

_Static_assert(VMM_DISK_MAX_BACKING <= BLK_QCOW2_CHAIN_MAX,
    "the config pins longer backing chains than the qcow2 back end opens");

int
vmm_devices_open_disk(const struct vmm_disk_config *dc, int ro,
    struct blk_backend **out)
{
	struct blk_qcow2_level chain[VMM_DISK_MAX_BACKING];
	const struct vmm_blk_format *f;

	if ((unsigned)dc->format >= VMM_DISK_FORMATS ||
	    dc->nbacking > VMM_DISK_MAX_BACKING)
		return -EINVAL;
	f = &vmm_blk_formats[dc->format];
	if (dc->nbacking == 0)
		return f->ops->open(dc->path, ro, out);
	if (f->open_chain == NULL) {
		log_error("disk %s: format %s has no backing file", dc->path,
		    f->ops->name);
		return -EINVAL;
	}
	for (unsigned i = 0; i < dc->nbacking; i++)
		chain[i] = (struct blk_qcow2_level){ dc->backing[i].path,
		    vmm_disk_format_name(dc->backing[i].format) };
	return f->open_chain(dc->path, ro, chain, dc->nbacking, out);
}

static void *
vmm_devices_blk(const struct vmm_disk_config *dc)
{
	struct blk_backend *be;
	void *fe;

	if (vmm_devices_open_disk(dc, dc->ro, &be) < 0)
		return NULL;
	log_info("disk %s: %s, %llu bytes%s%s", dc->path, be->ops->name,
	    (unsigned long long)be->size, dc->ro ? ", read-only" : "",
	    dc->nbacking ? ", over a pinned backing chain (read-only):" : "");
	for (unsigned i = 0; i < dc->nbacking; i++)
		log_info("disk %s: backing file %u: %s (%s)", dc->path, i + 1,
		    dc->backing[i].path,
		    vmm_disk_format_name(dc->backing[i].format));
	fe = virtio_blk_create(be, dc->serial);
	if (fe == NULL)
		be->ops->close(be);
	return fe;
}

/* A random locally administered unicast MAC (x2:xx:xx:xx:xx:xx). */
static void
vmm_devices_random_mac(uint8_t mac[6])
{
	if (getrandom(mac, 6, 0) != 6)
		for (int i = 0; i < 6; i++)
			mac[i] = (uint8_t)rand();
	mac[0] = (uint8_t)((mac[0] & 0xfe) | 0x02);
}

static void *
vmm_devices_net(const struct vmm_net_config *nc)
{
	struct net_backend *nb;
	char what[32];
	uint8_t mac[6];
	void *fe;
	int err;

	err = nc->tap ? net_tap_open_name(nc->tap, &nb) :
	    net_tap_open_fd(nc->fd, &nb);
	if (err < 0)
		return NULL;
	memcpy(mac, nc->mac, 6);
	if (!nc->has_mac)
		vmm_devices_random_mac(mac);
	if (nc->tap)
		snprintf(what, sizeof(what), "tap %s", nc->tap);
	else
		snprintf(what, sizeof(what), "fd %d", nc->fd);
	log_info("net %s: mac %02x:%02x:%02x:%02x:%02x:%02x", what, mac[0],
	    mac[1], mac[2], mac[3], mac[4], mac[5]);
	fe = virtio_net_create(nb, mac);
	if (fe == NULL)
		nb->ops->close(nb);
	return fe;
}

/* Put front end fe (of kind) in the next slot. 0 or -errno (logged). */
static int
vmm_devices_add(struct vmm *vm, enum virtio_kind kind, void *fe,
    const char *name)
{
	struct vmm_devices *all = vm->devices;
	unsigned idx = all->n, slot = idx + 1;
	struct vmm_vdev *d = &all->dev[idx];
	struct virtio_host host;
	int err;

	d->all = all;
	snprintf(d->name, sizeof(d->name), "%s", name);
	all->n++;
	if ((err = vmm_vdev_vectors(all, d, idx)) < 0)
		goto fail_fe;
	host = (struct virtio_host){ .arg = d, .mem = &vm->mem,
	    .msi_route = vmm_vdev_msi_route, .msi_fire = vmm_vdev_msi_fire,
	    .ioeventfd = vmm_vdev_ioeventfd };
	if ((err = virtio_dev_init(&d->vd, virtio_frontends[kind], fe,
	    &host)) < 0) {
		log_warnx("%s: virtio device: %s", name, strerror(-err));
		goto fail_fe;
	}
	d->vd_ready = 1;
	err = virtio_pci_create(&d->vd, vm->dev[VMM_DEV_PCI].state, slot,
	    PCI_MMIO_BASE + (uint64_t)idx * VIRTIO_PCI_BAR_SIZE, &d->pci);
	if (err < 0) {
		log_warnx("%s: PCI slot %u: %s", name, slot, strerror(-err));
		return err;
	}
	log_debug("%s: PCI 00:%02x.0", name, slot);
	return 0;
fail_fe:
	virtio_frontends[kind]->destroy(fe);
	return err;
}

/* ---- the VMM's interface ------------------------------------------------------ */

int
vmm_devices_create(struct vmm *vm, const struct vmm_config *cfg)
{
	struct vmm_devices *all;
	char name[32];
	void *fe;
	int err;

	if ((all = calloc(1, sizeof(*all))) == NULL)
		return -ENOMEM;
	vm->devices = all;
	all->vm_fd = vm->vm_fd;
	pthread_mutex_init(&all->lock, NULL);
	all->have_irqfd = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION,
	    KVM_CAP_IRQFD) > 0 && ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION,
	    KVM_CAP_IRQ_ROUTING) > 0;
	all->ioeventfd_any_len = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION,
	    KVM_CAP_IOEVENTFD_ANY_LENGTH) > 0;
	if (!all->have_irqfd)
		log_info("no irqfd: MSIs go through KVM_SIGNAL_MSI");
	for (unsigned i = 0; i < cfg->ndisks; i++) {
		snprintf(name, sizeof(name), "virtio-blk%u", i);
		if ((fe = vmm_devices_blk(&cfg->disk[i])) == NULL)
			return -EIO;
		if ((err = vmm_devices_add(vm, VIRTIO_KIND_BLK, fe, name)) < 0)
			return err;
	}
	for (unsigned i = 0; i < cfg->nnets; i++) {
		snprintf(name, sizeof(name), "virtio-net%u", i);
		if ((fe = vmm_devices_net(&cfg->net[i])) == NULL)
			return -EIO;
		if ((err = vmm_devices_add(vm, VIRTIO_KIND_NET, fe, name)) < 0)
			return err;
	}
	if (cfg->rng) {
		if ((fe = virtio_rng_create()) == NULL)
			return -ENOMEM;
		if ((err = vmm_devices_add(vm, VIRTIO_KIND_RNG, fe,
		    "virtio-rng")) < 0)
			return err;
	}
	return 0;
}

int
vmm_devices_start(struct vmm *vm)
{
	struct vmm_devices *all = vm->devices;
	int err;

	for (unsigned i = 0; all && i < all->n; i++) {
		if ((err = virtio_dev_start_thread(&all->dev[i].vd)) < 0) {
			log_warnx("%s: I/O thread: %s", all->dev[i].name,
			    strerror(-err));
			return err;
		}
	}
	return 0;
}

/* Stop the I/O threads: nothing touches guest memory after this. */
void
vmm_devices_stop(struct vmm *vm)
{
	struct vmm_devices *all = vm->devices;

	for (unsigned i = 0; all && i < all->n; i++)
		if (all->dev[i].vd_ready)
			virtio_dev_stop_thread(&all->dev[i].vd);
}

void
vmm_devices_destroy(struct vmm *vm)
{
	struct vmm_devices *all = vm->devices;
	struct vmm_vdev *d;

	if (all == NULL)
		return;
	vmm_devices_stop(vm);
	for (unsigned i = 0; i < all->n; i++) {
		d = &all->dev[i];
		if (d->pci)
			virtio_pci_destroy(d->pci);
		if (d->vd_ready)
			virtio_dev_destroy(&d->vd);
		for (unsigned v = 0; v < VDEV_MAX_VECTORS; v++)
			if (d->vec[v].efd >= 0)
				close(d->vec[v].efd);
	}
	pthread_mutex_destroy(&all->lock);
	free(all);
	vm->devices = NULL;
}
