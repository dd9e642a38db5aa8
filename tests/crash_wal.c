/*
 * crash_wal.c — kill -9 a process while it updates a store, again and
 * again, and check after each kill that nothing acknowledged was lost and
 * nothing damaged is served.
 *
 *   crash_wal DIR ITERATIONS [SEED]
 *
 * Each iteration forks a child that opens DIR/s.cps and updates it without
 * pause: puts (new keys and replacements), deletes, as-of changes, and
 * compactions (a snapshot written and the log started again), in the sync
 * mode of the iteration (full mostly; none and interval too: a process
 * crash loses nothing in any mode, as every update is written before it
 * returns).  Before each operation the child reports its intent on a pipe,
 * after it the acknowledgement.  The parent kills it with SIGKILL at a
 * random moment (during its open and replay, an update, or a snapshot
 * write), then opens the store itself: it must open (a torn log tail is
 * cut, with a warning), verify, and hold exactly the acknowledged state,
 * or that state plus the one operation in flight.  That state is the model
 * of the next iteration.
 */
#include "config.h"

#include <custprof/custprof.h>

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#define KEYS 200

static const char schema_yaml[] =
	"custprof: 1\n"
	"schema: crash\n"
	"months: 2\n"
	"key: msisdn\n"
	"fields:\n"
	"  msisdn: {type: string, normalize: msisdn-cn}\n"
	"  seq:    {type: int}\n"
	"  name:   {type: string, personal: true}\n"
	"  apps:   {type: set, series: true}\n"
	"  check:  {type: int}\n";

enum { F_KEY, F_SEQ, F_NAME, F_APPS, F_CHECK };

/* The model: seq of each key (0 = absent) and the as-of month. */
typedef struct model {
	long seq[KEYS];
	int as_of;
} model;

static char path[4096];
static cp_schema *schema;

#if defined(__GNUC__) || defined(__clang__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

static void die(const char *fmt, ...) PRINTF_LIKE(1, 2);
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "crash_wal: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static uint64_t next(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void key_of(int k, char *buf, size_t size)
{
	snprintf(buf, size, "137%08d", k);
}

static int put(cp_store *s, cp_profile *p, int k, long seq)
{
	char buf[64];
	cp_profile_clear(p);
	key_of(k, buf, sizeof(buf));
	cp_profile_set_text(p, F_KEY, 0, buf);
	cp_profile_set_int(p, F_SEQ, 0, seq);
	snprintf(buf, sizeof(buf), "客户%ld", seq);
	cp_profile_set_string(p, F_NAME, 0, buf);
	snprintf(buf, sizeof(buf), "a%ld;b%ld", seq % 7, seq % 3);
	cp_profile_set_text(p, F_APPS, 1, buf);
	cp_profile_set_int(p, F_CHECK, 0, seq * 31 + k);
	return cp_store_put(s, p, NULL);
}

/* ---- the child ---- */

static void say(int fd, const char *fmt, ...) PRINTF_LIKE(2, 3);
static void say(int fd, const char *fmt, ...)
{
	char line[128];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (write(fd, line, (size_t)n) != n)
		_exit(4);
}

static void child(int fd, uint64_t seed, long seq, int mode)
{
	cp_store *s;
	cp_profile *p;
	cp_diag *d;
	cp_diag_new(&d);
	int rc = cp_store_open(&s, path, d);
	if (rc != CP_OK) {
		say(fd, "F open %s\n", cp_diag_count(d) ? cp_diag_message(d, 0) : cp_strerror(rc));
		_exit(2);
	}
	cp_store_set_sync(s, mode, 5);
	cp_profile_new(&p, cp_store_schema(s));
	uint64_t x = seed | 1;
	for (;;) {
		uint64_t r = next(&x);
		int k = (int)(r % KEYS), what = (int)((r >> 32) % 100);
		char key[32];
		key_of(k, key, sizeof(key));
		if (what < 70) {
			seq++;
			say(fd, "I put %d %ld\n", k, seq);
			rc = put(s, p, k, seq);
		} else if (what < 85) {
			say(fd, "I del %d\n", k);
			rc = cp_store_delete(s, key);
			if (rc == CP_ENOTFOUND)
				rc = CP_OK; /* nothing to delete: no change */
		} else if (what < 90) {
			int m = 202601 + (int)(r % 12);
			say(fd, "I asof %d\n", m);
			rc = cp_store_set_as_of(s, m);
		} else {
			say(fd, "I compact\n");
			rc = (r >> 50) & 1 ? cp_store_compact(s) : cp_store_save(s, path, 0);
		}
		if (rc != CP_OK) {
			say(fd, "F %s\n", cp_errmsg(s));
			_exit(3);
		}
		say(fd, "A\n");
	}
}

/* ---- the parent ---- */

static void apply(model *m, const char *op)
{
	int k, as_of;
	long seq;
	if (sscanf(op, "put %d %ld", &k, &seq) == 2)
		m->seq[k] = seq;
	else if (sscanf(op, "del %d", &k) == 1)
		m->seq[k] = 0;
	else if (sscanf(op, "asof %d", &as_of) == 1)
		m->as_of = as_of;
}

/* The store's state as a model; every profile checked. */
static void read_state(const cp_store *s, model *m)
{
	memset(m, 0, sizeof(*m));
	m->as_of = cp_store_as_of(s);
	cp_view *v;
	cp_view_new(&v, s);
	char key[32], want[64];
	for (int k = 0; k < KEYS; k++) {
		key_of(k, key, sizeof(key));
		int rc = cp_store_get(s, key, v);
		if (rc == CP_ENOTFOUND)
			continue;
		if (rc != CP_OK)
			die("get %s: %s", key, cp_errmsg(v));
		long seq = (long)cp_view_int(v, F_SEQ, 0);
		snprintf(want, sizeof(want), "客户%ld", seq);
		if (seq <= 0 || cp_view_int(v, F_CHECK, 0) != seq * 31 + k ||
		    strcmp(cp_view_string(v, F_NAME, 0), want) != 0 ||
		    cp_view_item_count(v, F_APPS, 1) != 2)
			die("profile %s is not whole (seq %ld)", key, seq);
		m->seq[k] = seq;
	}
	cp_view_free(v);
	size_t n = 0;
	for (int k = 0; k < KEYS; k++)
		n += m->seq[k] != 0;
	if (n != cp_store_count(s))
		die("%zu profiles counted, %zu found", cp_store_count(s), n);
}

static long max_seq(const model *m)
{
	long x = 0;
	for (int k = 0; k < KEYS; k++)
		if (m->seq[k] > x)
			x = m->seq[k];
	return x;
}

/* Temporary files of killed saves in dir. */
static int temp_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	while (d && (e = readdir(d)))
		n += strstr(e->d_name, ".tmp.") != NULL;
	if (d)
		closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		die("usage: crash_wal DIR ITERATIONS [SEED]");
	const char *dir = argv[1];
	int iterations = atoi(argv[2]);
	uint64_t x = argc > 3 ? strtoull(argv[3], NULL, 0) : (uint64_t)time(NULL);
	printf("crash_wal: %d iterations, seed %llu\n", iterations, (unsigned long long)x);
	x |= 1;
	snprintf(path, sizeof(path), "%s/s.cps", dir);
	if (cp_schema_load_memory(&schema, schema_yaml, strlen(schema_yaml), "crash", NULL))
		die("schema");
	cp_store *s;
	cp_profile *p;
	cp_store_new(&s, schema);
	cp_profile_new(&p, schema);
	model m;
	memset(&m, 0, sizeof(m));
	for (int k = 0; k < KEYS; k += 4) {
		put(s, p, k, k + 1);
		m.seq[k] = k + 1;
	}
	if (cp_store_save(s, path, 0) != CP_OK)
		die("save: %s", cp_errmsg(s));
	cp_store_free(s);
	cp_profile_free(p);

	int torn = 0, inflight_applied = 0, leftovers = 0, acked_total = 0;
	const int modes[] = {CP_SYNC_FULL, CP_SYNC_FULL, CP_SYNC_NONE, CP_SYNC_INTERVAL};
	for (int it = 0; it < iterations; it++) {
		int fds[2];
		if (pipe(fds) != 0)
			die("pipe");
		long seq = max_seq(&m) + 1000;
		uint64_t seed = next(&x);
		int mode = modes[it % 4];
		fflush(stdout);
		pid_t pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			close(fds[0]);
			child(fds[1], seed, seq, mode);
		}
		close(fds[1]);
		/* from the middle of the open to a few dozen updates in */
		struct timespec ts = {0, (long)(next(&x) % 40000000u)};
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		int status;
		waitpid(pid, &status, 0);
		/* the child's reports */
		static char buf[1 << 20];
		size_t len = 0;
		ssize_t k;
		while ((k = read(fds[0], buf + len, sizeof(buf) - 1 - len)) > 0)
			len += (size_t)k;
		close(fds[0]);
		buf[len] = '\0';
		if (!WIFSIGNALED(status))
			die("iteration %d: the child stopped by itself: %s", it, buf);
		char inflight[64] = "";
		for (char *line = buf, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
			*nl = '\0';
			if (line[0] == 'F')
				die("iteration %d: the child failed: %s", it, line + 2);
			if (line[0] == 'I') {
				snprintf(inflight, sizeof(inflight), "%s", line + 2);
			} else if (line[0] == 'A') {
				apply(&m, inflight);
				inflight[0] = '\0';
				acked_total++;
			}
		}
		/* the files after the kill */
		cp_diag *d;
		cp_diag_new(&d);
		int rc = cp_store_open(&s, path, d);
		if (rc != CP_OK)
			die("iteration %d: open: %s", it, cp_diag_count(d) ? cp_diag_message(d, 0) : "");
		for (size_t i = 0; i < cp_diag_count(d); i++) {
			if (cp_diag_severity(d, i) == CP_SEV_ERROR)
				die("iteration %d: %s", it, cp_diag_message(d, i));
			if (strstr(cp_diag_message(d, i), "torn record"))
				torn++;
		}
		cp_diag_free(d);
		if (cp_snapshot_verify(path, NULL) != CP_OK)
			die("iteration %d: the snapshot does not verify", it);
		model got, with;
		read_state(s, &got);
		with = m;
		if (inflight[0])
			apply(&with, inflight);
		if (memcmp(&got, &m, sizeof(m)) == 0) {
			/* the acknowledged state */
		} else if (inflight[0] && memcmp(&got, &with, sizeof(m)) == 0) {
			inflight_applied++;
		} else {
			for (int j = 0; j < KEYS; j++)
				if (got.seq[j] != m.seq[j])
					fprintf(stderr, "key %d: store %ld, acknowledged %ld\n", j,
					        got.seq[j], m.seq[j]);
			die("iteration %d: the store (as-of %d) is not the acknowledged state (as-of "
			    "%d)%s%s", it, got.as_of, m.as_of, inflight[0] ? ", in flight: " : "",
			    inflight);
		}
		m = got;
		cp_store_free(s);
		leftovers = temp_files(dir) > leftovers ? temp_files(dir) : leftovers;
	}
	/* the next writer removes what killed saves left */
	cp_store_open(&s, path, NULL);
	cp_profile_new(&p, cp_store_schema(s));
	if (put(s, p, 0, max_seq(&m) + 1) != CP_OK)
		die("last put: %s", cp_errmsg(s));
	cp_profile_free(p);
	cp_store_free(s);
	if (temp_files(dir) != 0)
		die("%d temporary files left", temp_files(dir));
	printf("crash_wal: ok: %d kills, %d acknowledged updates kept, %d in-flight updates "
	       "found applied, %d torn log tails cut; at most %d temporary files of killed "
	       "saves at once, removed by the next writer\n", iterations, acked_total,
	       inflight_applied, torn, leftovers);
	cp_schema_free(schema);
	return 0;
}
