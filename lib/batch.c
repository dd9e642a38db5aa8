/*
 * batch.c — batch options and the multi-threaded pass over a store's
 * profiles (batch.h).
 */
#include "batch.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

size_t cp__batch_chunk_rows = 0;

/* ---- options ---- */

int cp_batch_opts_new(cp_batch_opts **out)
{
	if (!out)
		return CP_EINVAL;
	*out = cp__calloc(1, sizeof(**out));
	if (!*out)
		return CP_ENOMEM;
	cp__obj_init(&(*out)->obj, CP_OBJ_OTHER);
	return CP_OK;
}

void cp_batch_opts_free(cp_batch_opts *opts)
{
	if (!opts)
		return;
	cp__obj_fini(&opts->obj);
	cp__free(opts);
}

int cp_batch_opts_set_threads(cp_batch_opts *opts, int threads)
{
	if (!opts)
		return CP_EINVAL;
	if (threads < 0 || threads > CP_BATCH_MAX_THREADS)
		return cp__fail(&opts->obj, CP_EINVAL, "threads must be 0 (one per processor) .. %d, not %d",
		                CP_BATCH_MAX_THREADS, threads);
	opts->threads = threads;
	return CP_OK;
}

int cp_batch_opts_set_progress(cp_batch_opts *opts, cp_progress_fn fn, void *userdata)
{
	if (!opts)
		return CP_EINVAL;
	opts->progress = fn;
	opts->progress_data = userdata;
	return CP_OK;
}

/* ---- reading rows: the one place that knows how the store keeps them ---- */

/* Row slots of the store (profiles and deleted slots). */
static size_t row_slots(const cp_store *s)
{
	return cp__store_nrows(s);
}

/* Point v at row slot r (a consistent copy for an overlay row, the base row
 * itself otherwise, as readers of the store must); false when the slot
 * holds no profile.  A damaged base row also reads as no profile here
 * (cp_iter_next fails with CP_ECORRUPT instead): to be reported by the
 * batch calls; cp_snapshot_verify names it. */
static bool view_row(cp_view *v, const cp_store *s, size_t r)
{
	if (cp__view_prepare(v, s) != CP_OK)
		return false;
	v->store = s;
	v->row = cp__store_read(s, (uint32_t)r, v->buf, NULL);
	return v->row != NULL;
}

/* ---- planning ---- */

static int online_processors(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		return 1;
	return n > CP_BATCH_MAX_THREADS ? CP_BATCH_MAX_THREADS : (int)n;
}

int cp__pass_plan(cp__pass *p)
{
	const cp_schema *s = p->store->schema;
	if (!cp__schema_compatible(s, p->rs->schema))
		return cp__fail(p->err, CP_EINVAL,
		                "the store's schema '%s' does not match the ruleset's schema '%s'",
		                s->name, p->rs->schema->name);
	int want = p->opts && p->opts->threads > 0 ? p->opts->threads : online_processors();
	p->nrows = row_slots(p->store);
	/* about 8 chunks per thread (so a slow thread delays the end little),
	 * each big enough that taking it costs nothing, small enough that
	 * progress and cancellation come often */
	size_t rows = p->nrows / ((size_t)want * 8);
	rows = rows < 64 ? 64 : rows > 4096 ? 4096 : rows;
	if (cp__batch_chunk_rows)
		rows = cp__batch_chunk_rows;
	p->chunk_rows = rows;
	p->nchunks = (p->nrows + rows - 1) / rows;
	p->nthreads = (size_t)want > p->nchunks ? (int)(p->nchunks ? p->nchunks : 1) : want;
	p->st = NULL;
	return CP_OK;
}

void cp__pass_chunk(const cp__pass *p, size_t c, size_t *first, size_t *end)
{
	*first = c * p->chunk_rows;
	*end = *first + p->chunk_rows < p->nrows ? *first + p->chunk_rows : p->nrows;
}

/* ---- running ---- */

struct cp__pass_state {
	atomic_size_t next;   /* the next chunk to take */
	atomic_size_t done;   /* rows of the chunks finished */
	atomic_int stop;      /* a failure or a cancel: every thread stops */
	pthread_mutex_t lock; /* guards code, msg and running */
	pthread_cond_t ended; /* a thread other than the calling one ended */
	int running;          /* threads other than the calling one */
	int code;             /* the first failure */
	char *msg;
	bool canceled;        /* by the progress callback (calling thread only) */
};

int cp__pass_fail(cp__pass *p, int code, const char *fmt, ...)
{
	struct cp__pass_state *st = p->st;
	pthread_mutex_lock(&st->lock);
	if (!st->code) {
		cp_buf b;
		va_list ap;
		cp__buf_init(&b);
		va_start(ap, fmt);
		cp__buf_vprintf(&b, fmt, ap);
		va_end(ap);
		st->code = code;
		st->msg = cp__buf_steal(&b);
	}
	pthread_mutex_unlock(&st->lock);
	atomic_store(&st->stop, 1);
	return code;
}

/* The calling thread: tell the callback; a non-zero answer cancels. */
static void report(cp__pass *p)
{
	const cp_batch_opts *o = p->opts;
	struct cp__pass_state *st = p->st;
	if (!o || !o->progress || st->canceled)
		return;
	if (o->progress(atomic_load(&st->done), p->nrows, o->progress_data) != 0) {
		st->canceled = true;
		atomic_store(&st->stop, 1);
	}
}

static int do_chunk(cp__pass *p, int worker, size_t c, cp_view *view, cp_result *res)
{
	struct cp__pass_state *st = p->st;
	size_t first, end;
	cp__pass_chunk(p, c, &first, &end);
	for (size_t r = first; r < end; r++) {
		if ((r & 31) == 0 && atomic_load_explicit(&st->stop, memory_order_relaxed))
			return CP_ECANCELED;
		if (!view_row(view, p->store, r))
			continue;
		int rc = cp_eval(res, view);
		if (rc != CP_OK)
			return cp__pass_fail(p, rc, "%s", cp_errmsg(res));
		rc = p->row(p, worker, c, r, view, res);
		if (rc != CP_OK)
			return cp__pass_fail(p, rc, "%s", cp_strerror(rc));
	}
	if (p->chunk_done) {
		int rc = p->chunk_done(p, worker, c);
		if (rc != CP_OK)
			return cp__pass_fail(p, rc, "%s", cp_strerror(rc));
	}
	atomic_fetch_add(&st->done, end - first);
	return CP_OK;
}

static void work(cp__pass *p, int worker)
{
	struct cp__pass_state *st = p->st;
	cp_result *res = NULL;
	cp_view *view = NULL;
	if (cp_result_new(&res, p->rs) != CP_OK || cp_view_new(&view, p->store) != CP_OK) {
		cp__pass_fail(p, CP_ENOMEM, "out of memory");
		goto out;
	}
	while (!atomic_load_explicit(&st->stop, memory_order_relaxed)) {
		size_t c = atomic_fetch_add(&st->next, 1);
		if (c >= p->nchunks)
			break;
		if (do_chunk(p, worker, c, view, res) != CP_OK)
			break;
		if (worker == 0)
			report(p);
	}
out:
	cp_view_free(view);
	cp_result_free(res);
}

typedef struct thread_arg {
	cp__pass *p;
	int worker;
	pthread_t thread;
} thread_arg;

static void *thread_main(void *arg)
{
	thread_arg *a = arg;
	struct cp__pass_state *st = a->p->st;
	work(a->p, a->worker);
	pthread_mutex_lock(&st->lock);
	st->running--;
	pthread_cond_signal(&st->ended);
	pthread_mutex_unlock(&st->lock);
	return NULL;
}

/* The calling thread has no chunk left: it reports progress now and then
 * (so the callback can still cancel) until the other threads end. */
static void wait_others(cp__pass *p)
{
	struct cp__pass_state *st = p->st;
	pthread_mutex_lock(&st->lock);
	while (st->running > 0) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 100 * 1000 * 1000;
		if (until.tv_nsec >= 1000 * 1000 * 1000) {
			until.tv_sec++;
			until.tv_nsec -= 1000 * 1000 * 1000;
		}
		if (pthread_cond_timedwait(&st->ended, &st->lock, &until) != 0 && st->running > 0) {
			pthread_mutex_unlock(&st->lock);
			report(p);
			pthread_mutex_lock(&st->lock);
		}
	}
	pthread_mutex_unlock(&st->lock);
}

int cp__pass_run(cp__pass *p)
{
	struct cp__pass_state st;
	memset(&st, 0, sizeof(st));
	atomic_init(&st.next, 0);
	atomic_init(&st.done, 0);
	atomic_init(&st.stop, 0);
	if (pthread_mutex_init(&st.lock, NULL) != 0)
		return cp__fail(p->err, CP_ERROR, "cannot make a mutex");
	if (pthread_cond_init(&st.ended, NULL) != 0) {
		pthread_mutex_destroy(&st.lock);
		return cp__fail(p->err, CP_ERROR, "cannot make a condition variable");
	}
	p->st = &st;
	thread_arg *args = NULL;
	int started = 0;
	if (p->nthreads > 1) {
		args = cp__calloc((size_t)p->nthreads, sizeof(*args));
		/* without memory or threads, fewer threads do the work */
		for (int w = 1; args && w < p->nthreads; w++) {
			args[started].p = p;
			args[started].worker = w;
			pthread_mutex_lock(&st.lock);
			st.running++;
			pthread_mutex_unlock(&st.lock);
			if (pthread_create(&args[started].thread, NULL, thread_main, &args[started]) != 0) {
				pthread_mutex_lock(&st.lock);
				st.running--;
				pthread_mutex_unlock(&st.lock);
				break;
			}
			started++;
		}
	}
	work(p, 0);
	wait_others(p);
	for (int i = 0; i < started; i++)
		pthread_join(args[i].thread, NULL);
	cp__free(args);
	if (!st.code && !st.canceled)
		report(p); /* the end: done == total */
	int rc = CP_OK;
	if (st.code) {
		rc = cp__fail(p->err, st.code, "%s", st.msg ? st.msg : cp_strerror(st.code));
	} else if (st.canceled) {
		rc = cp__fail(p->err, CP_ECANCELED, "cancelled by the progress callback after %zu of %zu rows",
		              (size_t)atomic_load(&st.done), p->nrows);
	}
	cp__free(st.msg);
	pthread_cond_destroy(&st.ended);
	pthread_mutex_destroy(&st.lock);
	p->st = NULL;
	return rc;
}

/* ---- expressions of the batch objects ---- */

size_t cp__batch_expr_text(const cp_ruleset *rs, const char *spec, cp_buf *b)
{
	const cp_schema *s = rs->schema;
	const char *m = strrchr(spec, '_');
	size_t digits = m ? strspn(m + 2, "0123456789") : 0;
	if (m && m[1] == 'm' && digits && !m[2 + digits] && digits < 4 &&
	    cp_schema_field_index(s, spec) < 0 && cp__strmap_get(&rs->metric_ids, spec) < 0) {
		char name[CP_RULES_MAX_NAME + 1];
		size_t len = (size_t)(m - spec);
		if (len && len <= CP_RULES_MAX_NAME) {
			memcpy(name, spec, len);
			name[len] = '\0';
			int f = cp_schema_field_index(s, name);
			if (f >= 0 && s->fields[f].series) {
				cp__buf_printf(b, "%s[%s]", name, m + 2);
				return len;
			}
		}
	}
	cp__buf_puts(b, spec);
	return 0;
}

int cp__batch_add_expr(cp_query *q, const char *spec, const char *name, bool want_bool,
                       cp_diag *diag, cp_obj *obj)
{
	cp_diag *mine = NULL;
	cp_buf text;
	cp__buf_init(&text);
	size_t field = cp__batch_expr_text(q->base, spec, &text);
	if (text.failed || cp_diag_new(&mine) != CP_OK) {
		cp__buf_free(&text);
		return cp__fail(obj, CP_ENOMEM, "out of memory");
	}
	int rc = cp__query_add(q, text.data, text.len, name, want_bool, mine);
	/* the caller's diag gets every entry, the handle the first error */
	bool failed = false;
	for (size_t i = 0; i < cp_diag_count(mine); i++) {
		/* a column of "f[N]" is a column of "f_mN": N is one further on */
		unsigned col = cp_diag_column(mine, i);
		if (field && col > field + 1)
			col = col + 1 > strlen(spec) ? (unsigned)strlen(spec) : col + 1;
		cp__diag_add(diag, cp_diag_severity(mine, i), cp_diag_file(mine, i),
		             cp_diag_line(mine, i), col, "%s", cp_diag_message(mine, i));
		if (!failed && cp_diag_severity(mine, i) == CP_SEV_ERROR) {
			cp__fail(obj, rc < 0 ? rc : CP_ERROR, "%s:%u:%u: error: %s", cp_diag_file(mine, i),
			         cp_diag_line(mine, i), col, cp_diag_message(mine, i));
			failed = true;
		}
	}
	if (rc < 0 && !failed)
		cp__fail(obj, rc, "%s: %s", name, cp_strerror(rc));
	cp_diag_free(mine);
	cp__buf_free(&text);
	return rc;
}

int cp__batch_expr_error(cp_query *q, int i, int code, cp_diag *diag, cp_obj *obj,
                         const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	const cp__expr *x = &q->exprs[i].x;
	cp__diag_add(diag, CP_SEV_ERROR, x->where.file, 1, 1, "%s", msg);
	return cp__fail(obj, code, "%s:1:1: error: %s", x->where.file, msg);
}

char *cp__batch_expr_label(const cp_query *q, int i, const char *spec)
{
	const cp__qexpr *e = &q->exprs[i];
	const cp__node *r = e->x.root;
	const cp_ruleset *rs = q->base;
	cp_buf b;
	cp__buf_init(&b);
	if (e->field >= 0 && r->kind == N_NAME)
		cp__buf_puts(&b, rs->schema->fields[e->field].label);
	else if (e->field >= 0 && r->single)
		cp__buf_printf(&b, "%s[%d]", rs->schema->fields[e->field].label, e->month);
	else if (r->kind == N_NAME && r->rkind == R_METRIC)
		cp__buf_puts(&b, cp_ruleset_metric_label(rs, r->ref));
	else
		cp__buf_puts(&b, spec);
	return cp__buf_steal(&b);
}
