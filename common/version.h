/* version.h: the one place the Drover version lives. */
#ifndef DROVER_VERSION_H
#define DROVER_VERSION_H
#define DROVER_VERSION "0.1.0"
#endif
