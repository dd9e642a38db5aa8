/*
 * fuzz.h — shared by the fuzz harnesses of tests/fuzz (DESIGN §9: every
 * loader is fuzzed).
 *
 * Each harness defines LLVMFuzzerTestOneInput and is linked either with
 * libFuzzer (make fuzz, clang -fsanitize=fuzzer) or with replay.c, which
 * runs it over the files of a corpus (make check).  A harness drives the
 * library through its public API only, except where a test knob reaches a
 * boundary case the public API cannot (said where it happens).
 *
 * Besides "no crash, no leak, no sanitizer report", the harnesses check
 * properties that must hold for every input (FZ_CHECK): a failed load
 * leaves no handle and says why, everything stored reads back through
 * every getter consistently, and what was stored survives a round trip
 * (CSV text form, snapshot save and open).  A property that fails aborts,
 * which libFuzzer and replay both report as a crash.
 */
#ifndef CP_FUZZ_H
#define CP_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include <custprof/custprof.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_CHECK(cond) ((cond) ? (void)0 : fz_fail(__FILE__, __LINE__, #cond))
_Noreturn void fz_fail(const char *file, int line, const char *what);

/* 64-bit FNV-1a of bytes, continuing from h (start with FZ_HASH_INIT). */
#define FZ_HASH_INIT UINT64_C(0xcbf29ce484222325)
uint64_t fz_hash(uint64_t h, const void *data, size_t len);

/*
 * Read every profile of the store through the public getters (iterator,
 * foreach, lookup by key, every typed getter, the text form into buffers
 * of every interesting size) and check that they agree.  Returns a digest
 * of the contents that does not depend on the order of the profiles.
 * FZ_LOOKUP_MAY_FAIL: a lookup of a profile's key may find nothing, and a
 * key may be empty (a snapshot whose rows or index were forged with valid
 * CRCs: open checks that every id and slot is safe to follow, only verify
 * checks that each key is found).
 */
#define FZ_LOOKUP_MAY_FAIL 0x1
uint64_t fz_walk_store(const cp_store *store, int flags);

/* Format every entry of diag; check each is complete.  If failed, there must
 * be at least one error. */
void fz_check_diag(cp_diag *diag, int failed);

/*
 * The store as CSV (',' delimiter, a header of every column, quoting where
 * needed), in a malloc'd buffer of *len bytes.  NULL without memory.
 */
char *fz_store_csv(const cp_store *store, size_t *len);

/* A path for a scratch file of this process, under /dev/shm when it can be
 * written (no disk I/O per input), else $TMPDIR or /tmp.  Static storage:
 * one buffer per name slot (0..3).  The files are removed at exit. */
const char *fz_scratch_path(int slot, const char *suffix);
void fz_write_file(const char *path, const void *data, size_t len);
/* Whole file, malloc'd, NUL-terminated; NULL if it cannot be read. */
char *fz_read_file(const char *path, size_t *len);

#endif
