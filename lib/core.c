/*
 * core.c — allocator, version, status names, per-handle error messages.
 */
#include "internal.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- allocator ---- */

static void *(*cp_malloc_fn)(size_t) = malloc;
static void *(*cp_realloc_fn)(void *, size_t) = realloc;
static void (*cp_free_fn)(void *) = free;
/* Set on the first allocation: after it, the allocator cannot change. */
static atomic_bool cp_allocated;

int cp_set_allocator(void *(*malloc_fn)(size_t), void *(*realloc_fn)(void *, size_t),
                     void (*free_fn)(void *))
{
	if (!malloc_fn || !realloc_fn || !free_fn)
		return CP_EINVAL;
	if (atomic_load(&cp_allocated))
		return CP_EMISUSE;
	cp_malloc_fn = malloc_fn;
	cp_realloc_fn = realloc_fn;
	cp_free_fn = free_fn;
	return CP_OK;
}

void *cp__malloc(size_t size)
{
	if (!atomic_load_explicit(&cp_allocated, memory_order_relaxed))
		atomic_store(&cp_allocated, true);
	return cp_malloc_fn(size ? size : 1);
}

void *cp__calloc(size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	void *p = cp__malloc(n * size);
	if (p)
		memset(p, 0, n * size);
	return p;
}

void *cp__realloc(void *ptr, size_t size)
{
	if (!ptr)
		return cp__malloc(size);
	return cp_realloc_fn(ptr, size ? size : 1);
}

void *cp__reallocarray(void *ptr, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	return cp__realloc(ptr, n * size);
}

void cp__free(void *ptr)
{
	if (ptr)
		cp_free_fn(ptr);
}

char *cp__strndup(const char *s, size_t n)
{
	char *p = cp__malloc(n + 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

char *cp__strdup(const char *s)
{
	return s ? cp__strndup(s, strlen(s)) : NULL;
}

/* ---- version and status names ---- */

const char *cp_version(void)
{
	return CP_VERSION_STRING;
}

int cp_version_number(void)
{
	return CP_VERSION_NUMBER;
}

const char *cp_strerror(int code)
{
	switch (code) {
	case CP_OK: return "CP_OK: success";
	case CP_ERROR: return "CP_ERROR: failure";
	case CP_ENOMEM: return "CP_ENOMEM: out of memory";
	case CP_EINVAL: return "CP_EINVAL: invalid argument or value";
	case CP_EIO: return "CP_EIO: input/output error";
	case CP_ESYNTAX: return "CP_ESYNTAX: syntax error";
	case CP_ETYPE: return "CP_ETYPE: type error";
	case CP_ENOTFOUND: return "CP_ENOTFOUND: not found";
	case CP_ECORRUPT: return "CP_ECORRUPT: damaged or truncated file";
	case CP_EVERSION: return "CP_EVERSION: unsupported format version";
	case CP_ELIMIT: return "CP_ELIMIT: size limit exceeded";
	case CP_EMISUSE: return "CP_EMISUSE: API used out of order";
	case CP_ECANCELED: return "CP_ECANCELED: cancelled";
	case CP_EEXIST: return "CP_EEXIST: already exists";
	case CP_DONE: return "CP_DONE: no more items";
	default: return "unknown status code";
	}
}

/* ---- per-handle messages ---- */

void cp__obj_init(cp_obj *obj, uint32_t kind)
{
	obj->kind = kind;
	obj->errmsg = NULL;
}

void cp__obj_fini(cp_obj *obj)
{
	if (!obj)
		return;
	cp__free(obj->errmsg);
	obj->errmsg = NULL;
	obj->kind = 0;
}

void cp__clear_error(cp_obj *obj)
{
	if (obj && obj->errmsg)
		obj->errmsg[0] = '\0';
}

int cp__vfail(cp_obj *obj, int code, const char *fmt, va_list ap)
{
	if (!obj)
		return code;
	cp_buf b;
	cp__buf_init(&b);
	cp__buf_vprintf(&b, fmt, ap);
	char *msg = cp__buf_steal(&b);
	if (msg) {
		cp__free(obj->errmsg);
		obj->errmsg = msg;
	}
	return code;
}

int cp__fail(cp_obj *obj, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cp__vfail(obj, code, fmt, ap);
	va_end(ap);
	return code;
}

const char *cp_errmsg(const void *handle)
{
	if (!handle)
		return "no handle (NULL)";
	const cp_obj *obj = handle;
	if (obj->kind < CP_OBJ_SCHEMA || obj->kind > CP_OBJ_OTHER)
		return "not a libcustprof handle";
	return obj->errmsg ? obj->errmsg : "";
}

/* ---- growable buffer ---- */

void cp__buf_init(cp_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->failed = false;
}

void cp__buf_free(cp_buf *b)
{
	cp__free(b->data);
	cp__buf_init(b);
}

void cp__buf_reset(cp_buf *b)
{
	b->len = 0;
	b->failed = false;
	if (b->data)
		b->data[0] = '\0';
}

int cp__buf_reserve(cp_buf *b, size_t extra)
{
	if (b->failed)
		return CP_ENOMEM;
	if (extra > SIZE_MAX - b->len - 1) {
		b->failed = true;
		return CP_ENOMEM;
	}
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return CP_OK;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	char *p = cp__realloc(b->data, cap);
	if (!p) {
		b->failed = true;
		return CP_ENOMEM;
	}
	b->data = p;
	b->cap = cap;
	return CP_OK;
}

int cp__buf_append(cp_buf *b, const void *data, size_t len)
{
	if (cp__buf_reserve(b, len) != CP_OK)
		return CP_ENOMEM;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return CP_OK;
}

int cp__buf_puts(cp_buf *b, const char *s)
{
	return cp__buf_append(b, s, strlen(s));
}

int cp__buf_putc(cp_buf *b, char c)
{
	return cp__buf_append(b, &c, 1);
}

int cp__buf_vprintf(cp_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0 || cp__buf_reserve(b, (size_t)n) != CP_OK)
		return CP_ENOMEM;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return CP_OK;
}

int cp__buf_printf(cp_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = cp__buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

char *cp__buf_steal(cp_buf *b)
{
	if (b->failed) {
		cp__buf_free(b);
		return NULL;
	}
	if (!b->data && cp__buf_reserve(b, 0) != CP_OK)
		return NULL;
	b->data[b->len] = '\0';
	char *p = b->data;
	cp__buf_init(b);
	return p;
}
