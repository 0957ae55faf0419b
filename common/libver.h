/* libver.h: versions of the third-party libraries a binary links. */
#ifndef DROVER_LIBVER_H
#define DROVER_LIBVER_H

#include <stdio.h>

/* Each prints "name version" lines for the libraries it names. */
void libver_print_vmm(FILE *f);
void libver_print_agent(FILE *f);

#endif
