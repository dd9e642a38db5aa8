/*
 * builtin.h — the default schema and rule packs compiled into the library
 * (generated from data/ by build-aux/embed.sh).
 */
#ifndef CP_BUILTIN_H
#define CP_BUILTIN_H

#include <stddef.h>

typedef struct cp_builtin_file {
	const char *name; /* file name under data/, for diagnostics */
	const char *data; /* NUL-terminated YAML text */
	size_t len;
} cp_builtin_file;

extern const cp_builtin_file cp__builtin_schema;
extern const cp_builtin_file cp__builtin_packs[]; /* terminated by {0} */
extern const size_t cp__builtin_pack_count;

#endif
