/*
 * images_apid: droverd's local API with the image store's ops and nothing
 * else (a real store, loop, localapi and images_register_api), for
 * tests/agent/images-api.sh to drive droverctl image ... through the
 * socket until droverd itself wires the store in.
 *
 * usage: images_apid STATE-DIR SOCKET [AGENT-CONFIG.json]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "images.h"
#include "localapi.h"
#include "log.h"
#include "loop.h"
#include "store.h"

int
main(int argc, char **argv)
{
	char dir[4096], err[1024] = "";
	struct images *im = NULL;
	struct store *st = NULL;
	struct localapi *api;
	json_t *conf = NULL;
	struct loop *l;

	log_init("images_apid", LOG_LEVEL_INFO);
	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: images_apid STATE-DIR SOCKET [CONFIG]\n");
		return 2;
	}
	if (argc == 4 && (conf = json_load_file(argv[3], 0, NULL)) == NULL)
		fatalx("%s: bad JSON", argv[3]);
	snprintf(dir, sizeof(dir), "%s/objects", argv[1]);
	if (store_open(dir, &st, err, sizeof(err)) < 0)
		fatalx("store: %s", err);
	snprintf(dir, sizeof(dir), "%s/images", argv[1]);
	if (images_open(dir, json_object_get(conf, "images"), &im, err,
	    sizeof(err)) < 0)
		fatalx("images: %s", err);
	if ((l = loop_new()) == NULL ||
	    (api = localapi_new(l, st, argv[2], err, sizeof(err))) == NULL)
		fatalx("local API: %s", err);
	if (images_register_api(im, api) < 0)
		fatalx("images_register_api failed");
	printf("ready\n");
	fflush(stdout);
	loop_run(l);
	localapi_free(api);
	loop_free(l);
	images_close(im);
	store_close(st);
	json_decref(conf);
	return 0;
}
