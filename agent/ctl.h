/*
 * ctl.h: droverctl's pieces: the local socket client (ctl_client.c), the
 * commands (ctl_get.c, ctl_apply.c) and the hook for other modules'
 * commands.
 *
 * Commands return droverctl's exit status: 0, 1 (an error, printed: the
 * server's message as kubectl prints it, "Error from server (REASON):
 * MESSAGE"), 2 (usage).
 */
#ifndef DROVER_CTL_H
#define DROVER_CTL_H

#include <stddef.h>

#include <jansson.h>

struct ctl_conn {
	int fd;
	char *buf;
	size_t len, cap;
};

/* Connect to droverd's local socket; -1 with the error printed. */
int ctl_connect(struct ctl_conn *c, const char *socket);
void ctl_close(struct ctl_conn *c);
/*
 * Send req (a reference is taken: req is decref'd) and read the response
 * line. NULL on a transport error (printed).
 */
json_t *ctl_call(struct ctl_conn *c, json_t *req);
/* One call on a new connection. */
json_t *ctl_call1(const char *socket, json_t *req);
/*
 * If resp is {"error": Status}: print "Error from server (REASON):
 * [PREFIX]MESSAGE" and return 1; else 0.
 */
int ctl_server_error(const json_t *resp, const char *prefix);

/* Flags common to the commands: -n/--namespace, -A, -o, -f, --replicas. */
struct ctl_args {
	const char *ns;
	int all_ns;
	const char *output;
	const char *files[16];
	int nfiles;
	long long replicas;
	int have_replicas;
	const char *pos[8];	/* positional arguments */
	int npos;
};
/* Parse argv[1..] (argv[0] is the command); 0 or 2 (usage, printed). */
int ctl_parse(int argc, char **argv, struct ctl_args *a);

int ctl_get_main(int argc, char **argv, const char *socket);
int ctl_apply_main(int argc, char **argv, const char *socket);
int ctl_delete_main(int argc, char **argv, const char *socket);
int ctl_scale_main(int argc, char **argv, const char *socket);

/*
 * `droverctl image ...`: written by the images module in agent/ctl_image.c
 * (agent/mk/droverd.mk links that file when it exists; without it the
 * command says it is not built). argv[0] is "image".
 */
int ctl_image_main(int argc, char **argv, const char *socket);

/*
 * `droverctl certs ...`, `droverctl kubeconfig ...` (agent/ctl_certs.c)
 * and `droverctl console ...` (agent/ctl_console.c), issue 6; linked by
 * agent/mk/certs.mk (droverctl.c declares them weak). argv[0] is the
 * command.
 */
int ctl_certs_main(int argc, char **argv, const char *socket);
int ctl_kubeconfig_main(int argc, char **argv, const char *socket);
int ctl_console_main(int argc, char **argv, const char *socket);

#endif
