/*
 * schema.h — the schema's in-memory form and the row layout derived from it.
 *
 * Row layout (fixed width, computed once by cp__schema_finish):
 *
 *   [ header 4 bytes ][ presence bitmap ][ 8-byte cells ][ 4-byte cells ][ 1-byte cells ]
 *
 *   - header: reserved for the store (row flags / generation).
 *   - presence bitmap: one bit per cell (field x month), bit set = value
 *     present; a zeroed row is a row of nulls.  Cell c is bit (c % 8) of byte
 *     (c / 8); the cell number of (field, month) is field->cell + month.
 *   - cells are grouped by width so each is naturally aligned (the row size is
 *     a multiple of 8); a series field's months are adjacent, month 0 first.
 *
 * Cell encodings:
 *   bool   1 byte, 0 or 1            int    int64_t
 *   float  double                    money  int64_t fen
 *   date   int32_t days since 1970-01-01
 *   enum   uint32_t: closed enum = index into values[]; open enum = string id
 *   string uint32_t string id        set/list  uint32_t item-list id
 * String and item-list ids are the store's (see store.h).
 */
#ifndef CP_SCHEMA_H
#define CP_SCHEMA_H

#include "internal.h"

#define CP_ROW_HEADER_BYTES 4u
#define CP_MAX_MONTHS 36
#define CP_MAX_FIELDS 4096
#define CP_DEFAULT_MONTHS 6

enum cp_normalize { CP_NORM_NONE = 0, CP_NORM_MSISDN_CN = 1 };

typedef struct cp_field {
	char *name;
	char *label;         /* never NULL after finish (defaults to name) */
	char *description;   /* may be NULL */
	int type;            /* enum cp_type */
	bool series;
	int months;          /* schema->months for a series, 1 for a scalar */
	bool closed;         /* enum: values are the only allowed ones */
	char **values;       /* enum: listed values */
	char **value_labels; /* enum: label of each value (never NULL entries after finish) */
	int nvalues;
	int max_items;       /* list: maximum items (0 = no limit) */
	int normalize;       /* enum cp_normalize */
	bool personal;       /* personal data: never in messages or logs */
	unsigned line, col;  /* where the field is defined in the YAML, 0 if built */

	/* layout (set by cp__schema_finish) */
	uint32_t offset;     /* byte offset of month 0's cell in a row */
	uint32_t width;      /* bytes per cell: 1, 4 or 8 */
	uint32_t cell;       /* cell number of month 0 (presence bit index) */
} cp_field;

struct cp_schema {
	cp_obj obj;
	int refs;            /* reference count (atomic: schemas are shared) */
	char *name;
	int months;
	int key;             /* index of the key field */
	cp_field *fields;
	int nfields;
	int cap;
	/* name -> index hash (open addressing, size a power of two, -1 empty) */
	int *field_hash;
	uint32_t field_hash_mask;
	char *source;        /* YAML text (embedded in snapshots), may be NULL */
	size_t source_len;

	/* layout */
	uint32_t ncells;       /* sum of months over fields */
	uint32_t presence_off; /* = CP_ROW_HEADER_BYTES */
	uint32_t presence_bytes;
	uint32_t row_size;     /* multiple of 8 */
	uint32_t cell_bytes;   /* sum of cell widths (for the memory target) */
};

/* ---- building a schema (used by the YAML loader and by tests) ---- */
/* A new empty schema (refs = 1, months = CP_DEFAULT_MONTHS). */
cp_schema *cp__schema_new(const char *name);
/* Append a field; returns its index, CP_EEXIST if the name is taken, or
 * CP_ENOMEM.  label may be NULL. */
int cp__schema_add_field(cp_schema *s, const char *name, int type, bool series,
                         const char *label);
/* Append an enum value to field f (label may be NULL). */
int cp__schema_add_value(cp_schema *s, int f, const char *value, const char *label);
/* Validate the whole schema and compute the layout.  Errors go to diag.
 * key_name: the key field (must exist and be a string field). */
int cp__schema_finish(cp_schema *s, const char *key_name, cp_diag *diag,
                      const char *file);
/* Take one more reference (stores and rulesets do). */
const cp_schema *cp__schema_ref(const cp_schema *s);

/* Index of the value in a field's listed values, or -1. */
int cp__field_value_index(const cp_field *f, const char *value, size_t len);

/* ---- presence bits and cells of a row ---- */
static inline bool cp__row_present(const uint8_t *row, uint32_t cell)
{
	return (row[CP_ROW_HEADER_BYTES + (cell >> 3)] >> (cell & 7)) & 1u;
}
static inline void cp__row_set_present(uint8_t *row, uint32_t cell, bool on)
{
	uint8_t *b = &row[CP_ROW_HEADER_BYTES + (cell >> 3)];
	uint8_t m = (uint8_t)(1u << (cell & 7));
	*b = on ? (uint8_t)(*b | m) : (uint8_t)(*b & ~m);
}
static inline const void *cp__row_cell(const uint8_t *row, const cp_field *f, int month)
{
	return row + f->offset + (uint32_t)month * f->width;
}

#endif /* CP_SCHEMA_H */
