/*
 * wal.h — the write-ahead log beside a snapshot (custprof-wal(5)), and the
 * state that ties an opened store to its files (wal.c).
 *
 * A store opened from PATH logs every update to PATH-wal before it is
 * applied in memory; reopening replays the log.  The log names the
 * snapshot it applies to (generation and random id), so a log left behind
 * by a compaction that crashed half way is recognised as stale.
 *
 *   [ header: 64 bytes ]
 *   [ record ][ record ] ...     each at a multiple of 8
 *
 * A record: salt u32 (the header's: a record of another log never
 * validates), type u32, payload length u32, CRC32 u32 of the 12 bytes
 * before it and the payload, the payload, zero padding to a multiple of 8.
 */
#ifndef CP_WAL_H
#define CP_WAL_H

#include "store.h"

#define CPW_MAGIC "\x89" "CPW\r\n\x1a\n" /* 8 bytes */
#define CPW_MAGIC_LEN 8
#define CPW_VERSION 1u
#define CPW_HEADER_SIZE 64u
#define CPW_RECORD_HEADER 16u
#define CPW_ALIGN 8u
/* The largest payload a record may claim (a profile with its strings). */
#define CPW_MAX_PAYLOAD (256u << 20)

/* Byte offsets of the header fields (native byte order, as snapshots). */
enum cpw_header_field {
	CPW_H_MAGIC = 0,        /* 8 bytes */
	CPW_H_VERSION = 8,      /* u32 CPW_VERSION */
	CPW_H_BYTE_ORDER = 12,  /* u32 0x01020304 */
	CPW_H_HEADER_SIZE = 16, /* u32 64 */
	CPW_H_FLAGS = 20,       /* u32 0 */
	CPW_H_GENERATION = 24,  /* u64 generation of the snapshot it applies to */
	CPW_H_SNAPSHOT_ID = 32, /* u64 id of that snapshot */
	CPW_H_LAYOUT_CRC = 40,  /* u32 row layout CRC32 (as the snapshot's) */
	CPW_H_ROW_SIZE = 44,    /* u32 */
	CPW_H_SALT = 48,        /* u32 random, in every record */
	CPW_H_RESERVED = 52,    /* zero */
	CPW_H_HEADER_CRC = 60   /* u32 CRC32 of bytes 0..59 */
};

/* Byte offsets within a record header. */
enum cpw_record_field {
	CPW_R_SALT = 0,
	CPW_R_TYPE = 4,
	CPW_R_LENGTH = 8,
	CPW_R_CRC = 12
};

enum cpw_record_type {
	CPW_PUT = 1,    /* a profile: see below */
	CPW_DELETE = 2, /* the key's bytes (normalized, no NUL) */
	CPW_AS_OF = 3   /* i32 yyyymm */
};

/*
 * PUT payload: u32 row_size, u32 string bytes S, u32 list items L, u32 0;
 * the row (row_size bytes, header CP_ROW_LIVE) whose string cells hold
 * offsets into the strings and whose set and list cells hold indexes into
 * the items; S bytes of NUL-terminated strings (offset 0 is ""); zero
 * padding to a multiple of 4; L u32 items: lists as in a snapshot (count,
 * then string offsets; index 0 is the empty list).
 */
#define CPW_PUT_HEADER 16u

void cp__wal_free(cp_store *s);
/* Take the log for writing before an update is prepared (catching up with
 * records of other processes first).  CP_OK, or a failure recorded on s. */
int cp__wal_begin(cp_store *s);
/* Log an update of s before it is applied (s->wal not NULL).  CP_OK, or a
 * failure recorded on s: the update must not be applied. */
int cp__wal_log_put(cp_store *s, const cp_profile *p);
int cp__wal_log_delete(cp_store *s, const char *key, size_t len);
int cp__wal_log_as_of(cp_store *s, int yyyymm);
/* The store changed in memory beyond what its files hold (a month close
 * whose snapshot could not be written): no further update (s->wal not
 * NULL). */
void cp__wal_break(cp_store *s);

/*
 * Replay a log image (the fuzz harness and the tests): data[0..len) as if
 * it were the log of s's snapshot, whatever its identity; records are
 * applied to s up to the first that does not check.  Returns CP_OK when
 * every record applied, else CP_ECORRUPT with a message on s; *applied
 * gets the number of records applied.
 */
int cp__wal_replay_memory(cp_store *s, const uint8_t *data, size_t len, size_t *applied);

#endif /* CP_WAL_H */
