/*
 * io.h — the system calls of the durable layer (snapshot.c, wal.c) behind
 * one seam, so that the tests can make any of them fail.
 *
 * Each function behaves as the system call it is named after (-1 and errno
 * on failure) unless a fault is armed: cp__io_inject(n, err, ops, short)
 * makes the n-th following call of the kinds in ops fail with errno err (a
 * failing write may first write half of its bytes: a short write, after
 * which the next write fails).  The unit tests step n through every call
 * of an operation to fail each call site in turn.
 */
#ifndef CP_IO_H
#define CP_IO_H

#include "internal.h"

#include <sys/types.h>

/* Kinds of calls, for cp__io_inject's mask. */
enum cp_io_kind {
	CP_IO_OPEN = 1u << 0,     /* open(2) of a file or directory */
	CP_IO_WRITE = 1u << 1,    /* write(2), pwrite(2) */
	CP_IO_READ = 1u << 2,     /* pread(2) */
	CP_IO_SYNC = 1u << 3,     /* fsync(2), fdatasync(2) */
	CP_IO_TRUNCATE = 1u << 4, /* ftruncate(2) */
	CP_IO_CLOSE = 1u << 5,    /* close(2) */
	CP_IO_RENAME = 1u << 6,   /* rename(2) */
	CP_IO_UNLINK = 1u << 7,   /* unlink(2) */
	CP_IO_MAP = 1u << 8,      /* mmap(2) */
	CP_IO_ALL = 0x1ffu
};

int cp__io_open(const char *path, int flags, unsigned mode);
ssize_t cp__io_write(int fd, const void *buf, size_t n);
ssize_t cp__io_pwrite(int fd, const void *buf, size_t n, uint64_t off);
ssize_t cp__io_pread(int fd, void *buf, size_t n, uint64_t off);
int cp__io_fsync(int fd);
int cp__io_fdatasync(int fd);
int cp__io_ftruncate(int fd, uint64_t len);
int cp__io_close(int fd);
int cp__io_rename(const char *from, const char *to);
int cp__io_unlink(const char *path);
/* A read-only shared mapping of the first len bytes of fd; NULL and errno. */
void *cp__io_map(int fd, size_t len);

/* Loops over short transfers and EINTR.  0, or -1 with errno. */
int cp__io_write_all(int fd, const void *buf, size_t n);
int cp__io_pwrite_all(int fd, const void *buf, size_t n, uint64_t off);
/* Bytes read (fewer than n only at the end of the file), or -1 with errno. */
ssize_t cp__io_pread_all(int fd, void *buf, size_t n, uint64_t off);
/* Open the directory of path and fsync it (after a rename or a create in
 * it).  0, or -1 with errno. */
int cp__io_sync_dir(const char *path);

/* 64 random bits (getrandom, or a clock/pid mix when it is unavailable). */
uint64_t cp__io_random64(void);

/*
 * Test hook: the countdown-th call (1 = the next one) of a kind in ops
 * fails with errno err; short_write: a failing write first writes half its
 * bytes and reports them, and the following write fails.  countdown 0
 * disarms.  cp__io_calls() counts the calls of the kinds in ops since the
 * last cp__io_inject (to learn how many call sites an operation has).
 * Process-wide; for the unit tests.
 */
void cp__io_inject(long countdown, int err, unsigned ops, bool short_write);
long cp__io_calls(void);

#endif /* CP_IO_H */
