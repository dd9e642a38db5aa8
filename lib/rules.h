/*
 * rules.h — the rule language (DESIGN §5): shared by the modules of lib/rules*.
 *
 *   rules_arena.c    bump allocator and string map used by every stage
 *   rules_lex.c      tokens of an expression
 *   rules_parse.c    recursive-descent parser: text -> syntax tree (cp__node)
 *   rules_check.c    type checker: names, types, windows, functions
 *   rules_compile.c  syntax tree -> flat program over value slots (cp__prog)
 *   rules_eval.c     the evaluator (one switch over instructions) and cp_result
 *   rules_pack.c     YAML rule packs, options, the ruleset and introspection
 *   rules_explain.c  explain: the tree of sub-expression values of one profile
 *
 * Life of a ruleset: every pack is read (expressions parsed as they are met),
 * parameter overrides are applied, ids are resolved, the units (metrics, tag
 * conditions, tag final values, tracks) are ordered by their references
 * (cycles are errors), each unit is type-checked and compiled in that order
 * into one program.  Evaluating a profile runs the program once over the
 * slots of a cp_result: nothing is allocated.
 */
#ifndef CP_RULES_H
#define CP_RULES_H

#include "internal.h"
#include "schema.h"
#include "store.h"

/* ---- limits (each has a clear error) ---- */
#define CP_RULES_MAX_EXPR 65536   /* bytes of one expression */
#define CP_RULES_MAX_STRING 4096  /* bytes of one decoded string literal */
#define CP_RULES_MAX_NAME 128     /* bytes of an identifier */
#define CP_RULES_MAX_NESTING 256  /* nested parentheses, calls, lists, unary operators */
#define CP_RULES_MAX_HEIGHT 1000  /* height of a syntax tree */
#define CP_RULES_MAX_ITEMS 10000  /* elements of one list or arguments of one call */
#define CP_RULES_MAX_SLOTS 50000000u /* value slots of a whole ruleset */

/* ---- arena: allocations that live as long as the ruleset ---- */
typedef struct cp__arena_chunk cp__arena_chunk;
typedef struct cp__arena {
	cp__arena_chunk *head;
	size_t total; /* bytes in chunks (for memory figures) */
} cp__arena;

void cp__arena_init(cp__arena *a);
void cp__arena_free(cp__arena *a);
/* Zeroed, aligned for any type; NULL without memory. */
void *cp__arena_alloc(cp__arena *a, size_t size);
char *cp__arena_strndup(cp__arena *a, const char *s, size_t n);
char *cp__arena_strdup(cp__arena *a, const char *s);

/* ---- string map: name -> int, keys owned by the caller (arena) ---- */
typedef struct cp__strmap {
	const char **keys;
	int *vals;
	uint32_t mask; /* size - 1; 0 when empty */
	uint32_t count;
} cp__strmap;

void cp__strmap_free(cp__strmap *m);
/* CP_OK, CP_EEXIST (then *old gets the existing value), CP_ENOMEM. */
int cp__strmap_put(cp__strmap *m, const char *key, int val, int *old);
/* The value, or -1. */
int cp__strmap_get(const cp__strmap *m, const char *key);

/* ---- where an expression comes from (for file:line:col) ---- */
typedef struct cp__where {
	const char *file;    /* arena copy, may be NULL */
	unsigned line, col;  /* 1-based position of the expression's first byte */
	/* The YAML scalar holding the expression, when there is one: the
	 * document text and the scalar's marks.  yaml == NULL means that offset
	 * k of the expression is at (line, col + k). */
	const char *yaml;
	size_t yaml_len;
	size_t start, end;   /* byte offsets of the scalar token in yaml */
	int style;           /* yaml_scalar_style_t */
	unsigned indent;     /* block scalars: indentation of the content lines */
	struct cp_yamlpos *ypos; /* exact map of the scalar (yamlpos.h) while compiling */
} cp__where;

/* Position of byte offset off of the expression. */
void cp__where_pos(const cp__where *w, const char *text, size_t off, unsigned *line,
                   unsigned *col);

/* ---- diagnostics of a compile ---- */
/*
 * Diagnostics are collected while compiling and handed to the caller's
 * cp_diag at the end (cp__errs_flush) in reading order: files in the order
 * they were added, then line and column.
 */
typedef struct cp__pending {
	int severity, code;
	const char *file; /* arena or static, may be NULL */
	unsigned line, col;
	char *msg;
	size_t seq;
} cp__pending;

typedef struct cp__errs {
	cp_diag *diag;
	size_t errors;
	size_t warnings;
	int first_code;   /* the status code of the first error (in reading order after flush) */
	cp__pending *pend;
	size_t npend, cap;
	bool oom;
} cp__errs;

/* Sort the collected diagnostics, add them to e->diag and free them. */
void cp__errs_flush(cp__errs *e);

/* An error or a warning at a file position. */
void cp__rules_error_at(cp__errs *e, int code, const char *file, unsigned line,
                        unsigned col, const char *fmt, ...) CP_PRINTF(6, 7);
void cp__rules_warning_at(cp__errs *e, const char *file, unsigned line, unsigned col,
                          const char *fmt, ...) CP_PRINTF(5, 6);

/* ---- tokens ---- */
enum cp__tk {
	TK_EOF = 0,
	TK_INT, TK_FLOAT, TK_STRING, TK_IDENT, TK_PARAM,
	TK_TRUE, TK_FALSE, TK_NULL, TK_AND, TK_OR, TK_NOT, TK_IN, TK_BETWEEN,
	TK_LPAREN, TK_RPAREN, TK_LBRACK, TK_RBRACK, TK_COMMA, TK_DOTDOT,
	TK_PLUS, TK_MINUS, TK_STAR, TK_SLASH, TK_PERCENT,
	TK_EQ, TK_NE, TK_LT, TK_LE, TK_GT, TK_GE,
	TK_ERROR /* the lexer reported an error */
};

typedef struct cp__token {
	int kind;
	uint32_t off, len; /* bytes of the token in the text */
	int64_t i;         /* TK_INT */
	bool int_overflow; /* TK_INT: the digits do not fit (only -9223372036854775808 may) */
	double f;          /* TK_FLOAT */
	const char *s;     /* TK_STRING: decoded (arena); TK_IDENT/TK_PARAM: name (arena) */
	uint32_t slen;
} cp__token;

typedef struct cp__lexer {
	const char *text;
	size_t len, pos;
	cp__arena *arena;
	/* error reporting */
	cp__errs *errs;
	const struct cp__expr *expr;
} cp__lexer;

/* Next token; TK_ERROR after reporting a lexical error. */
void cp__lex_next(cp__lexer *lx, cp__token *t);
/* "')'", "end of expression", "identifier 'x'", ... into buf. */
const char *cp__tok_describe(const cp__lexer *lx, const cp__token *t, char *buf, size_t size);

/* ---- types ---- */
enum cp__base {
	B_ERR = 0, /* an error was already reported: stay silent */
	B_NULL,    /* the literal null */
	B_BOOL, B_INT, B_FLOAT, B_MONEY, B_DATE,
	B_STRING,  /* strings and open enums: compared by bytes */
	B_ENUM,    /* closed enums (and stages): compared by value index */
	B_SET, B_LIST,
	B_LITLIST  /* a literal list [..] (only right of 'in') */
};

typedef struct cp__enumdef {
	const char *name;            /* "brand", "stage" */
	const char *const *values;   /* value index -> text */
	int nvalues;
} cp__enumdef;

typedef struct cp__type {
	uint8_t base;              /* enum cp__base */
	uint16_t n;                /* 0: scalar; else a window of n elements */
	const cp__enumdef *en;     /* B_ENUM */
} cp__type;

extern const cp__enumdef cp__stage_enum;

/* ---- syntax tree ---- */
enum cp__nk {
	N_INT = 1, N_FLOAT, N_STR, N_BOOL, N_NULL,
	N_NAME,    /* field or metric */
	N_PARAM,   /* $name */
	N_CALL,    /* name(args) */
	N_LIST,    /* [a, b] */
	N_INDEX,   /* kid[lo] or kid[lo..hi] */
	N_NEG, N_NOT,
	N_AND, N_OR, /* n-ary */
	N_CMP,     /* op: enum cp__cmp */
	N_IN, N_NOTIN,
	N_BETWEEN, /* kids: x, lo, hi */
	N_ARITH    /* op: '+' '-' '*' '/' '%' */
};

enum cp__cmp { C_EQ = 0, C_NE, C_LT, C_LE, C_GT, C_GE };

/* What a name resolved to. */
enum cp__ref { R_NONE = 0, R_FIELD, R_METRIC, R_PARAM, R_FUNC, R_TAG, R_TRACK };

typedef struct cp__node {
	uint8_t kind;        /* enum cp__nk */
	uint8_t op;
	uint8_t rkind;       /* enum cp__ref (checker) */
	uint8_t dom;         /* checker: common base of compared/chosen values */
	bool single;         /* N_INDEX: f[i] (not a window) */
	uint16_t height;
	uint32_t pos;        /* offset of the token messages point at */
	uint32_t ipos[2];    /* N_INDEX: offsets of the two month numbers */
	uint32_t start, end; /* source span [start, end) */
	uint32_t nkids;
	struct cp__node **kids;
	int64_t i;           /* N_INT, N_BOOL; N_INDEX: lo */
	int64_t hi;          /* N_INDEX: hi */
	double f;            /* N_FLOAT */
	const char *s;       /* N_STR (decoded), N_NAME/N_PARAM/N_CALL: name */
	uint32_t slen;
	int ref;             /* index of what rkind names; R_FUNC: enum cp__fn */
	cp__type type;       /* checker */
	bool personal;       /* reads a personal field (explain hides the value) */
	uint32_t slot;       /* compiler: first slot of the value */
	struct cp__node *pval; /* N_PARAM: the parameter's value (a literal tree) */
} cp__node;

enum cp__fn {
	F_SUM = 0, F_AVG, F_MIN, F_MAX, F_COUNT, F_ALL, F_ANY, F_NONE, F_STREAK, F_SINCE,
	F_SLOPE, F_ABS, F_ROUND, F_COALESCE, F_PRESENT, F_IF, F_LEN, F_HAS,
	F_STARTS_WITH, F_ENDS_WITH, F_CONTAINS, F_MONTHS_SINCE, F_DAYS_SINCE, F_TAG, F_STAGE,
	F_COUNT_ /* number of functions */
};
extern const char *const cp__fn_names[F_COUNT_];
/* Function number of name, or -1. */
int cp__fn_lookup(const char *name);

/* An expression of a rule pack. */
typedef struct cp__expr {
	const char *text;  /* arena copy, NUL-terminated */
	uint32_t len;
	cp__where where;
	cp__node *root;    /* NULL when absent or when parsing failed */
	int pack;          /* the pack it belongs to (scope of $params) */
	bool failed;       /* an error was reported in it */
} cp__expr;

/* Report an error/warning at byte offset off of expression x. */
void cp__expr_error(cp__errs *e, const cp__expr *x, int code, size_t off,
                    const char *fmt, ...) CP_PRINTF(5, 6);
void cp__expr_warning(cp__errs *e, const cp__expr *x, size_t off, const char *fmt, ...)
	CP_PRINTF(4, 5);

/* Parse x->text into x->root (NULL after reporting the error). */
int cp__rules_parse(cp__arena *a, cp__expr *x, cp__errs *errs);
/* Parse a literal value (number, string, bool, null, list of literals), as
 * given to cp_rules_opts_set_param; NULL if text is not one. */
cp__node *cp__rules_parse_literal(cp__arena *a, const char *text, size_t len);

/* ---- value slots and the program ---- */
typedef union cp__val {
	int64_t i;        /* bool, int, money (fen), date (days), closed enum index */
	double f;
	const char *s;    /* string, open enum */
	const uint32_t *l; /* set/list: count, then string ids */
} cp__val;

typedef struct cp__slot {
	cp__val v;
	uint32_t null;
	uint32_t pad_;
} cp__slot;

typedef struct cp__insn {
	uint16_t op;        /* enum cp__op (rules_eval.c) */
	uint8_t sa, sb, sc; /* strides of a, b, c: 1 for a window, 0 for a scalar */
	uint8_t flags;
	uint32_t n;         /* elements */
	uint32_t dst, a, b, c;
	union {
		int64_t i;
		double f;
		const void *p;
	} imm;
} cp__insn;

typedef struct cp__prog {
	cp__insn *code;
	size_t ncode, cap;
	cp__slot *init;     /* the slot image: constants set, everything else null */
	uint8_t *is_const;  /* per slot */
	uint32_t nslots, cap_slots;
} cp__prog;

/* What an evaluation reads. */
typedef struct cp__ectx {
	const uint8_t *row;
	const cp_store *store;    /* resolves string and item-list ids (cp__store_str) */
	int64_t as_of;            /* as-of day ... */
	int asof_y, asof_m, asof_d; /* ... as a calendar date */
	bool has_as_of;
	uint32_t row_size;        /* bytes of the row (whole-word reads stay inside) */
} cp__ectx;

/*
 * Instructions (what each does: rules_ops.inc).  One list, in order (ranges
 * of it are used: OP_EQ_I + comparison, OP_LOAD_I64..OP_LOAD_ENUM, ...),
 * from which the enum, the names and the evaluator's jump table are made.
 *
 * Fused operations are only in the fast program (rules_opt.c): they read a
 * field's cells straight from the row.  a = presence cell of the first
 * month, b = its byte offset, c = cell width (1, 4 or 8); flags: the
 * comparison (enum cp__cmp) and CP_FUSED_FLOAT (8-byte cells are doubles);
 * imm: the constant compared with.  OP_W_ALL..OP_W_COUNT: agg(field[i..j]
 * cmp constant); OP_W_SUM_I..OP_W_MAX_F: agg(field[i..j]); OP_F_CMP:
 * field[i] cmp constant.
 */
#define CP__OPS(X) \
	X(LOAD_I64) X(LOAD_F64) X(LOAD_BOOL) X(LOAD_DATE) X(LOAD_ENUM) X(LOAD_STR) \
	X(LOAD_ITEMS) X(I2F) X(M2F) X(I2M) X(E2S) X(ADD_I) X(SUB_I) X(MUL_I) X(MOD_I) \
	X(NEG_I) X(ADD_F) X(SUB_F) X(MUL_F) X(DIV_F) X(NEG_F) X(EQ_I) X(NE_I) X(LT_I) \
	X(LE_I) X(GT_I) X(GE_I) X(EQ_F) X(NE_F) X(LT_F) X(LE_F) X(GT_F) X(GE_F) X(EQ_S) \
	X(NE_S) X(LT_S) X(LE_S) X(GT_S) X(GE_S) X(AND) X(OR) X(NOT) X(IN_I) X(IN_S) \
	X(SUM_I) X(SUM_F) X(AVG_I) X(AVG_F) X(AVG_M) X(MIN_I) X(MIN_F) X(MAX_I) X(MAX_F) \
	X(MIN2_I) X(MIN2_F) X(MAX2_I) X(MAX2_F) X(COUNT) X(ALL) X(ANY) X(NONE) X(STREAK) \
	X(SINCE) X(SLOPE_I) X(SLOPE_F) X(SLOPE_M) X(ABS_I) X(ABS_F) X(ROUND_F) X(ROUND_M) \
	X(COALESCE) X(PRESENT) X(IF) X(LEN) X(HAS) X(STARTS) X(ENDS) X(CONTAINS) \
	X(MONTHS_SINCE) X(DAYS_SINCE) X(TRUTH) X(FIRST) X(TRACK) X(W_ALL) X(W_ANY) \
	X(W_NONE) X(W_COUNT) X(W_SUM_I) X(W_SUM_F) X(W_AVG_I) X(W_AVG_F) X(W_AVG_M) \
	X(W_MIN_I) X(W_MIN_F) X(W_MAX_I) X(W_MAX_F) X(F_CMP)

enum cp__op {
	OP_NONE_ = 0,
#define CP__OP_ENUM(name) OP_##name,
	CP__OPS(CP__OP_ENUM)
#undef CP__OP_ENUM
	OP_COUNT_
};

/* flags of OP_FIRST */
#define CP_FIRST_HAS_OWN 1u
/* the "no slot" value */
#define CP_NO_SLOT UINT32_MAX

#define CP_FUSED_FLOAT 0x10u

typedef struct cp__track_rule_ref {
	uint32_t slot;  /* the rule's condition */
	int32_t stage;
} cp__track_rule_ref;

/* Build rs->fast from rs->prog (rules_opt.c). */
int cp__prog_optimize(cp_ruleset *rs);
/* Slots an instruction writes at dst, and reads at a, b, c (rules_opt.c). */
uint32_t cp__insn_writes(const cp__insn *in);
void cp__insn_reads(const cp__insn *in, uint32_t *na, uint32_t *nb, uint32_t *nc);
/* Bytes of a row's cells that the fast program reads (each byte once), and
 * in *presence_bytes (if not NULL) the bytes of their presence bits: what a
 * scan must bring from memory at least (benchmarks). */
size_t cp__ruleset_row_reads(const cp_ruleset *rs, size_t *presence_bytes);

/* Execute one instruction (the compiler folds constants with it). */
void cp__exec_one(const cp__insn *in, cp__slot *s, const cp__ectx *cx);
/* Run n instructions over slots. */
void cp__prog_run(const cp__insn *code, size_t n, cp__slot *s, const cp__ectx *cx);
const char *cp__op_name(int op);
void cp__prog_free(cp__prog *p);

/* ---- the ruleset ---- */
typedef struct cp__pack {
	const char *name, *label, *description, *file;
} cp__pack;

typedef struct cp__param {
	const char *name;   /* without '$' */
	const char *qname;  /* "pack.name" (after compiling) */
	int pack;
	cp__node *value;    /* literal tree */
	const char *file;
	unsigned line, col;
	bool overridden;
} cp__param;

typedef struct cp__metric {
	const char *id, *label, *description;
	int pack;
	cp__expr expr;
	cp__type type;
	bool checked;     /* type known (or B_ERR) */
	unsigned line, col; /* the id */
} cp__metric;

typedef struct cp__tag {
	const char *id, *label, *description;
	int pack;
	cp__expr when;    /* when.root NULL: no condition (a group's otherwise) */
	bool has_when;
	int group;        /* -1: none */
	int member;       /* position in the group, -1 for the otherwise tag */
	bool implicit;    /* created by a group's otherwise */
	uint32_t raw_slot, final_slot;
	uint32_t out_slot;  /* what cp_eval leaves: the final value, or for a tag
	                     * in no group its condition (read as truth: null is false) */
	unsigned line, col;
} cp__tag;

typedef struct cp__group {
	const char *id, *label, *description;
	int pack;
	int *members;     /* tag indexes */
	int nmembers;
	int otherwise;    /* tag index or -1 */
	unsigned line, col;
	/* as written (resolved once every pack is read), and where */
	const char **member_names;
	const char *otherwise_name;
	unsigned *mline, *mcol;
	unsigned oline, ocol;
} cp__group;

typedef struct cp__rule {
	const char *id, *label, *description;
	int stage;        /* enum cp_stage */
	cp__expr when;
	unsigned line, col;
} cp__rule;

typedef struct cp__track {
	const char *name, *label, *description;
	int pack;
	cp__rule *rules;
	int nrules;
	int otherwise;    /* stage given when no rule applies */
	const char *otherwise_id;
	uint32_t slot;    /* slot = stage, slot + 1 = rule index (-1: otherwise) */
	unsigned line, col;
} cp__track;

struct cp_ruleset {
	cp_obj obj;
	bool derived;        /* a query's extension of a ruleset (rules_query.c): it
	                      * shares most of these with its base and is freed with
	                      * the query (cp_ruleset_free ignores it) */
	const cp_schema *schema;   /* own reference */
	cp__arena arena;
	cp__prog prog;       /* every node's value: explain runs this one */
	cp__insn *fast;      /* the same results, fused and pruned: cp_eval runs this */
	size_t nfast;
	uint32_t *prefetch;  /* byte offsets in a row covering every cache line the fast */
	size_t nprefetch;    /* program reads: fetched together before it runs */

	cp__pack *packs;
	int npacks, cap_packs;
	cp__param *params;
	int nparams, cap_params;
	cp__metric *metrics;
	int nmetrics, cap_metrics;
	cp__tag *tags;
	int ntags, cap_tags;
	cp__group *groups;
	int ngroups, cap_groups;
	cp__track *tracks;
	int ntracks, cap_tracks;

	cp__strmap pack_ids, metric_ids, tag_ids, group_ids, track_ids;
	cp__strmap param_ids; /* "pack\x1fname" -> param index */
	cp__enumdef *field_enums; /* per field: the closed (or listed) values */
	const char **param_texts; /* per param: its value as a literal */
	/* stage_info of the packs: label and value drivers of each stage (§6) */
	const char *stage_label[11];
	const char **stage_drivers[11];
	int nstage_drivers[11];
	const char *stage_info_file[11]; /* where it was given (duplicates) */
	const char **names;       /* fields, metrics and functions: suggestions */
	size_t nnames;
};

/* Read one pack (YAML text) into rs (rules_pack.c).  Problems go to errs;
 * returns CP_ENOMEM or CP_OK. */
int cp__rules_read_pack(cp_ruleset *rs, const char *file, const char *text, size_t len,
                        cp__errs *errs);
size_t cp__rules_opts_count(const cp_rules_opts *o);
void cp__rules_opts_source(const cp_rules_opts *o, size_t i, const char **name,
                           const char **text, size_t *len);
size_t cp__rules_opts_override_count(const cp_rules_opts *o);
void cp__rules_opts_override(const cp_rules_opts *o, size_t i, const char **name,
                             const char **value);

/* Type-check expression x of rs (annotates the tree).  want_bool: x is a
 * condition (a tag's or a stage's 'when'); what names it in messages
 * ("tag 'gprs.heavy'").  CP_OK or an error code (already reported). */
int cp__rules_check(cp_ruleset *rs, cp__expr *x, bool want_bool, const char *what,
                    cp__errs *errs);
/* Resolve a tag id as written in pack (exact id, else "pack.id"): index or -1. */
int cp__rules_find_tag(const cp_ruleset *rs, int pack, const char *id);
/* The closest tag id / track name / param of pack, for suggestions (or NULL). */
const char *cp__rules_suggest_tag(const cp_ruleset *rs, const char *id);
const char *cp__rules_suggest_track(const cp_ruleset *rs, const char *name);
const char *cp__rules_suggest_param(const cp_ruleset *rs, int pack, const char *name);
/* The parameter $name of pack: index or -1. */
int cp__rules_find_param(const cp_ruleset *rs, int pack, const char *name);
/* Type named for messages ("money", "window of 6 int", "enum brand"). */
const char *cp__type_describe(cp__type t, char *buf, size_t size);

/* Compiler state. */
typedef struct cp__compiler {
	cp_ruleset *rs;
	cp__prog *prog;
	cp__errs *errs;
	struct cse_table *cse; /* instructions and constants already made (rules_compile.c) */
	int failed;            /* CP_ENOMEM, CP_ELIMIT or CP_ERROR */
} cp__compiler;

int cp__compiler_init(cp__compiler *c, cp_ruleset *rs, cp__errs *errs);
void cp__compiler_fini(cp__compiler *c);
/* Compile x (checked) and return its value slot (CP_NO_SLOT on failure). */
uint32_t cp__compile_expr(cp__compiler *c, cp__expr *x);
/* The final value of tag t (after its group, if any). */
uint32_t cp__compile_tag_final(cp__compiler *c, int t);
/* A track: its rules' conditions must be compiled. */
uint32_t cp__compile_track(cp__compiler *c, int track, const uint32_t *rule_slots);
/* 1 if slot holds a constant, with its value. */
bool cp__compiler_const(const cp__compiler *c, uint32_t slot, const cp__slot **val);

/* The evaluation of one row (no allocation). */
struct cp_result {
	cp_obj obj;
	const cp_ruleset *rs;
	cp__slot *slots;
	int *applying;     /* indexes of the tags that apply, ruleset order ... */
	int napplying;     /* ... made on first use after an evaluation (-1: not yet) */
	int asof_month;    /* cache: the last store as-of month seen ... */
	cp_date asof_day;  /* ... and its last day */
	cp_date civil_day; /* cache: the last as-of day converted ... */
	int civil[3];      /* ... to year, month, day (civil_valid) */
	bool civil_valid;
	bool evaluated;
	const cp_store *cx_store;    /* the store of the last evaluation (for text) */
	uint8_t *rowbuf;             /* cp_eval_key: a copy of the row looked up */
	size_t rowbuf_size;
	bool has_as_of;    /* set by cp_result_set_as_of */
	cp_date as_of;
	/* schema compatibility, checked once per schema seen */
	const cp_schema *checked_schema;
};

/* Evaluate one row: the fast program, or (full) the whole one, which leaves
 * every node's value for explain. */
int cp__result_eval_row(cp_result *res, const uint8_t *row, const cp_store *store,
                        int as_of_yyyymm, bool full);
int cp__result_eval_view(cp_result *res, const cp_view *view, bool full);
/* 1 if rows of schema a can be read with a program compiled for b. */
bool cp__schema_compatible(const cp_schema *a, const cp_schema *b);

/*
 * The block evaluator (rules_block.c): the fast program over up to
 * CP_BLOCK_ROWS rows at once, for scans.  Per-thread state, like a
 * cp_result; cp__block_eval allocates nothing and gives the same results as
 * cp_eval for each row.
 */
#define CP_BLOCK_ROWS 64
typedef struct cp__block cp__block;
int cp__block_new(cp__block **out, const cp_ruleset *rs);
void cp__block_free(cp__block *b);
/* Evaluate rows[0..n) (n <= CP_BLOCK_ROWS, rows read from store, whose
 * schema must be compatible with the ruleset's) as of the month given. */
void cp__block_eval(cp__block *b, const uint8_t *const *rows, unsigned n,
                    const cp_store *store, int as_of_yyyymm);
/* Ask for the cache lines of rows[0..n) that the program reads: a scan
 * calls it for the next block before evaluating the current one, so the
 * memory traffic overlaps the evaluation. */
void cp__block_prefetch(const cp__block *b, const uint8_t *const *rows, unsigned n);
/* Bit k set when tag applies to row k of the last evaluation. */
uint64_t cp__block_tag_mask(const cp__block *b, int tag);
/* Stage of a track for row k (and the deciding rule, -1 for otherwise). */
int cp__block_stage(const cp__block *b, int track, unsigned k, int *rule);
/* The value of a slot for row k (tests compare it with cp_eval's). */
void cp__block_slot(const cp__block *b, uint32_t slot, unsigned k, cp__slot *out);

/* Shortest text that reads back as v, with ".0" when it is a whole number
 * ("2.5", "9.0", "1e+30"). */
void cp__format_float(char *buf, size_t size, double v);

/* Text form of the value at slots[0..n) of type t (n = 0: scalar).  personal:
 * "(personal)".  Appends to b. */
void cp__format_value(cp_buf *b, const cp__slot *s, cp__type t, const cp_store *store,
                      bool personal);

#endif /* CP_RULES_H */
