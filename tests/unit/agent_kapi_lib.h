/*
 * agent_kapi_lib.h: what the kapi unit tests share: a real store (temp
 * dir), loop and handler state, users (admin in system:masters, alice,
 * a viewer, bob), and requests through the test transport
 * (tests/agent/kapi_fake.c).
 */
#ifndef DROVER_AGENT_KAPI_LIB_H
#define DROVER_AGENT_KAPI_LIB_H

#include <jansson.h>

#include "../agent/kapi_fake.h"
#include "kapi.h"

struct kt {
	char dir[64];
	struct store *s;
	struct loop *l;
	struct kapi *k;
	struct kapi_user admin, alice, viewer, bob;
};

int kt_setup(void **state);
int kt_teardown(void **state);

/* One request (query, ctype, accept, body may be NULL); free() the conn. */
struct kapi_conn *kt_req(struct kt *t, const struct kapi_user *u,
    const char *method, const char *path, const char *query,
    const char *ctype, const char *accept, const char *body);
/* The same as admin, JSON body. */
struct kapi_conn *kt_admin(struct kt *t, const char *method, const char *path,
    const char *query, const char *body);
/* The response body as JSON (new reference; fails the test if not). */
json_t *kt_json(const struct kapi_conn *c);
/* A string member by dotted path, "" when absent. */
const char *kt_str(const json_t *o, const char *path);
/* Run the loop for ms milliseconds. */
void kt_run(struct kt *t, int ms);

#define KT_TABLE "application/json;as=Table;v=v1;g=meta.k8s.io," \
	"application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
#define KT_VMIRS "/apis/kubevirt.io/v1/namespaces/%s/" \
	"virtualmachineinstancereplicasets"

/* The lab's VMIRS (JSON), name and namespace given. */
char *kt_vmirs_json(const char *name, const char *ns, int replicas);

#endif
