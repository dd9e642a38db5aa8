/*
 * io.c — the system calls of the durable layer, with fault injection for
 * the tests (io.h).
 */
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/random.h>
#endif

/* ---- fault injection ---- */

static _Atomic long fault_countdown;
static _Atomic long fault_calls;
static _Atomic int fault_err;
static _Atomic unsigned fault_ops;
static atomic_bool fault_short;
static atomic_bool fault_pending; /* a short write happened: the next write fails */

void cp__io_inject(long countdown, int err, unsigned ops, bool short_write)
{
	atomic_store(&fault_err, err ? err : EIO);
	atomic_store(&fault_ops, ops);
	atomic_store(&fault_short, short_write);
	atomic_store(&fault_pending, false);
	atomic_store(&fault_calls, 0);
	atomic_store(&fault_countdown, countdown > 0 ? countdown : 0);
}

long cp__io_calls(void)
{
	return atomic_load(&fault_calls);
}

/* True when this call is to fail (errno set). */
static bool fault(unsigned kind)
{
	if (!(atomic_load_explicit(&fault_ops, memory_order_relaxed) & kind))
		return false;
	atomic_fetch_add_explicit(&fault_calls, 1, memory_order_relaxed);
	if (kind == CP_IO_WRITE && atomic_exchange(&fault_pending, false)) {
		errno = atomic_load(&fault_err);
		return true;
	}
	long n = atomic_load_explicit(&fault_countdown, memory_order_relaxed);
	if (n <= 0)
		return false;
	if (atomic_fetch_sub(&fault_countdown, 1) != 1)
		return false;
	errno = atomic_load(&fault_err);
	return true;
}

/* A failing write that first writes half its bytes (short write mode). */
static ssize_t short_write(int fd, const void *buf, size_t n, const uint64_t *off)
{
	int err = errno;
	if (!atomic_load(&fault_short) || n < 2) {
		errno = err;
		return -1;
	}
	ssize_t k = off ? pwrite(fd, buf, n / 2, (off_t)*off) : write(fd, buf, n / 2);
	if (k > 0)
		atomic_store(&fault_pending, true);
	return k;
}

/* ---- the calls ---- */

int cp__io_open(const char *path, int flags, unsigned mode)
{
	if (fault(CP_IO_OPEN))
		return -1;
	return open(path, flags | O_CLOEXEC, (mode_t)mode);
}

ssize_t cp__io_write(int fd, const void *buf, size_t n)
{
	if (fault(CP_IO_WRITE))
		return short_write(fd, buf, n, NULL);
	return write(fd, buf, n);
}

ssize_t cp__io_pwrite(int fd, const void *buf, size_t n, uint64_t off)
{
	if (fault(CP_IO_WRITE))
		return short_write(fd, buf, n, &off);
	return pwrite(fd, buf, n, (off_t)off);
}

ssize_t cp__io_pread(int fd, void *buf, size_t n, uint64_t off)
{
	if (fault(CP_IO_READ))
		return -1;
	return pread(fd, buf, n, (off_t)off);
}

int cp__io_fsync(int fd)
{
	if (fault(CP_IO_SYNC))
		return -1;
	return fsync(fd);
}

int cp__io_fdatasync(int fd)
{
	if (fault(CP_IO_SYNC))
		return -1;
#if defined(__APPLE__)
	return fsync(fd);
#else
	return fdatasync(fd);
#endif
}

int cp__io_ftruncate(int fd, uint64_t len)
{
	if (fault(CP_IO_TRUNCATE))
		return -1;
	return ftruncate(fd, (off_t)len);
}

int cp__io_close(int fd)
{
	if (fault(CP_IO_CLOSE)) {
		int err = errno;
		close(fd); /* the descriptor is gone either way, as with EIO from close */
		errno = err;
		return -1;
	}
	return close(fd);
}

int cp__io_rename(const char *from, const char *to)
{
	if (fault(CP_IO_RENAME))
		return -1;
	return rename(from, to);
}

int cp__io_unlink(const char *path)
{
	if (fault(CP_IO_UNLINK))
		return -1;
	return unlink(path);
}

void *cp__io_map(int fd, size_t len)
{
	if (fault(CP_IO_MAP))
		return NULL;
	void *p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* ---- loops ---- */

int cp__io_write_all(int fd, const void *buf, size_t n)
{
	const unsigned char *p = buf;
	while (n) {
		ssize_t k = cp__io_write(fd, p, n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

int cp__io_pwrite_all(int fd, const void *buf, size_t n, uint64_t off)
{
	const unsigned char *p = buf;
	while (n) {
		ssize_t k = cp__io_pwrite(fd, p, n, off);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += k;
		n -= (size_t)k;
		off += (uint64_t)k;
	}
	return 0;
}

ssize_t cp__io_pread_all(int fd, void *buf, size_t n, uint64_t off)
{
	unsigned char *p = buf;
	size_t done = 0;
	while (done < n) {
		ssize_t k = cp__io_pread(fd, p + done, n - done, off + done);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (k == 0)
			break;
		done += (size_t)k;
	}
	return (ssize_t)done;
}

int cp__io_sync_dir(const char *path)
{
	/* no allocation for a usual path: this runs after a rename, where
	 * running out of memory would leave the outcome in doubt */
	char stack[1024];
	const char *slash = strrchr(path, '/');
	size_t n = !slash ? 1 : slash == path ? 1 : (size_t)(slash - path);
	char *dir = n < sizeof(stack) ? stack : cp__malloc(n + 1);
	if (!dir) {
		errno = ENOMEM;
		return -1;
	}
	memcpy(dir, slash ? path : ".", n);
	dir[n] = '\0';
	int fd = cp__io_open(dir, O_RDONLY | O_DIRECTORY, 0);
	if (dir != stack)
		cp__free(dir);
	if (fd < 0)
		return -1;
	int rc = cp__io_fsync(fd);
	int err = errno;
	close(fd);
	errno = err;
	return rc;
}

/* ---- randomness for file identities ---- */

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9u;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebu;
	x ^= x >> 31;
	return x;
}

uint64_t cp__io_random64(void)
{
	uint64_t v = 0;
#if defined(__linux__)
	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t)sizeof(v) && v)
		return v;
#endif
	static _Atomic uint64_t counter;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	v = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	v ^= (uint64_t)getpid() << 32;
	v ^= atomic_fetch_add(&counter, 0x9e3779b97f4a7c15u);
	return mix64(v) | 1u;
}
