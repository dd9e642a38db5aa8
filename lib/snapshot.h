/*
 * snapshot.h — the .cps snapshot format (custprof-snapshot(5)): written by
 * snapshot.c, opened in place from a read-only mapping.
 *
 * A snapshot is an image of the store's arrays:
 *
 *   [ header: fixed part (128 bytes) + section table, padded to 64 ]
 *   [ section 1 ][ zero padding to 64 ][ section 2 ] ... [ section 7 or 8 ]
 *
 * Every section holds one array of struct cp_store verbatim, in the
 * machine's byte order (recorded in the header; another byte order is
 * refused), at an offset that is a multiple of 64, so the arrays can be
 * used in place from a mapping of the file.  Every byte is covered by a
 * check: the header and table by the header CRC, each section by its CRC32,
 * the padding must be zero, and the file ends where the last section ends.
 * Opening checks the header, the table, the padding and the schema section
 * (work independent of the number of profiles); cp_snapshot_verify checks
 * everything (custprof-snapshot(5), "Checks").
 *
 * The compressed form (CPS_FLAG_COMPRESSED) keeps the header as it is and
 * holds everything after it as one zlib stream with its own CRC32; it
 * inflates to exactly the uncompressed image.
 */
#ifndef CP_SNAPSHOT_H
#define CP_SNAPSHOT_H

#include "store.h"

#define CPS_MAGIC "\x89" "CPS\r\n\x1a\n" /* 8 bytes, no NUL */
#define CPS_MAGIC_LEN 8
/* Version 2 is version 1 with an eighth section, the stage history of
 * month closes.  A store without a history is written as version 1, which
 * libraries that predate the history read as before; this one reads both. */
#define CPS_VERSION 2u
#define CPS_VERSION_1 1u
#define CPS_BYTE_ORDER 0x01020304u   /* written natively: 04 03 02 01 on little-endian */
#define CPS_BYTE_ORDER_SWAPPED 0x04030201u /* as read on a machine of the other order */
#define CPS_ALIGN 64u
#define CPS_FLAG_COMPRESSED 0x1u
#define CPS_FIXED_HEADER 128u
#define CPS_ENTRY_SIZE 32u
/* deflate cannot shrink data by more than about 1032:1; a compressed body
 * claiming more is refused before anything is allocated. */
#define CPS_MAX_INFLATE_RATIO 1100u

/* Byte offsets of the header fields (all native byte order). */
enum cps_header_field {
	CPS_H_MAGIC = 0,         /* 8 bytes */
	CPS_H_VERSION = 8,       /* u32 CPS_VERSION */
	CPS_H_BYTE_ORDER = 12,   /* u32 CPS_BYTE_ORDER */
	CPS_H_HEADER_SIZE = 16,  /* u32: fixed part + table, padded to 64 */
	CPS_H_FLAGS = 20,        /* u32 CPS_FLAG_* */
	CPS_H_IMAGE_SIZE = 24,   /* u64: size of the uncompressed image */
	CPS_H_STORED_SIZE = 32,  /* u64: size of the file (= image size unless compressed) */
	CPS_H_BODY_CRC = 40,     /* u32: compressed: CRC32 of the bytes after the header */
	CPS_H_NSECTIONS = 44,    /* u32 CPS_SEC_COUNT */
	CPS_H_AS_OF = 48,        /* i32 yyyymm, 0 = unset */
	CPS_H_ROW_SIZE = 52,     /* u32 bytes per row */
	CPS_H_PROFILES = 56,     /* u64 live profiles */
	CPS_H_ROW_SLOTS = 64,    /* u64 rows in the rows section (= profiles in version 1) */
	CPS_H_STRING_COUNT = 72, /* u32 distinct strings of the string pool */
	CPS_H_LIST_COUNT = 76,   /* u32 distinct item lists of the list pool */
	CPS_H_LAYOUT_CRC = 80,   /* u32 CRC32 of the row layout (cps_layout_crc) */
	CPS_H_GENERATION = 84,   /* u64 generation: 1 + that of the snapshot it replaced */
	CPS_H_SNAPSHOT_ID = 92,  /* u64 random identity, named by the log (custprof-wal(5)) */
	CPS_H_RESERVED = 100,    /* zero up to the header CRC */
	CPS_H_HEADER_CRC = 124   /* u32 CRC32 of the header and table, this field as 0 */
};

/* Byte offsets within a section table entry. */
enum cps_entry_field {
	CPS_E_KIND = 0,    /* u32 enum cps_section_kind */
	CPS_E_FLAGS = 4,   /* u32, 0 */
	CPS_E_OFFSET = 8,  /* u64 from the start of the image, multiple of 64 */
	CPS_E_LENGTH = 16, /* u64 bytes */
	CPS_E_CRC = 24,    /* u32 CRC32 of the section's bytes */
	CPS_E_RESERVED = 28
};

/* Sections, in the order they appear in the table and in the file. */
enum cps_section_kind {
	CPS_SEC_SCHEMA = 1,      /* the schema's YAML source */
	CPS_SEC_ROWS = 2,        /* row_slots * row_size bytes */
	CPS_SEC_STRINGS = 3,     /* cp_strpool.bytes */
	CPS_SEC_STRING_HASH = 4, /* cp_strpool.hash, mask + 1 u32 slots (or none) */
	CPS_SEC_LISTS = 5,       /* cp_listpool.items, u32 */
	CPS_SEC_LIST_HASH = 6,   /* cp_listpool.hash */
	CPS_SEC_INDEX = 7,       /* cp_index.slots */
	CPS_SEC_STAGES = 8,      /* version 2: the stage history (lifecycle.h, stagehist.c) */
	CPS_SEC_COUNT = 8        /* sections of the latest version */
};
#define CPS_SEC_COUNT_V1 7

/* Version 1's header (7 table entries) has the same size: one layout. */

#define CPS_HEADER_SIZE \
	((CPS_FIXED_HEADER + CPS_SEC_COUNT * CPS_ENTRY_SIZE + CPS_ALIGN - 1) & ~(CPS_ALIGN - 1))

/* What a log needs to know of the snapshot it applies to. */
typedef struct cps_ident {
	uint64_t generation;
	uint64_t id;
	uint32_t layout;   /* the row layout's CRC32 */
	uint64_t dev, ino; /* the file opened */
} cps_ident;

/* The row layout's CRC32 (header field layout_crc). */
uint32_t cp__snapshot_layout_crc(const cp_schema *schema);

/*
 * Write store to path atomically (temporary file, fsync, rename, fsync of
 * the directory) with the given generation and id.  Failures are recorded
 * on the store.
 */
int cp__snapshot_write(cp_store *store, const char *path, int flags, uint64_t generation,
                       uint64_t id);

/*
 * Open the snapshot at path: mapped (or inflated), with the cheap checks
 * (or every check when verify is set), as a new store.  ident (if not NULL)
 * gets its identity.  Problems go to diag, as errors naming path.
 */
int cp__snapshot_load(cp_store **out, const char *path, bool verify, cp_diag *diag,
                      cps_ident *ident);

/* The generation of the snapshot at path, from its header if it is one,
 * else 0 (no diagnostics). */
uint64_t cp__snapshot_generation(const char *path);

#endif /* CP_SNAPSHOT_H */
