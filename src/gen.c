/*
 * gen.c — custprof gen: synthetic subscribers as CSV.
 *
 * Every row is drawn from its own random stream, seeded from (--seed, row
 * number), so the output depends only on the seed, the count, the as-of
 * month and the schema.  Two models write the cells:
 *
 *  - a generic one, for any schema: plausible values per type (heavy-tailed
 *    numbers that persist from month to month, listed enum values, sets,
 *    lists, dates) and a few percent of empty cells;
 *  - a subscriber model for the default schema (cmcc-default): demographics,
 *    a spend trajectory (stable, rising, declining, sharp drop, silent,
 *    churned) and a usage pattern per value-added service, drawn so that
 *    every marketing attribute (DESIGN §7.2) and every lifecycle stage
 *    (§7.3) occurs in a plausible share.  Fields of the schema that the
 *    model does not know (or whose type it does not expect) get generic
 *    values, so an extended default schema still works.
 *
 * Speed: one row of cells is reused for every subscriber, strings of a row
 * live in a fixed arena, and output goes through one large buffer; nothing
 * is allocated per row.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define MAXM 36                 /* months simulated at most */
#define BACK_MONTHS 240         /* dates reach this far into the past */
#define AHEAD_MONTHS 36         /* ... and this far into the future */
#define MAX_COUNT 100000000ull  /* keys are 8-digit permutations */
#define OUT_BYTES (1u << 20)
#define DEFAULT_AS_OF 202610

/* ------------------------------------------------------------------------
 * Random numbers: xoshiro256** seeded through splitmix64.
 * ------------------------------------------------------------------------ */

typedef struct rng {
	uint64_t s[4];
} rng;

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static void rng_seed(rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ull);
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(rng *r)
{
	uint64_t *s = r->s, result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Uniform in [0, 1). */
static double unit(rng *r)
{
	return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

/* Uniform integer in [lo, hi]. */
static int64_t irand(rng *r, int64_t lo, int64_t hi)
{
	if (hi <= lo)
		return lo;
	return lo + (int64_t)(rng_next(r) % (uint64_t)(hi - lo + 1));
}

static int chance(rng *r, double p)
{
	return unit(r) < p;
}

/* Uniform in [lo, hi). */
static double urand(rng *r, double lo, double hi)
{
	return lo + (hi - lo) * unit(r);
}

static double normal(rng *r)
{
	double u1 = 1.0 - unit(r), u2 = unit(r);
	return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Log-normal with this median; sigma is the spread of the logarithm. */
static double lognormal(rng *r, double median, double sigma)
{
	return median * exp(sigma * normal(r));
}

static double clampd(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* A value and its weight, for weighted choices. */
typedef struct choice {
	const char *value;
	int weight;
} choice;

#define COUNTOF(a) (sizeof(a) / sizeof((a)[0]))

static size_t pick_index(rng *r, const choice *c, size_t n)
{
	int total = 0;
	for (size_t i = 0; i < n; i++)
		total += c[i].weight;
	int x = (int)irand(r, 0, total - 1);
	for (size_t i = 0; i < n; i++) {
		x -= c[i].weight;
		if (x < 0)
			return i;
	}
	return n - 1;
}

#define PICK(r, table) ((table)[pick_index((r), (table), COUNTOF(table))].value)

/* Index drawn from integer weights. */
static int pick_weight(rng *r, const int *w, int n)
{
	int total = 0;
	for (int i = 0; i < n; i++)
		total += w[i];
	int x = (int)irand(r, 0, total - 1);
	for (int i = 0; i < n; i++) {
		x -= w[i];
		if (x < 0)
			return i;
	}
	return n - 1;
}

/* ------------------------------------------------------------------------
 * Cells of one row and the CSV writer.
 * ------------------------------------------------------------------------ */

enum cell_kind { C_NULL, C_INT, C_FIXED, C_TEXT, C_DATE, C_BOOL };

typedef struct cell {
	int64_t v;         /* int, fixed-point digits, date, bool */
	const char *text;  /* C_TEXT */
	uint8_t kind;
	uint8_t scale;     /* C_FIXED: decimals */
} cell;

typedef struct outbuf {
	FILE *fp;
	char *buf;
	size_t len;
	int failed;
} outbuf;

static void out_flush(outbuf *o)
{
	if (o->len && !o->failed && fwrite(o->buf, 1, o->len, o->fp) != o->len)
		o->failed = errno ? errno : EIO;
	o->len = 0;
}

/* Room for n more bytes (n <= OUT_BYTES). */
static inline char *out_room(outbuf *o, size_t n)
{
	if (o->len + n > OUT_BYTES)
		out_flush(o);
	return o->buf + o->len;
}

static void out_bytes(outbuf *o, const char *s, size_t n)
{
	while (n > 0) {
		size_t chunk = n < OUT_BYTES ? n : OUT_BYTES;
		memcpy(out_room(o, chunk), s, chunk);
		o->len += chunk;
		s += chunk;
		n -= chunk;
	}
}

static inline void out_char(outbuf *o, char c)
{
	*out_room(o, 1) = c;
	o->len++;
}

/* Write the decimal digits of v at p; returns their count. */
static inline size_t put_digits(char *p, uint64_t v)
{
	size_t n = 1;
	for (uint64_t t = v; t >= 10; t /= 10)
		n++;
	for (size_t i = n; i > 0; i--) {
		p[i - 1] = (char)('0' + v % 10);
		v /= 10;
	}
	return n;
}

static void out_int(outbuf *o, int64_t v)
{
	char *p = out_room(o, 24);
	size_t n = 0;
	if (v < 0)
		p[n++] = '-';
	n += put_digits(p + n, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v);
	o->len += n;
}

static const uint64_t pow10[] = {
	1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000,
};

/* v / 10^scale with exactly scale decimals (scale <= 9). */
static void out_fixed(outbuf *o, int64_t v, int scale)
{
	char *p = out_room(o, 32);
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	uint64_t frac = u % pow10[scale];
	size_t n = 0;
	if (v < 0)
		p[n++] = '-';
	n += put_digits(p + n, u / pow10[scale]);
	if (scale > 0) {
		p[n++] = '.';
		for (int i = scale; i > 0; i--) {
			p[n + (size_t)i - 1] = (char)('0' + frac % 10);
			frac /= 10;
		}
		n += (size_t)scale;
	}
	o->len += n;
}

static void out_date(outbuf *o, cp_date d)
{
	int y, m, day;
	char tmp[16];
	cp_date_to_ymd(d, &y, &m, &day);
	if (y < 0 || y > 9999)
		y = 0;
	tmp[0] = (char)('0' + y / 1000);
	tmp[1] = (char)('0' + y / 100 % 10);
	tmp[2] = (char)('0' + y / 10 % 10);
	tmp[3] = (char)('0' + y % 10);
	tmp[4] = '-';
	tmp[5] = (char)('0' + m / 10);
	tmp[6] = (char)('0' + m % 10);
	tmp[7] = '-';
	tmp[8] = (char)('0' + day / 10);
	tmp[9] = (char)('0' + day % 10);
	out_bytes(o, tmp, 10);
}

/* A text cell, quoted (RFC 4180) when it holds a delimiter, quote or line break. */
static void out_text(outbuf *o, const char *s)
{
	size_t n = strlen(s);
	if (strpbrk(s, ",\"\r\n") == NULL) {
		out_bytes(o, s, n);
		return;
	}
	out_char(o, '"');
	for (; *s; s++) {
		if (*s == '"')
			out_char(o, '"');
		out_char(o, *s);
	}
	out_char(o, '"');
}

static void out_cell(outbuf *o, const cell *c)
{
	switch (c->kind) {
	case C_INT: out_int(o, c->v); break;
	case C_FIXED: out_fixed(o, c->v, c->scale); break;
	case C_TEXT: out_text(o, c->text); break;
	case C_DATE: out_date(o, (cp_date)c->v); break;
	case C_BOOL: out_char(o, c->v ? '1' : '0'); break;
	default: break;
	}
}

/* ------------------------------------------------------------------------
 * The fields the subscriber model writes (cmcc-default), with their types.
 * ------------------------------------------------------------------------ */

#define MODEL_FIELDS(X) \
	X(REGION, region, ENUM) X(COUNTY, county, ENUM) \
	X(HOME, home_location, ENUM) X(NAME, name, STRING) X(GENDER, gender, ENUM) \
	X(AGE, age, INT) X(BRAND, brand, ENUM) X(PLAN, plan, ENUM) \
	X(ADDONS, addon_plans, SET) X(STATUS, status, ENUM) X(JOIN, join_date, DATE) \
	X(CLOSE, close_date, DATE) X(CONTRACT, contract_end, DATE) \
	X(OVERDUE_AMT, overdue_amount, MONEY) X(OVERDUE_DAYS, overdue_days, INT) \
	X(INFO_PREF, info_preference, ENUM) X(CHANNEL_PREF, channel_preference, ENUM) \
	X(PERSONA, persona, ENUM) X(CHURN, churn_score, FLOAT) \
	X(INFLUENCE, influence_index, FLOAT) X(MANAGER, account_manager, ENUM) \
	X(TERMINAL, terminal_model, STRING) X(FEATURES, terminal_features, SET) \
	X(TERM_CHANGED, terminal_changed, DATE) X(DND, do_not_disturb, BOOL) \
	X(SPEND, total_spend, MONEY) X(ARPU, arpu, MONEY) X(NBF, new_biz_fee, MONEY) \
	X(VOICE, voice_minutes, INT) X(SMS, sms_count, INT) \
	X(CRBT_SUB, crbt_subscribed, BOOL) X(CRBT_SINCE, crbt_since, DATE) \
	X(CRBT_UNSUB, crbt_unsubscribed, DATE) X(CRBT_FEE, crbt_fee, MONEY) \
	X(CRBT_DL, crbt_downloads, INT) X(CRBT_PROMO, crbt_promo_downloads, INT) \
	X(CRBT_CHANGE, crbt_change_fee, MONEY) X(CRBT_CHANNEL, crbt_channel, ENUM) \
	X(MUSIC_CLUB, music_club, ENUM) X(FAV_TYPES, fav_content_types, LIST) \
	X(FAV_CONTENTS, fav_contents, LIST) X(RECENT_TONES, recent_tones, LIST) \
	X(CRBT_CONTACTS, crbt_campaign_contacts, INT) \
	X(CRBT_RESPONSES, crbt_campaign_responses, INT) \
	X(GPRS_PKG, gprs_package, ENUM) X(GPRS_QUOTA, gprs_quota_mb, FLOAT) \
	X(WEB, web_sessions, INT) X(GPRS_MB, gprs_mb, FLOAT) \
	X(GPRS_INFO_FEE, gprs_info_fee, MONEY) X(MONTERNET_VISITED, monternet_visited, BOOL) \
	X(MONTERNET_PAID, monternet_paid, BOOL) X(WAP_CLICKS, wap_push_clicks, INT) \
	X(PROMO_JOINS, promo_joins, INT) X(GPRS_TRIAL, gprs_trial_end, DATE) \
	X(MMS_SENT, mms_sent, INT) X(MMS_RECV, mms_received, INT) \
	X(CAIXIU, caixiu_uses, INT) X(MMS_ORDERS, mms_orders, INT) \
	X(MMS_FEE, mms_fee, MONEY) X(GPRS_FEE, gprs_fee, MONEY) X(INFO_FEE, info_fee, MONEY) \
	X(NEWS_TYPES, newspaper_types, SET) X(NEWS_SINCE, newspaper_since, DATE) \
	X(NEWS_RECV, newspaper_received, INT) X(NB_ARPU, new_biz_arpu, MONEY) \
	X(FETION_SMS, fetion_sms, INT) X(FETION_VOICE, fetion_voice_min, INT) \
	X(FETION_LOGINS, fetion_logins, INT) X(FETION_IP, fetion_client_ip, STRING) \
	X(IVR_NAT_MAG, ivr_national_magazine, BOOL) X(IVR_LOC_MAG, ivr_local_magazine, BOOL) \
	X(IVR_NAT_CALLS, ivr_national_calls, INT) X(IVR_LOC_CALLS, ivr_local_calls, INT) \
	X(IVR_NAT_MIN, ivr_national_min, INT) X(IVR_LOC_MIN, ivr_local_min, INT) \
	X(IVR_FEE, ivr_fee, MONEY) X(IVR_TRIAL, ivr_trial_end, DATE)

#define X_ENUM(id, name, type) F_##id,
enum model_field { MODEL_FIELDS(X_ENUM) F_COUNT };
#undef X_ENUM

#define X_NAME(id, name, type) #name,
static const char *const model_names[F_COUNT] = {MODEL_FIELDS(X_NAME)};
#undef X_NAME

#define X_TYPE(id, name, type) CP_TYPE_##type,
static const int model_types[F_COUNT] = {MODEL_FIELDS(X_TYPE)};
#undef X_TYPE

/* ------------------------------------------------------------------------
 * Generator state.
 * ------------------------------------------------------------------------ */

typedef struct gen {
	const cp_schema *schema;
	int nfields;
	int months;              /* cp_schema_months */
	int *col;                /* field -> its first cell; col[nfields] = ncells */
	int ncells;
	cell *cells;
	unsigned char *modelled; /* field -> written by the subscriber model */
	int idx[F_COUNT];        /* model field -> schema field, or -1 */
	int realistic;
	int key;
	int key_msisdn;          /* the key is normalized as a Chinese number */
	uint64_t seed;
	uint64_t key_mul, key_add;
	int as_of;               /* yyyymm */
	/* first day and length of the month k months before the as-of month,
	 * for k in [-AHEAD_MONTHS, BACK_MONTHS): index k + AHEAD_MONTHS */
	cp_date month_first[AHEAD_MONTHS + BACK_MONTHS];
	int month_days[AHEAD_MONTHS + BACK_MONTHS];
	cp_date as_of_date;      /* last day of the as-of month */
	char *arena;             /* strings of the current row */
	size_t arena_len, arena_cap;
	outbuf out;
} gen;

/* A copy of s in the row's arena, cut short when the arena is full (it is
 * sized for far more than a row of generated values needs). */
static const char *arena_str(gen *g, const char *s, size_t n)
{
	size_t room = g->arena_cap - g->arena_len;
	if (room <= 1)
		return "";
	if (n >= room)
		n = room - 1;
	char *p = g->arena + g->arena_len;
	memcpy(p, s, n);
	p[n] = '\0';
	g->arena_len += n + 1;
	return p;
}

static const char *arena_printf(gen *g, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static const char *arena_printf(gen *g, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	return arena_str(g, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* Items joined by ';' (a set or list cell), NULL when there are none. */
static const char *arena_join(gen *g, const char *const *items, int n)
{
	char tmp[1024];
	size_t len = 0;
	if (n <= 0)
		return NULL;
	for (int i = 0; i < n; i++) {
		size_t k = strlen(items[i]);
		if (len + k + 2 > sizeof(tmp))
			break;
		if (i)
			tmp[len++] = ';';
		memcpy(tmp + len, items[i], k);
		len += k;
	}
	return arena_str(g, tmp, len);
}

/* Dates */

static cp_date month_first(const gen *g, int ago)
{
	return g->month_first[ago + AHEAD_MONTHS];
}

/* A random day of the month `ago` months before the as-of month (negative:
 * in the future), never after the as-of date unless ago < 0. */
static cp_date day_in_month(const gen *g, rng *r, int ago)
{
	if (ago < -AHEAD_MONTHS)
		ago = -AHEAD_MONTHS;
	if (ago >= BACK_MONTHS)
		ago = BACK_MONTHS - 1;
	return month_first(g, ago) + (cp_date)irand(r, 0, g->month_days[ago + AHEAD_MONTHS] - 1);
}

/* Cell writers: the model's view (model field, month) of the row. */

static cell *model_cell(gen *g, int f, int m)
{
	int sf = g->idx[f];
	if (sf < 0 || m >= g->col[sf + 1] - g->col[sf])
		return NULL;
	return &g->cells[g->col[sf] + m];
}

static void put_int(gen *g, int f, int m, int64_t v)
{
	cell *c = model_cell(g, f, m);
	if (c) {
		c->kind = C_INT;
		c->v = v;
	}
}

static void put_bool(gen *g, int f, int m, int v)
{
	cell *c = model_cell(g, f, m);
	if (c) {
		c->kind = C_BOOL;
		c->v = v != 0;
	}
}

static void put_money(gen *g, int f, int m, int64_t fen)
{
	cell *c = model_cell(g, f, m);
	if (c) {
		c->kind = C_FIXED;
		c->scale = 2;
		c->v = fen;
	}
}

static void put_float(gen *g, int f, int m, double v, int decimals)
{
	cell *c = model_cell(g, f, m);
	if (c) {
		c->kind = C_FIXED;
		c->scale = (uint8_t)decimals;
		c->v = (int64_t)llround(v * (double)pow10[decimals]);
	}
}

static void put_date(gen *g, int f, int m, cp_date d)
{
	cell *c = model_cell(g, f, m);
	if (c) {
		c->kind = C_DATE;
		c->v = d;
	}
}

static void put_text(gen *g, int f, int m, const char *s)
{
	cell *c = model_cell(g, f, m);
	if (c && s) {
		c->kind = C_TEXT;
		c->text = s;
	}
}

/* ------------------------------------------------------------------------
 * Keys: row i gets suffix (mul * i + add) mod 10^8, a permutation of the
 * 8-digit numbers (mul is odd and not a multiple of 5), so keys are unique
 * for any count up to 10^8, and scattered.
 * ------------------------------------------------------------------------ */

static const choice msisdn_prefixes[] = {
	{"134", 6}, {"135", 10}, {"136", 9}, {"137", 9}, {"138", 11}, {"139", 12},
	{"147", 2}, {"150", 6}, {"151", 5}, {"152", 5}, {"157", 3}, {"158", 6},
	{"159", 6}, {"182", 3}, {"183", 2}, {"187", 3}, {"188", 2}, {"198", 1},
};

static uint64_t key_suffix(const gen *g, uint64_t i)
{
	return (g->key_mul * i + g->key_add) % 100000000ull;
}

static const char *make_key(gen *g, rng *r, uint64_t i)
{
	uint64_t suffix = key_suffix(g, i);
	if (!g->key_msisdn)
		return arena_printf(g, "C%08llu", (unsigned long long)suffix);
	const char *prefix = PICK(r, msisdn_prefixes);
	/* Exports write some numbers with the country code: +86, 0086, 86. */
	int x = (int)irand(r, 0, 999);
	const char *cc = x < 30 ? "+86" : x < 45 ? "0086" : x < 55 ? "86" : "";
	return arena_printf(g, "%s%s%08llu", cc, prefix, (unsigned long long)suffix);
}

/* ------------------------------------------------------------------------
 * The generic model: any field of any schema.
 * ------------------------------------------------------------------------ */

static const char *generic_item(gen *g, rng *r, int f, int k)
{
	int nv = cp_schema_field_value_count(g->schema, f);
	if (nv > 0 && (cp_schema_field_is_closed(g->schema, f) || !chance(r, 0.1)))
		return cp_schema_field_value(g->schema, f, (int)irand(r, 0, nv - 1));
	return arena_printf(g, "%s_%d", cp_schema_field_name(g->schema, f), k);
}

static const char *generic_items(gen *g, rng *r, int f, int max)
{
	const char *items[8];
	int want = (int)irand(r, 0, max < 8 ? max : 8), n = 0;
	unsigned used = 0; /* bit k: item k taken (items are distinct) */

	for (int i = 0; i < want; i++) {
		int k = (int)irand(r, 1, 12);
		if (used & (1u << k))
			continue;
		used |= 1u << k;
		items[n++] = generic_item(g, r, f, k);
	}
	return arena_join(g, items, n);
}

static void generic_field(gen *g, rng *r, int f)
{
	int type = cp_schema_field_type(g->schema, f);
	int months = cp_schema_field_months(g->schema, f);
	cell *c = &g->cells[g->col[f]];
	/* one magnitude per subscriber and field, so series persist */
	double base = lognormal(r, 40.0, 1.1);
	double p_true = unit(r);
	int max = cp_schema_field_max_items(g->schema, f);
	const char *name = cp_schema_field_name(g->schema, f);

	for (int m = 0; m < months; m++, c++) {
		double x = base * urand(r, 0.7, 1.3);
		if (chance(r, 0.03))
			continue; /* empty cell */
		switch (type) {
		case CP_TYPE_BOOL:
			c->kind = C_BOOL;
			c->v = chance(r, p_true);
			break;
		case CP_TYPE_INT:
			c->kind = C_INT;
			c->v = (int64_t)x;
			break;
		case CP_TYPE_FLOAT: /* two decimals, as money */
		case CP_TYPE_MONEY:
			c->kind = C_FIXED;
			c->scale = 2;
			c->v = (int64_t)(x * 100);
			break;
		case CP_TYPE_DATE:
			c->kind = C_DATE;
			c->v = g->as_of_date - (cp_date)irand(r, 0, 3650);
			break;
		case CP_TYPE_ENUM:
			c->kind = C_TEXT;
			c->text = generic_item(g, r, f, (int)irand(r, 1, 12));
			break;
		case CP_TYPE_SET:
		case CP_TYPE_LIST:
			c->text = generic_items(g, r, f, max > 0 ? max : 4);
			c->kind = c->text ? C_TEXT : C_NULL;
			break;
		default: /* string */
			c->kind = C_TEXT;
			c->text = arena_printf(g, "%s-%d", name, (int)irand(r, 1, 500));
			break;
		}
	}
}

/* ------------------------------------------------------------------------
 * The subscriber model (cmcc-default): tables.
 * ------------------------------------------------------------------------ */

/* Ten cities of one province (Fujian: the pilot cities of the reference
 * material are Quanzhou and Longyan), weighted by subscribers. */
typedef struct city {
	const char *name, *code;
	int weight;
	const char *const counties[12];
} city;

static const city cities[] = {
	{"福州", "FZ", 19, {"鼓楼区", "台江区", "仓山区", "晋安区", "长乐区", "福清市", "闽侯县", "连江县", "罗源县", "永泰县"}},
	{"厦门", "XM", 12, {"思明区", "湖里区", "集美区", "海沧区", "同安区", "翔安区"}},
	{"莆田", "PT", 7, {"城厢区", "涵江区", "荔城区", "秀屿区", "仙游县"}},
	{"三明", "SM", 6, {"三元区", "沙县区", "永安市", "尤溪县", "大田县", "宁化县"}},
	{"泉州", "QZ", 20, {"鲤城区", "丰泽区", "洛江区", "晋江市", "石狮市", "南安市", "惠安县", "安溪县", "永春县", "德化县"}},
	{"漳州", "ZZ", 12, {"芗城区", "龙文区", "龙海区", "漳浦县", "云霄县", "诏安县", "东山县", "平和县"}},
	{"南平", "NP", 6, {"延平区", "建阳区", "邵武市", "武夷山市", "建瓯市", "浦城县"}},
	{"龙岩", "LY", 7, {"新罗区", "永定区", "漳平市", "长汀县", "上杭县", "武平县", "连城县"}},
	{"宁德", "ND", 8, {"蕉城区", "福安市", "福鼎市", "霞浦县", "古田县", "屏南县"}},
	{"平潭", "PK", 3, {"平潭县"}},
};

static const choice other_homes[] = {
	{"广州", 3}, {"深圳", 3}, {"上海", 2}, {"北京", 1}, {"杭州", 1}, {"温州", 2},
	{"南昌", 1}, {"赣州", 2}, {"重庆", 1}, {"成都", 1},
};

static const choice surnames[] = {
	{"陈", 120}, {"林", 100}, {"黄", 70}, {"张", 45}, {"李", 40}, {"王", 35}, {"吴", 35},
	{"刘", 30}, {"蔡", 25}, {"杨", 22}, {"郑", 30}, {"许", 18}, {"谢", 16}, {"洪", 12},
	{"郭", 15}, {"邱", 10}, {"曾", 12}, {"廖", 10}, {"赖", 9}, {"徐", 10}, {"周", 12},
	{"叶", 14}, {"苏", 12}, {"庄", 10}, {"吕", 6}, {"江", 9}, {"何", 8}, {"罗", 9},
	{"高", 7}, {"潘", 7}, {"欧阳", 2}, {"游", 5}, {"詹", 5}, {"魏", 6},
};

static const char *const given_chars[] = {
	"伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟",
	"涛", "明", "超", "秀", "霞", "平", "刚", "桂", "英", "华", "玉", "萍", "红", "鹏",
	"飞", "建", "国", "文", "辉", "荣", "斌", "志", "婷", "雪", "琳", "燕", "凤", "兰",
	"梅", "宇", "浩", "鑫", "晨", "欣", "怡", "佳", "子", "涵", "俊", "峰", "海", "波",
	"龙", "春", "金", "清", "思", "雅", "晓", "嘉", "锦", "榕", "闽", "福", "泉", "航",
};

/* The 14 persona classes of the analysis system's clustering. */
static const choice personas_young[] = {
	{"时尚中高端", 12}, {"精明时尚型", 14}, {"精明尝先型", 12}, {"盲从型", 10},
	{"感性跟随型", 12}, {"虚荣跟风型", 10}, {"高潜力型", 8}, {"中潜力型", 8},
	{"理性跟随型", 4}, {"精打细算型", 4}, {"低潜力型", 2}, {"保守稳健型", 1},
	{"商务精英型", 1}, {"家庭实用型", 2},
};
static const choice personas_adult[] = {
	{"时尚中高端", 4}, {"精明时尚型", 4}, {"精明尝先型", 5}, {"盲从型", 6},
	{"感性跟随型", 7}, {"虚荣跟风型", 4}, {"高潜力型", 7}, {"中潜力型", 10},
	{"理性跟随型", 12}, {"精打细算型", 14}, {"低潜力型", 9}, {"保守稳健型", 8},
	{"商务精英型", 5}, {"家庭实用型", 10},
};

static const choice info_preferences[] = {
	{"news", 30}, {"finance", 12}, {"entertainment", 25}, {"sports", 15}, {"music", 15},
	{"games", 5}, {"health", 5}, {"travel", 3},
};
static const choice channel_preferences[] = {
	{"counter", 35}, {"sms", 25}, {"outbound", 10}, {"hotline_10086", 20}, {"web", 10},
};

/* Terminals and what they can do (terminal_features items, ';'-joined). */
typedef struct terminal {
	const char *model, *features;
	int weight_adult, weight_young;
} terminal;

static const terminal terminals[] = {
	{"Nokia 1110", "", 10, 2},
	{"Nokia 2610", "wap", 8, 3},
	{"Nokia 6300", "gprs;camera;mms;wap;java", 10, 8},
	{"Nokia N73", "gprs;camera;mms;music;smartphone;wap", 6, 8},
	{"Nokia 5800", "gprs;camera;mms;music;smartphone;wap", 4, 8},
	{"Motorola V3", "gprs;camera;mms;wap", 6, 4},
	{"Motorola E6", "gprs;camera;mms;music;smartphone", 3, 5},
	{"Samsung E258", "gprs;camera;mms", 7, 5},
	{"Sony Ericsson K790c", "gprs;camera;mms;music", 5, 7},
	{"Dopod 838", "gprs;camera;mms;smartphone", 3, 2},
	{"Lenovo i908", "gprs;camera;mms", 5, 3},
	{"Amoi A8", "gprs;camera", 4, 3},
	{"Apple iPhone", "gprs;camera;mms;music;smartphone;wifi", 4, 9},
	{"Huawei C8500", "gprs;camera;mms;smartphone;wifi", 5, 8},
	{"ZTE U880", "gprs;camera;mms;smartphone", 5, 8},
	{"Xiaomi M1", "gprs;camera;mms;music;smartphone;wifi", 3, 10},
	{"OPPO A103", "gprs;camera;mms;music", 4, 6},
};

typedef struct plan {
	const char *name;
	int rent; /* monthly rent, yuan */
} plan;

static const plan gotone_plans[] = {
	{"全球通58元套餐", 58}, {"全球通88元套餐", 88}, {"全球通128元套餐", 128},
	{"全球通188元套餐", 188}, {"全球通288元套餐", 288},
};
static const plan szx_plans[] = {
	{"神州行畅听卡", 0}, {"神州行大众卡", 0}, {"神州行家园卡", 10}, {"神州行轻松卡", 0},
};
static const plan mzone_plans[] = {
	{"动感地带音乐套餐", 18}, {"动感地带上网套餐", 28}, {"动感地带短信套餐", 18},
	{"动感地带校园套餐", 18},
};

typedef struct gprs_package {
	const char *name;
	double quota_mb;
	int price; /* yuan */
} gprs_package;

static const gprs_package gprs_packages[] = {
	{"5元30M", 30, 5}, {"20元150M", 150, 20}, {"50元500M", 500, 50},
};

static const choice crbt_channels[] = {
	{"web", 15}, {"wap", 25}, {"ivr", 20}, {"sms", 20}, {"client", 10}, {"counter", 10},
};
static const char *const content_types[] = {
	"流行", "经典", "摇滚", "民歌", "搞笑", "影视", "DJ", "闽南语", "儿歌", "祝福",
};
static const char *const contents[] = {
	"青花瓷", "老鼠爱大米", "月亮之上", "童话", "江南", "菊花台", "稻香", "两只蝴蝶",
	"爱拼才会赢", "大海", "吻别", "隐形的翅膀", "千里之外", "套马杆", "爱情买卖",
};
static const char *const newspaper_kinds[] = {
	"新闻早晚报", "福建手机报", "体育报", "财经报", "娱乐报", "健康报",
};
static const char *const ip_prefixes[] = {
	"112.5", "112.47", "120.36", "120.37", "120.40", "218.104", "211.138", "221.131",
};

/* k distinct items of a list, in random order. */
static int pick_distinct(rng *r, const char *const *list, int n, int k, const char **out)
{
	int idx[32];
	if (n > 32)
		n = 32;
	if (k > n)
		k = n;
	for (int i = 0; i < n; i++)
		idx[i] = i;
	for (int i = 0; i < k; i++) {
		int j = (int)irand(r, i, n - 1), t = idx[i];
		idx[i] = idx[j];
		idx[j] = t;
		out[i] = list[idx[i]];
	}
	return k;
}

/* ------------------------------------------------------------------------
 * The subscriber model: one subscriber.
 * ------------------------------------------------------------------------ */

enum brand { B_GOTONE, B_SZX, B_MZONE };
static const char *const brand_values[] = {"gotone", "szx", "mzone"};

/* How spend and usage move over the months. */
enum trajectory { T_STABLE, T_RISER, T_DECLINER, T_DROP, T_SILENT, T_CHURNED };

typedef struct sub {
	int mm;                  /* months simulated: at least 6 */
	int age, young, brand;
	const city *city;
	double value;            /* usual monthly spend, yuan */
	double interest;         /* appetite for value-added services, ~1 */
	int rent;                /* plan's monthly rent, yuan */
	int joined;              /* months ago the subscriber joined */
	cp_date join_date;
	int closed;              /* months ago the account was closed, -1 open */
	int trajectory;
	int overdue_days;
	int suspended;
	int gprs_ok, mms_ok;     /* terminal capabilities */
	double mult[MAXM];       /* spend level of month m, 1 = usual */
	unsigned char present[MAXM]; /* billed in month m: joined, not closed before */
	unsigned char active[MAXM];  /* used the network in month m */
	int64_t nbf[MAXM];       /* new-business fees, fen */
	int64_t recurring[MAXM]; /* their monthly (recurring) part */
	int64_t info[MAXM];      /* information fees (SP, newspaper), fen */
	int crbt_on, gprs_pkg, news_on, fetion_on; /* for addon_plans */
} sub;

static void put_int_series(gen *g, const sub *s, int f, const int64_t *v)
{
	for (int m = 0; m < g->months; m++)
		if (s->present[m])
			put_int(g, f, m, v[m]);
}

static void put_money_series(gen *g, const sub *s, int f, const int64_t *fen)
{
	for (int m = 0; m < g->months; m++)
		if (s->present[m])
			put_money(g, f, m, fen[m]);
}

static void put_bool_series(gen *g, const sub *s, int f, const int64_t *v)
{
	for (int m = 0; m < g->months; m++)
		if (s->present[m])
			put_bool(g, f, m, (int)v[m]);
}

/* Zero every month in which the subscriber did not use the network. */
static void gate_usage(const sub *s, int64_t *v)
{
	for (int m = 0; m < s->mm; m++)
		if (!s->active[m])
			v[m] = 0;
}

static int64_t sum_months(const sub *s, const int64_t *v)
{
	int64_t t = 0;
	for (int m = 0; m < s->mm; m++)
		t += v[m];
	return t;
}

/*
 * Occasional use reshaped, now and then, into the two patterns of the
 * service lifecycle that random months seldom give: a newcomer (use in the
 * last 2 months only) and a comeback (use this month after 3 months
 * without, and before them).  Returns 1 when the pattern changed.
 */
static int reshape_usage(rng *r, const sub *s, int64_t *use)
{
	double x = unit(r);
	if (x < 0.10) {
		for (int m = 2; m < s->mm; m++)
			use[m] = 0;
		if (use[0] == 0 && use[1] == 0)
			use[irand(r, 0, 1)] = irand(r, 1, 5);
		return 1;
	}
	if (x < 0.18) {
		use[1] = use[2] = use[3] = 0;
		if (use[0] == 0)
			use[0] = irand(r, 1, 5);
		if (use[4] == 0 && use[5] == 0)
			use[irand(r, 4, 5)] = irand(r, 1, 5);
		return 1;
	}
	return 0;
}

static const char *person_name(gen *g, rng *r)
{
	const char *family = PICK(r, surnames);
	const char *a = given_chars[irand(r, 0, COUNTOF(given_chars) - 1)];
	if (chance(r, 0.3))
		return arena_printf(g, "%s%s", family, a);
	const char *b = given_chars[irand(r, 0, COUNTOF(given_chars) - 1)];
	return arena_printf(g, "%s%s%s", family, a, b);
}

static const plan *choose_plan(rng *r, const sub *s)
{
	switch (s->brand) {
	case B_GOTONE: {
		int i = s->value < 100 ? 0 : s->value < 150 ? 1 : s->value < 220 ? 2 : s->value < 320 ? 3 : 4;
		return &gotone_plans[i];
	}
	case B_MZONE:
		return &mzone_plans[irand(r, 0, COUNTOF(mzone_plans) - 1)];
	default:
		return &szx_plans[irand(r, 0, COUNTOF(szx_plans) - 1)];
	}
}

static void model_person(gen *g, rng *r, sub *s)
{
	int w[COUNTOF(cities)];
	for (size_t i = 0; i < COUNTOF(cities); i++)
		w[i] = cities[i].weight;
	s->city = &cities[pick_weight(r, w, (int)COUNTOF(cities))];
	int ncounties = 0;
	while (ncounties < 12 && s->city->counties[ncounties])
		ncounties++;
	put_text(g, F_REGION, 0, s->city->name);
	put_text(g, F_COUNTY, 0, s->city->counties[irand(r, 0, ncounties - 1)]);
	put_text(g, F_HOME, 0, chance(r, 0.93) ? s->city->name : PICK(r, other_homes));
	put_text(g, F_NAME, 0, person_name(g, r));
	int x = (int)irand(r, 0, 99);
	put_text(g, F_GENDER, 0, x < 51 ? "M" : x < 98 ? "F" : "U");

	s->age = chance(r, 0.14) ? (int)irand(r, 15, 22) : (int)clampd(38 + 13 * normal(r), 18, 80);
	s->young = s->age <= 25;
	put_int(g, F_AGE, 0, s->age);

	/* brands: young people mostly M-Zone, high value Gotone, most Shenzhouxing */
	static const int brand_young[] = {5, 35, 60}, brand_adult[] = {22, 70, 8};
	s->brand = pick_weight(r, s->young ? brand_young : brand_adult, 3);
	put_text(g, F_BRAND, 0, brand_values[s->brand]);
	static const double median[] = {160, 38, 52}, spread[] = {0.5, 0.65, 0.45};
	s->value = clampd(lognormal(r, median[s->brand], spread[s->brand]), 8, 3000);
	s->interest = clampd(lognormal(r, s->young ? 1.3 : 0.9, 0.4), 0.3, 4);

	const plan *p = choose_plan(r, s);
	s->rent = p->rent;
	put_text(g, F_PLAN, 0, p->name);
	put_text(g, F_PERSONA, 0, s->young ? PICK(r, personas_young) : PICK(r, personas_adult));
	put_text(g, F_INFO_PREF, 0, PICK(r, info_preferences));
	put_text(g, F_CHANNEL_PREF, 0, PICK(r, channel_preferences));
	put_bool(g, F_DND, 0, chance(r, 0.06));

	int tw[COUNTOF(terminals)];
	for (size_t i = 0; i < COUNTOF(terminals); i++)
		tw[i] = s->young ? terminals[i].weight_young : terminals[i].weight_adult;
	const terminal *t = &terminals[pick_weight(r, tw, (int)COUNTOF(terminals))];
	s->gprs_ok = strstr(t->features, "gprs") != NULL;
	s->mms_ok = strstr(t->features, "mms") != NULL;
	put_text(g, F_TERMINAL, 0, t->model);
	if (t->features[0])
		put_text(g, F_FEATURES, 0, t->features);
	put_date(g, F_TERM_CHANGED, 0, day_in_month(g, r, chance(r, 0.2) ? (int)irand(r, 0, 5)
	                                                                  : (int)irand(r, 6, 48)));
}

/* Tenure, trajectory, closure, suspension: which months exist and how busy. */
static void model_trajectory(gen *g, rng *r, sub *s)
{
	double x = unit(r);
	s->joined = x < 0.045 ? (int)irand(r, 0, 2)
	          : x < 0.13 ? (int)irand(r, 3, 11)
	          : 12 + (int)clampd(lognormal(r, 40, 0.7), 0, BACK_MONTHS - 13);

	/* per mille: stable, riser, decliner, sharp drop, silent, churned */
	static const int tw[] = {640, 100, 90, 35, 45, 50};
	s->trajectory = pick_weight(r, tw, 6);
	if (s->joined <= 2 && s->trajectory != T_RISER)
		s->trajectory = T_STABLE; /* too new for a history */
	s->closed = -1;
	if (s->trajectory == T_CHURNED) {
		if (chance(r, 0.35)) {
			/* valuable until recently: win-back candidates */
			s->closed = (int)irand(r, 0, 2);
			if (s->value < 120)
				s->value = lognormal(r, 180, 0.3);
		} else {
			s->closed = (int)irand(r, 0, s->mm - 1);
		}
		if (s->joined <= s->closed)
			s->joined = s->closed + (int)irand(r, 3, 60);
	}
	s->join_date = day_in_month(g, r, s->joined);
	put_date(g, F_JOIN, 0, s->join_date);

	for (int m = 0; m < s->mm; m++) {
		double frac = s->mm > 1 ? (double)(s->mm - 1 - m) / (s->mm - 1) : 1; /* 0 oldest .. 1 now */
		double v;
		switch (s->trajectory) {
		case T_RISER: v = (0.55 + 0.9 * frac) * urand(r, 0.95, 1.05); break;
		case T_DECLINER: v = (1.35 - 1.0 * frac) * urand(r, 0.95, 1.05); break;
		case T_DROP: v = m <= 1 ? urand(r, 0.05, 0.25) : urand(r, 0.9, 1.1); break;
		case T_CHURNED: v = m > s->closed ? urand(r, 0.85, 1.15) : m == s->closed ? 0.4 : 0; break;
		default: v = urand(r, 0.9, 1.1); break;
		}
		/* months before joining and after closing carry no bill: null */
		s->present[m] = m <= s->joined && (s->closed < 0 || m >= s->closed);
		if (m == s->joined)
			v *= 0.5; /* joined during the month */
		s->mult[m] = s->present[m] ? v : 0;
		s->active[m] = s->present[m] && v > 0 && !(s->trajectory == T_SILENT && m <= 1);
	}

	/* arrears: a few are bad debt (60 days or more), more are a little late */
	x = unit(r);
	if (x < 0.025 && s->joined >= 3) {
		s->overdue_days = (int)irand(r, 60, 400);
		s->suspended = chance(r, 0.75);
	} else if (x < 0.075) {
		s->overdue_days = (int)irand(r, 1, 59);
		s->suspended = chance(r, 0.1);
	} else {
		s->suspended = chance(r, 0.006);
	}
	if (s->closed >= 0)
		s->suspended = 0;
	if (s->suspended) {
		s->active[0] = 0; /* barred this month */
		if (s->overdue_days >= 90)
			s->active[1] = 0;
	}
}

/* Mobile internet: one usage pattern per marketing attribute (§7.2). */
enum { G_SILENT, G_HEAVY, G_IMPULSIVE, G_FLASH, G_TRIAL, G_EXPLORER, G_LIGHT };

static void model_gprs(gen *g, rng *r, sub *s)
{
	int64_t sessions[MAXM] = {0}, clicks[MAXM] = {0}, joins[MAXM] = {0};
	int64_t mb100[MAXM] = {0}; /* traffic in hundredths of a MB */
	int64_t fee[MAXM] = {0}, info[MAXM] = {0};
	int w[] = {28, 12, 6, 7, 6, 7, 34};
	int pattern, trial_end = -1, pkg = -1;

	if (s->young)
		w[G_HEAVY] += 10;
	pattern = s->gprs_ok ? pick_weight(r, w, 7) : chance(r, 0.85) ? G_SILENT : G_LIGHT;
	switch (pattern) {
	case G_HEAVY: /* every month more than 10 sessions and 2 MB */
		for (int m = 0; m < s->mm; m++) {
			sessions[m] = (int64_t)fmax(11 + irand(r, 0, 3), lognormal(r, 30 * s->interest, 0.5));
			mb100[m] = (int64_t)(100 * fmax(urand(r, 2.1, 2.8), lognormal(r, 20 * s->interest, 0.8)));
		}
		pkg = chance(r, 0.6) ? (int)irand(r, 0, 2) : -1;
		break;
	case G_IMPULSIVE: { /* package, more than 10 MB over consecutive months */
		int start = chance(r, 0.8) ? 0 : (int)irand(r, 1, s->mm - 2);
		for (int m = 0; m < s->mm; m++) {
			int high = (m == start || m == start + 1) || chance(r, 0.7);
			sessions[m] = irand(r, 3, 30);
			mb100[m] = (int64_t)(100 * (high ? fmax(10.5, lognormal(r, 28, 0.5)) : urand(r, 3, 10)));
		}
		pkg = (int)irand(r, 1, 2);
		break;
	}
	case G_FLASH: { /* a few sessions once, then nothing for 3+ months */
		int u = (int)irand(r, 3, s->mm - 1);
		sessions[u] = irand(r, 1, 6);
		mb100[u] = irand(r, 10, 150);
		break;
	}
	case G_TRIAL: { /* free trial, then stopped */
		trial_end = (int)irand(r, 1, s->mm - 2 < 3 ? s->mm - 2 : 3);
		for (int m = trial_end; m <= trial_end + 1; m++) {
			sessions[m] = irand(r, 4, 20);
			mb100[m] = irand(r, 50, 600);
		}
		joins[trial_end + 1] = 1;
		break;
	}
	case G_EXPLORER:
	case G_LIGHT:
		for (int m = 0; m < s->mm; m++)
			if (chance(r, 0.6 * fmin(s->mult[m], 1.3)))
				sessions[m] = irand(r, 1, 9);
		if (pattern == G_LIGHT)
			reshape_usage(r, s, sessions);
		for (int m = 0; m < s->mm; m++)
			mb100[m] = sessions[m] > 0 ? irand(r, 5, 190) : 0;
		if (chance(r, 0.12))
			pkg = 0;
		break;
	default:
		if (chance(r, 0.02))
			pkg = 0; /* pays for a package and never uses it */
		break;
	}
	/* clicked a WAP push or joined a promotion in the last 3 months */
	if (pattern == G_EXPLORER || (pattern != G_SILENT && chance(r, 0.08)) || chance(r, 0.02)) {
		clicks[irand(r, 0, 2)] = irand(r, 1, 4);
		if (chance(r, 0.5))
			joins[irand(r, 0, 2)] += 1;
	}
	if (chance(r, 0.05))
		clicks[irand(r, 3, s->mm - 1)] = irand(r, 1, 3);
	/* a trial that did not stop use: not price-sensitive */
	if (trial_end < 0 && (pattern == G_HEAVY || pattern == G_LIGHT) && chance(r, 0.05))
		trial_end = (int)irand(r, 1, 3);
	gate_usage(s, sessions);
	gate_usage(s, mb100);
	gate_usage(s, clicks);
	gate_usage(s, joins);

	int visited = sum_months(s, sessions) > 0 ? chance(r, 0.6) : chance(r, 0.05);
	int paid = visited && chance(r, 0.35);
	for (int m = 0; m < s->mm; m++) {
		if (!s->present[m])
			continue;
		if (pkg >= 0) {
			double over = mb100[m] / 100.0 - gprs_packages[pkg].quota_mb;
			fee[m] = gprs_packages[pkg].price * 100 + (over > 0 ? (int64_t)(over * 100) : 0);
		} else {
			fee[m] = mb100[m] * 3 < 50000 ? mb100[m] * 3 : 50000; /* 3 yuan a MB, capped */
		}
		info[m] = paid && sessions[m] > 0 ? irand(r, 200, 1500) : 0;
		s->nbf[m] += fee[m] + info[m];
		s->recurring[m] += fee[m];
		s->info[m] += info[m];
	}
	s->gprs_pkg = pkg >= 0;
	if (pkg >= 0) {
		put_text(g, F_GPRS_PKG, 0, gprs_packages[pkg].name);
		put_float(g, F_GPRS_QUOTA, 0, gprs_packages[pkg].quota_mb, 0);
	}
	put_int_series(g, s, F_WEB, sessions);
	for (int m = 0; m < g->months; m++)
		if (s->present[m])
			put_float(g, F_GPRS_MB, m, mb100[m] / 100.0, 2);
	put_money_series(g, s, F_GPRS_FEE, fee);
	put_money_series(g, s, F_GPRS_INFO_FEE, info);
	put_int_series(g, s, F_WAP_CLICKS, clicks);
	put_int_series(g, s, F_PROMO_JOINS, joins);
	put_bool(g, F_MONTERNET_VISITED, 0, visited);
	put_bool(g, F_MONTERNET_PAID, 0, paid);
	if (trial_end >= 0)
		put_date(g, F_GPRS_TRIAL, 0, day_in_month(g, r, trial_end));
}

/* Ringback tones: subscription, downloads, campaigns (§7.2 crbt). */
enum { R_TOTAL_SILENT, R_FOLLOWER, R_PRICE, R_ACTIVE, R_OTHER };

static void model_crbt(gen *g, rng *r, sub *s)
{
	int64_t on[MAXM] = {0}, dl[MAXM] = {0}, promo[MAXM] = {0};
	int64_t contacts[MAXM] = {0}, responses[MAXM] = {0}, fee[MAXM] = {0}, change[MAXM] = {0};
	static const double take_up[] = {0.38, 0.28, 0.5};
	static const int w[] = {22, 15, 15, 20, 28};
	int since = -1, unsub = -1, pattern = -1;
	int left = -1; /* an earlier subscription ended this many months ago */

	if (chance(r, take_up[s->brand])) {
		int newest = s->joined < s->mm ? s->joined : s->mm - 1;
		since = s->joined >= s->mm && chance(r, 0.75)
		      ? (int)irand(r, s->mm, s->joined < 96 ? s->joined : 96)
		      : (int)irand(r, 0, newest);
		if (since > 0 && chance(r, 0.06))
			unsub = (int)irand(r, 0, (since - 1 < s->mm - 1 ? since - 1 : s->mm - 1));
		else if (since <= 2 && s->joined > since + 3 && chance(r, 0.3))
			left = (int)irand(r, since + 1, s->joined < 24 ? s->joined : 24); /* came back */
		for (int m = 0; m < s->mm; m++)
			on[m] = s->present[m] && m <= since && m > unsub;
		pattern = pick_weight(r, w, 5);
	}
	switch (pattern) {
	case R_TOTAL_SILENT: /* contacted, never responds, never downloads */
		for (int k = (int)irand(r, 1, 3); k > 0; k--)
			contacts[irand(r, 0, s->mm - 1)] += irand(r, 1, 2);
		break;
	case R_FOLLOWER: /* downloads when a campaign reaches them */
		for (int k = (int)irand(r, 1, 2); k > 0; k--) {
			int m = (int)irand(r, 0, 2);
			contacts[m] += irand(r, 1, 2);
			responses[m] = 1;
			dl[m] = irand(r, 1, 2);
			promo[m] = chance(r, 0.4);
		}
		if (chance(r, 0.3))
			contacts[irand(r, 3, s->mm - 1)] += 1;
		break;
	case R_PRICE: /* most downloads at a discount */
		for (int k = (int)irand(r, 2, 4); k > 0; k--) {
			int m = (int)irand(r, 0, s->mm - 1);
			dl[m] = irand(r, 1, 3);
			promo[m] = dl[m] >= 2 && chance(r, 0.2) ? dl[m] - 1 : dl[m];
		}
		break;
	case R_ACTIVE: /* downloads on their own, most months */
		for (int m = 0; m < s->mm; m++)
			if (chance(r, 0.75) || m < 3) {
				dl[m] = irand(r, 1, 3);
				promo[m] = chance(r, 0.1);
			}
		break;
	case R_OTHER:
		if (chance(r, 0.4))
			dl[irand(r, 0, s->mm - 1)] = 1;
		break;
	default: /* not a subscriber; some are targets of acquisition campaigns */
		if (chance(r, 0.12))
			contacts[irand(r, 0, s->mm - 1)] = irand(r, 1, 2);
		break;
	}
	for (int m = 0; m < s->mm; m++) {
		if (!on[m] || !s->active[m])
			dl[m] = promo[m] = responses[m] = 0;
		if (!s->present[m])
			contacts[m] = 0;
		fee[m] = on[m] ? 500 : 0;
		change[m] = (dl[m] - promo[m]) * 200 + promo[m] * 50;
		s->nbf[m] += fee[m] + change[m];
		s->recurring[m] += fee[m];
	}
	put_bool_series(g, s, F_CRBT_SUB, on);
	put_money_series(g, s, F_CRBT_FEE, fee);
	put_int_series(g, s, F_CRBT_DL, dl);
	put_int_series(g, s, F_CRBT_PROMO, promo);
	put_money_series(g, s, F_CRBT_CHANGE, change);
	put_int_series(g, s, F_CRBT_CONTACTS, contacts);
	put_int_series(g, s, F_CRBT_RESPONSES, responses);
	s->crbt_on = (int)on[0];

	int64_t downloads = sum_months(s, dl);
	static const char *const clubs[] = {"none", "member", "senior"};
	static const int club_active[] = {50, 35, 15}, club_sub[] = {85, 12, 3}, club_none[] = {97, 3, 0};
	put_text(g, F_MUSIC_CLUB, 0, clubs[pick_weight(r, pattern == R_ACTIVE ? club_active
	                                                : since >= 0 ? club_sub : club_none, 3)]);
	if (since < 0)
		return;
	put_date(g, F_CRBT_SINCE, 0, since == s->joined ? s->join_date : day_in_month(g, r, since));
	if (unsub >= 0 || left >= 0)
		put_date(g, F_CRBT_UNSUB, 0, day_in_month(g, r, unsub >= 0 ? unsub : left));
	if (downloads > 0 || chance(r, 0.4))
		put_text(g, F_CRBT_CHANNEL, 0, PICK(r, crbt_channels));
	if (downloads > 0 || chance(r, 0.5)) {
		const char *items[3];
		int n = pick_distinct(r, content_types, COUNTOF(content_types), (int)irand(r, 1, 3), items);
		put_text(g, F_FAV_TYPES, 0, arena_join(g, items, n));
		n = pick_distinct(r, contents, COUNTOF(contents), (int)irand(r, 1, 3), items);
		put_text(g, F_FAV_CONTENTS, 0, arena_join(g, items, n));
		n = downloads > 3 ? 3 : downloads > 0 ? (int)downloads : 1;
		for (int i = 0; i < n; i++)
			items[i] = arena_printf(g, "6009%08d", (int)irand(r, 0, 99999999));
		put_text(g, F_RECENT_TONES, 0, arena_join(g, items, n));
	}
}

/* MMS: active (sent each of the last 3 months), silent (nothing in 3 months). */
enum { M_NONE, M_ACTIVE, M_SILENT, M_OCCASIONAL };

static void model_mms(gen *g, rng *r, sub *s)
{
	int64_t sent[MAXM] = {0}, recv[MAXM] = {0}, caixiu[MAXM] = {0}, orders[MAXM] = {0};
	int64_t fee[MAXM] = {0};
	static const int w[] = {30, 30, 15, 25};
	int pattern = s->mms_ok ? pick_weight(r, w, 4) : chance(r, 0.85) ? M_NONE : M_OCCASIONAL;

	for (int m = 0; m < s->mm; m++) {
		switch (pattern) {
		case M_ACTIVE:
			sent[m] = (int64_t)fmax(1, irand(r, 1, 12) * s->interest);
			recv[m] = irand(r, 1, 20);
			break;
		case M_SILENT:
			if (m >= 3 && chance(r, 0.6)) {
				sent[m] = irand(r, 1, 5);
				recv[m] = irand(r, 0, 6);
			}
			break;
		case M_OCCASIONAL:
			sent[m] = chance(r, 0.3) ? irand(r, 1, 3) : 0;
			recv[m] = chance(r, 0.4) ? irand(r, 1, 4) : 0;
			break;
		default:
			break;
		}
	}
	if (pattern == M_OCCASIONAL && reshape_usage(r, s, sent))
		for (int m = 0; m < s->mm; m++)
			recv[m] = sent[m] > 0 ? irand(r, 0, 4) : recv[m];
	if ((pattern == M_ACTIVE || pattern == M_OCCASIONAL) && chance(r, 0.12))
		for (int m = 0; m < s->mm; m++)
			caixiu[m] = sent[m] > 0 ? irand(r, 1, 5) : 0;
	if ((pattern == M_ACTIVE || pattern == M_OCCASIONAL) && chance(r, 0.15)) {
		int64_t k = irand(r, 1, 2);
		for (int m = 0; m < s->mm; m++)
			orders[m] = k;
	}
	gate_usage(s, sent);
	gate_usage(s, recv);
	gate_usage(s, caixiu);
	gate_usage(s, orders);
	for (int m = 0; m < s->mm; m++) {
		fee[m] = orders[m] * 300;
		s->nbf[m] += fee[m];
		s->recurring[m] += fee[m];
	}
	put_int_series(g, s, F_MMS_SENT, sent);
	put_int_series(g, s, F_MMS_RECV, recv);
	put_int_series(g, s, F_CAIXIU, caixiu);
	put_int_series(g, s, F_MMS_ORDERS, orders);
	put_money_series(g, s, F_MMS_FEE, fee);
}

/* Mobile newspaper (MMS editions): subscribed, cancelled, new, and back
 * (subscribed again this month after a cancellation of 3 months or more). */
static void model_newspaper(gen *g, rng *r, sub *s)
{
	int64_t recv[MAXM] = {0};
	int since = -1, until = -1; /* months ago: subscribed, cancelled */
	int before = -1;            /* back: the earlier subscription ran in months 4..before */
	int x = (int)irand(r, 0, 99);

	if (chance(r, s->brand == B_GOTONE ? 0.3 : 0.16) && (s->mms_ok || chance(r, 0.2))) {
		int newest = s->joined < 60 ? s->joined : 60;
		if (x < 70) {
			since = (int)irand(r, 0, newest);
		} else if (x < 86 && s->joined >= 4) {
			until = (int)irand(r, 3, s->joined - 1 < s->mm - 1 ? s->joined - 1 : s->mm - 1);
			since = (int)irand(r, until + 1, newest);
		} else if (x < 94 && s->joined >= 5 && s->mm >= 6) {
			since = 0;
			before = s->joined < 5 ? s->joined : 5;
		} else {
			since = (int)irand(r, 0, s->joined < 1 ? s->joined : 1);
		}
	}
	if (since >= 0) {
		const char *items[2];
		int n = pick_distinct(r, newspaper_kinds, COUNTOF(newspaper_kinds), (int)irand(r, 1, 2), items);
		put_text(g, F_NEWS_TYPES, 0, arena_join(g, items, n));
		put_date(g, F_NEWS_SINCE, 0, since == s->joined ? s->join_date : day_in_month(g, r, since));
		for (int m = 0; m < s->mm; m++) {
			int on = (m <= since && m > until) || (m >= 4 && m <= before);
			if (!on || !s->active[m])
				continue;
			recv[m] = irand(r, 28, 62);
			s->info[m] += 300 * n;
			s->nbf[m] += 300 * n;
			s->recurring[m] += 300 * n;
		}
	}
	s->news_on = recv[0] > 0;
	put_int_series(g, s, F_NEWS_RECV, recv);
}

/* Fetion: active (logins each of the last 3 months), silent, occasional. */
enum { FT_ACTIVE, FT_SILENT, FT_OCCASIONAL };

static void model_fetion(gen *g, rng *r, sub *s)
{
	int64_t sms[MAXM] = {0}, voice[MAXM] = {0}, logins[MAXM] = {0};
	static const int w[] = {55, 25, 20};
	double p = (s->young ? 0.45 : 0.22) * (s->gprs_ok ? 1 : 0.2);

	if (chance(r, p)) {
		int pattern = pick_weight(r, w, 3), talks = chance(r, 0.15);
		for (int m = 0; m < s->mm; m++) {
			if (pattern == FT_ACTIVE) {
				logins[m] = irand(r, 3, 60);
				sms[m] = (int64_t)lognormal(r, 40 * s->interest, 0.8);
				voice[m] = talks ? irand(r, 1, 60) : 0;
			} else if ((pattern == FT_SILENT && m >= 3 && chance(r, 0.7)) ||
			           (pattern == FT_OCCASIONAL && chance(r, 0.35))) {
				logins[m] = irand(r, 1, 8);
				sms[m] = irand(r, 0, 20);
			}
		}
		if (pattern == FT_OCCASIONAL && reshape_usage(r, s, logins))
			for (int m = 0; m < s->mm; m++)
				sms[m] = logins[m] > 0 ? irand(r, 0, 20) : 0;
		gate_usage(s, logins);
		gate_usage(s, sms);
		gate_usage(s, voice);
		if (sum_months(s, logins) > 0)
			put_text(g, F_FETION_IP, 0, arena_printf(g, "%s.%d.%d",
			         ip_prefixes[irand(r, 0, COUNTOF(ip_prefixes) - 1)],
			         (int)irand(r, 0, 255), (int)irand(r, 1, 254)));
	}
	s->fetion_on = logins[0] > 0;
	put_int_series(g, s, F_FETION_SMS, sms);
	put_int_series(g, s, F_FETION_VOICE, voice);
	put_int_series(g, s, F_FETION_LOGINS, logins);
}

/* IVR voice services: the same attributes as mobile internet (§7.2 ivr). */
enum { I_SILENT, I_HEAVY, I_EXPLORER, I_IMPULSIVE, I_FLASH, I_TRIAL, I_LIGHT };

static void model_ivr(gen *g, rng *r, sub *s)
{
	int64_t nat[MAXM] = {0}, loc[MAXM] = {0}, nat_min[MAXM] = {0}, loc_min[MAXM] = {0};
	int64_t fee[MAXM] = {0};
	static const int w[] = {58, 5, 6, 5, 6, 5, 15};
	int pattern = pick_weight(r, w, 7), trial_end = -1;

	switch (pattern) {
	case I_HEAVY: /* every month more than 10 calls */
		for (int m = 0; m < s->mm; m++) {
			int64_t total = irand(r, 11, 40);
			nat[m] = irand(r, 0, total);
			loc[m] = total - nat[m];
		}
		break;
	case I_EXPLORER: /* national and local, this month and last */
		for (int m = 0; m < s->mm; m++) {
			if (m <= 1) {
				nat[m] = irand(r, 1, 5);
				loc[m] = irand(r, 1, 5);
			} else if (chance(r, 0.4)) {
				loc[m] = irand(r, 1, 3);
			}
		}
		break;
	case I_IMPULSIVE: { /* one expensive month */
		int k = (int)irand(r, 0, s->mm - 1);
		for (int m = 0; m < s->mm; m++)
			if (m != k && chance(r, 0.3))
				loc[m] = irand(r, 1, 3);
		nat[k] = irand(r, 8, 20);
		nat_min[k] = irand(r, 45, 120);
		break;
	}
	case I_FLASH: {
		int u = (int)irand(r, 3, s->mm - 1);
		if (chance(r, 0.5))
			nat[u] = irand(r, 1, 5);
		else
			loc[u] = irand(r, 1, 5);
		break;
	}
	case I_TRIAL:
		trial_end = (int)irand(r, 1, s->mm - 2 < 3 ? s->mm - 2 : 3);
		for (int m = trial_end; m <= trial_end + 1; m++) {
			nat[m] = irand(r, 2, 8);
			loc[m] = irand(r, 1, 6);
		}
		break;
	case I_LIGHT: {
		int64_t calls[MAXM] = {0};
		for (int m = 0; m < s->mm; m++)
			calls[m] = chance(r, 0.25) ? irand(r, 1, 4) : 0;
		reshape_usage(r, s, calls);
		for (int m = 0; m < s->mm; m++)
			*(chance(r, 0.5) ? &nat[m] : &loc[m]) = calls[m];
		break;
	}
	default:
		break;
	}
	for (int m = 0; m < s->mm; m++) {
		if (nat_min[m] == 0)
			nat_min[m] = (int64_t)(nat[m] * urand(r, 1, 3.5));
		loc_min[m] = (int64_t)(loc[m] * urand(r, 1, 3.5));
	}
	gate_usage(s, nat);
	gate_usage(s, loc);
	gate_usage(s, nat_min);
	gate_usage(s, loc_min);
	for (int m = 0; m < s->mm; m++) {
		fee[m] = nat_min[m] * 50 + loc_min[m] * 30; /* 0.5 and 0.3 yuan a minute */
		s->nbf[m] += fee[m];
	}
	put_bool(g, F_IVR_NAT_MAG, 0, sum_months(s, nat) > 0 && chance(r, 0.7));
	put_bool(g, F_IVR_LOC_MAG, 0, sum_months(s, loc) > 0 && chance(r, 0.7));
	put_int_series(g, s, F_IVR_NAT_CALLS, nat);
	put_int_series(g, s, F_IVR_LOC_CALLS, loc);
	put_int_series(g, s, F_IVR_NAT_MIN, nat_min);
	put_int_series(g, s, F_IVR_LOC_MIN, loc_min);
	put_money_series(g, s, F_IVR_FEE, fee);
	if (trial_end >= 0)
		put_date(g, F_IVR_TRIAL, 0, day_in_month(g, r, trial_end));
}

/* Voice, SMS and spend, consistent with the service fees written above. */
static void model_spend(gen *g, rng *r, sub *s)
{
	int64_t voice[MAXM] = {0}, sms[MAXM] = {0}, arpu[MAXM] = {0}, spend[MAXM] = {0};
	static const double per_yuan_voice[] = {3.0, 4.0, 2.0}, per_yuan_sms[] = {0.8, 1.0, 4.0};

	for (int m = 0; m < s->mm; m++) {
		double base;
		if (!s->present[m])
			continue;
		if (s->active[m])
			base = s->value * s->mult[m];
		else
			base = s->rent; /* silent or barred: the rent only */
		if (s->active[m] && base > 0) {
			voice[m] = (int64_t)(base * per_yuan_voice[s->brand] * urand(r, 0.8, 1.2));
			sms[m] = (int64_t)(base * per_yuan_sms[s->brand] * urand(r, 0.7, 1.3));
		}
		if (s->info[m] == 0 && s->active[m] && chance(r, 0.05)) {
			int64_t sp = irand(r, 200, 1000); /* some SP's information service */
			s->info[m] += sp;
			s->nbf[m] += sp;
		}
		arpu[m] = (int64_t)(base * 100) + s->nbf[m];
		spend[m] = arpu[m];
		if (s->active[m] && chance(r, 0.08))
			spend[m] += irand(r, 500, 8000); /* roaming, international */
	}
	put_int_series(g, s, F_VOICE, voice);
	put_int_series(g, s, F_SMS, sms);
	put_money_series(g, s, F_ARPU, arpu);
	put_money_series(g, s, F_SPEND, spend);
	put_money_series(g, s, F_NBF, s->nbf);
	put_money_series(g, s, F_NB_ARPU, s->recurring);
	put_money_series(g, s, F_INFO_FEE, s->info);
}

/* Status, arrears, churn score, contract, account manager, add-ons. */
static void model_account(gen *g, rng *r, sub *s)
{
	put_text(g, F_STATUS, 0, s->closed >= 0 ? "closed" : s->suspended ? "suspended" : "active");
	if (s->closed >= 0) {
		cp_date d = day_in_month(g, r, s->closed);
		put_date(g, F_CLOSE, 0, d > s->join_date ? d : s->join_date + 1);
	}
	int64_t owed = s->overdue_days >= 60 ? (int64_t)(lognormal(r, 300, 0.7) * 100)
	             : s->overdue_days > 0 ? (int64_t)(lognormal(r, 60, 0.6) * 100) : 0;
	put_money(g, F_OVERDUE_AMT, 0, owed);
	put_int(g, F_OVERDUE_DAYS, 0, s->overdue_days);

	double score;
	switch (s->trajectory) {
	case T_RISER: score = urand(r, 0.02, 0.18); break;
	case T_DECLINER: score = urand(r, 0.30, 0.72); break;
	case T_DROP: score = urand(r, 0.62, 0.95); break;
	case T_SILENT: score = urand(r, 0.20, 0.65); break;
	case T_CHURNED: score = urand(r, 0.85, 0.99); break;
	default: score = chance(r, 0.02) ? urand(r, 0.6, 0.75) : urand(r, 0.03, 0.30); break;
	}
	if (s->overdue_days >= 60)
		score = fmin(0.99, score + 0.1);
	put_float(g, F_CHURN, 0, score, 3);
	put_float(g, F_INFLUENCE, 0, clampd(lognormal(r, s->brand == B_GOTONE ? 28 : 15, 0.8)
	                                    * (s->fetion_on ? 1.3 : 1), 0, 100), 2);
	if (s->brand == B_GOTONE || chance(r, 0.2))
		put_date(g, F_CONTRACT, 0, day_in_month(g, r, (int)irand(r, -24, 6)));
	if (s->brand == B_GOTONE && (s->value >= 150 || (s->value >= 100 && chance(r, 0.35))))
		put_text(g, F_MANAGER, 0, arena_printf(g, "%sKM%02d", s->city->code, (int)irand(r, 1, 25)));

	const char *items[8];
	int n = 0;
	if (s->crbt_on)
		items[n++] = "彩铃";
	if (s->gprs_pkg)
		items[n++] = "GPRS套餐";
	if (s->news_on)
		items[n++] = "手机报";
	if (s->fetion_on && chance(r, 0.3))
		items[n++] = "飞信会员";
	if (chance(r, 0.7))
		items[n++] = "来电显示";
	if (chance(r, 0.2))
		items[n++] = "短信包";
	if (chance(r, 0.1))
		items[n++] = "亲情号码";
	if (chance(r, 0.05))
		items[n++] = "家庭计划";
	put_text(g, F_ADDONS, 0, arena_join(g, items, n));
}

/* Descriptive fields that exports leave empty now and then. */
static const struct {
	int field;
	double p;
} blank_fields[] = {
	{F_COUNTY, 0.03}, {F_HOME, 0.02}, {F_NAME, 0.01}, {F_GENDER, 0.03}, {F_AGE, 0.04},
	{F_PERSONA, 0.05}, {F_INFO_PREF, 0.06}, {F_CHANNEL_PREF, 0.05}, {F_INFLUENCE, 0.03},
	{F_TERMINAL, 0.03}, {F_FEATURES, 0.03}, {F_TERM_CHANGED, 0.05}, {F_PLAN, 0.01},
};

static void model_row(gen *g, rng *r)
{
	sub s;
	memset(&s, 0, sizeof(s));
	s.mm = g->months > 6 ? g->months : 6;
	model_person(g, r, &s);
	model_trajectory(g, r, &s);
	model_gprs(g, r, &s);
	model_crbt(g, r, &s);
	model_mms(g, r, &s);
	model_newspaper(g, r, &s);
	model_fetion(g, r, &s);
	model_ivr(g, r, &s);
	model_spend(g, r, &s);
	model_account(g, r, &s);
	for (size_t i = 0; i < COUNTOF(blank_fields); i++) {
		cell *c = model_cell(g, blank_fields[i].field, 0);
		if (c && chance(r, blank_fields[i].p))
			c->kind = C_NULL;
	}
}

/* ------------------------------------------------------------------------
 * Driver.
 * ------------------------------------------------------------------------ */

/* First day of month number t (year * 12 + month - 1). */
static int first_of_month(int t, cp_date *out)
{
	return cp_date_from_ymd(out, t / 12, t % 12 + 1, 1);
}

static int month_tables(gen *g)
{
	int now = (g->as_of / 100) * 12 + (g->as_of % 100 - 1);

	for (int k = -AHEAD_MONTHS; k < BACK_MONTHS; k++) {
		cp_date first, next;
		if (first_of_month(now - k, &first) != CP_OK ||
		    first_of_month(now - k + 1, &next) != CP_OK) {
			cli_error("gen: as-of month out of range");
			return EXIT_ERROR;
		}
		g->month_first[k + AHEAD_MONTHS] = first;
		g->month_days[k + AHEAD_MONTHS] = next - first;
	}
	g->as_of_date = month_first(g, 0) + g->month_days[AHEAD_MONTHS] - 1;
	return CLI_GO;
}

static int gen_init(gen *g, const cp_schema *schema, uint64_t seed, int as_of)
{
	uint64_t x = seed;

	g->schema = schema;
	g->nfields = cp_schema_field_count(schema);
	g->months = cp_schema_months(schema);
	g->key = cp_schema_key_field(schema);
	g->key_msisdn = strcmp(cp_schema_field_normalize(schema, g->key), "msisdn-cn") == 0;
	g->realistic = strcmp(cp_schema_name(schema), "cmcc-default") == 0 && g->months <= MAXM;
	g->seed = seed;
	g->as_of = as_of;
	g->col = malloc(((size_t)g->nfields + 1) * sizeof(*g->col));
	g->modelled = calloc((size_t)g->nfields, 1);
	if (!g->col || !g->modelled)
		goto nomem;
	for (int f = 0; f < g->nfields; f++) {
		g->col[f] = g->ncells;
		g->ncells += cp_schema_field_months(schema, f);
	}
	g->col[g->nfields] = g->ncells;
	g->cells = malloc((size_t)g->ncells * sizeof(*g->cells));
	g->arena_cap = 8192 + (size_t)g->ncells * 96;
	g->arena = malloc(g->arena_cap);
	g->out.buf = malloc(OUT_BYTES);
	if (!g->cells || !g->arena || !g->out.buf)
		goto nomem;
	/* the model writes the fields it knows, when their type is the expected one */
	for (int i = 0; i < F_COUNT; i++) {
		int f = g->realistic ? cp_schema_field_index(schema, model_names[i]) : -1;
		if (f >= 0 && (f == g->key || cp_schema_field_type(schema, f) != model_types[i]))
			f = -1;
		g->idx[i] = f;
		if (f >= 0)
			g->modelled[f] = 1;
	}
	g->modelled[g->key] = 1;
	/* key permutation: multiplier coprime with 10^8 */
	g->key_mul = splitmix64(&x) % 100000000ull;
	g->key_add = splitmix64(&x) % 100000000ull;
	while (g->key_mul % 2 == 0 || g->key_mul % 5 == 0)
		g->key_mul++;
	return month_tables(g);
nomem:
	cli_error("out of memory");
	return EXIT_ERROR;
}

static void gen_fini(gen *g)
{
	free(g->col);
	free(g->modelled);
	free(g->cells);
	free(g->arena);
	free(g->out.buf);
}

static void write_header(gen *g)
{
	for (int f = 0; f < g->nfields; f++) {
		const char *name = cp_schema_field_name(g->schema, f);
		if (!cp_schema_field_is_series(g->schema, f)) {
			if (f)
				out_char(&g->out, ',');
			out_text(&g->out, name);
			continue;
		}
		for (int m = 0; m < cp_schema_field_months(g->schema, f); m++) {
			if (f || m)
				out_char(&g->out, ',');
			out_text(&g->out, name);
			out_char(&g->out, '_');
			out_char(&g->out, 'm');
			out_int(&g->out, m);
		}
	}
	out_char(&g->out, '\n');
}

static void write_row(gen *g, uint64_t i)
{
	rng r;
	cell *key = &g->cells[g->col[g->key]];

	memset(g->cells, 0, (size_t)g->ncells * sizeof(*g->cells));
	g->arena_len = 0;
	rng_seed(&r, g->seed, i);
	key->kind = C_TEXT;
	key->text = make_key(g, &r, i);
	if (g->realistic)
		model_row(g, &r);
	for (int f = 0; f < g->nfields; f++)
		if (!g->modelled[f])
			generic_field(g, &r, f);
	for (int c = 0; c < g->ncells; c++) {
		if (c)
			out_char(&g->out, ',');
		out_cell(&g->out, &g->cells[c]);
	}
	out_char(&g->out, '\n');
}

static int write_all(gen *g, uint64_t count)
{
	cli_progress progress;
	char line[96];

	cli_progress_begin(&progress);
	write_header(g);
	for (uint64_t i = 0; i < count && !g->out.failed; i++) {
		write_row(g, i);
		if ((i & 4095) == 0 && cli_progress_due(&progress)) {
			snprintf(line, sizeof(line), "gen: %llu%% (%llu of %llu rows)",
			         (unsigned long long)(i * 100 / count), (unsigned long long)i,
			         (unsigned long long)count);
			cli_progress_show(&progress, line);
		}
	}
	out_flush(&g->out);
	cli_progress_end(&progress);
	return g->out.failed ? EXIT_ERROR : EXIT_OK;
}

static const char gen_usage[] =
	"custprof gen [--schema S.yaml] --count N [--seed K] [--as-of YYYY-MM] -o DATA.csv";
static const char gen_help[] =
	"Write N synthetic subscribers as CSV: a header row, then one row per\n"
	"subscriber.  The same seed, count, as-of month and schema always give\n"
	"the same bytes.  With the default schema the rows model a province's\n"
	"subscribers (brands, spend trajectories, service usage patterns); any\n"
	"other schema gets plausible values of each field's type.\n"
	"\n"
	"options:\n"
	"  --schema S.yaml   schema of the rows (default: the built-in cmcc-default)\n"
	"  --count N         number of subscribers, at most 100000000 (required)\n"
	"  --seed K          random seed, 0 to 2^64-1 (default 1)\n"
	"  --as-of YYYY-MM   month 0 of every series (default 2026-10)\n"
	"  -o, --output F    output file, '-' for standard output (required)\n"
	"  -h, --help        show this help\n";

int cmd_gen(int argc, char **argv)
{
	const char *schema_path = NULL, *count_text = NULL, *seed_text = NULL;
	const char *as_of_text = NULL, *output = NULL;
	const cli_opt opts[] = {
		{"schema", 0, CLI_VALUE, &schema_path},
		{"count", 0, CLI_VALUE, &count_text},
		{"seed", 0, CLI_VALUE, &seed_text},
		{"as-of", 0, CLI_VALUE, &as_of_text},
		{"output", 'o', CLI_VALUE, &output},
		{NULL, 0, 0, NULL},
	};
	const cli_spec spec = {"gen", gen_usage, gen_help, opts, 0, 0};
	cli_list operands;
	uint64_t count = 0, seed = 1;
	int as_of = DEFAULT_AS_OF, rc;
	cp_schema *schema = NULL;
	gen *g = NULL;

	if ((rc = cli_parse(&spec, argc, argv, &operands)) != CLI_GO)
		return rc;
	cli_list_free(&operands);
	if ((rc = cli_require(&spec, "--count", count_text)) != CLI_GO ||
	    (rc = cli_require(&spec, "-o", output)) != CLI_GO ||
	    (rc = cli_parse_uint("--count", count_text, MAX_COUNT, &count)) != CLI_GO ||
	    (seed_text && (rc = cli_parse_uint("--seed", seed_text, UINT64_MAX, &seed)) != CLI_GO) ||
	    (as_of_text && (rc = cli_parse_month("--as-of", as_of_text, &as_of)) != CLI_GO) ||
	    (rc = cli_load_schema(schema_path, &schema)) != CLI_GO)
		return rc;

	g = calloc(1, sizeof(*g));
	if (!g) {
		cli_error("out of memory");
		cp_schema_free(schema);
		return EXIT_ERROR;
	}
	rc = gen_init(g, schema, seed, as_of);
	if (rc == CLI_GO) {
		int to_stdout = strcmp(output, "-") == 0;
		g->out.fp = to_stdout ? stdout : fopen(output, "wb");
		if (!g->out.fp) {
			cli_error("gen: cannot create %s: %s", output, strerror(errno));
			rc = EXIT_ERROR;
		} else {
			rc = write_all(g, count);
			if (fflush(g->out.fp) != 0 && !g->out.failed)
				g->out.failed = errno;
			if (!to_stdout && fclose(g->out.fp) != 0 && !g->out.failed)
				g->out.failed = errno;
			if (g->out.failed) {
				cli_error("gen: cannot write %s: %s", output, strerror(g->out.failed));
				if (!to_stdout)
					remove(output);
				rc = EXIT_ERROR;
			}
		}
	}
	gen_fini(g);
	free(g);
	cp_schema_free(schema);
	return rc;
}
