/* ctl_kubeconfig.h: droverctl's reading of a kubeconfig (ctl_kubeconfig.c). */
#ifndef DROVER_CTL_KUBECONFIG_H
#define DROVER_CTL_KUBECONFIG_H

#include <stddef.h>

struct ctl_kubeconfig {
	char *server;
	char *ns;			/* the context's namespace, or NULL */
	char *ca, *crt, *key;		/* PEM (NUL-terminated) */
	size_t ca_len, crt_len, key_len;
	int insecure;
};

/* The kubeconfig's path: flag, else $KUBECONFIG's first readable file,
 * else ~/.kube/config (buf holds it). */
const char *ctl_kc_path(const char *flag, char *buf, size_t len);
/* The current context of path: 0, or -1 with the reason on stderr. */
int ctl_kc_load(const char *path, struct ctl_kubeconfig *kc);
void ctl_kc_free(struct ctl_kubeconfig *kc);

#endif
