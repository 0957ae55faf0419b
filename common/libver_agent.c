/* libver_agent.c: the libraries droverd and droverctl link. */
#include "libver.h"

#include <jansson.h>
#include <libwebsockets.h>
#include <mbedtls/version.h>
#include <yaml.h>
#include <zlib.h>

void
libver_print_agent(FILE *f)
{
	char tls[32];

	mbedtls_version_get_string(tls);
	fprintf(f, "mbedtls %s\n", tls);
	fprintf(f, "libwebsockets %s\n", lws_get_library_version());
	fprintf(f, "libyaml %s\n", yaml_get_version_string());
	fprintf(f, "jansson %s\n", jansson_version_str());
	fprintf(f, "zlib %s\n", zlibVersion());
}
