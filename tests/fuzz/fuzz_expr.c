/*
 * fuzz_expr.c — the rule language (DESIGN §5.1, §5.2): bare expressions.
 *
 * Input: one expression.  The public API compiles packs only, so the
 * expression is placed in a YAML literal block (every line indented, so
 * any text stays inside it) of two packs compiled against the default
 * schema: as a metric (any type), and as the 'when' of a tag and of a
 * lifecycle stage (true/false).  What compiles is evaluated as in
 * fuzz_rules.c.
 */
#define FZ_RULES_NO_MAIN 1
#include "fuzz_rules.c"

/* Append text to b[*len..cap), each line indented by indent spaces. */
static void put_block(char *b, size_t *len, const char *text, size_t n, int indent)
{
	int at_start = 1;
	for (size_t i = 0; i < n; i++) {
		if (at_start) {
			memset(b + *len, ' ', (size_t)indent);
			*len += (size_t)indent;
		}
		char c = text[i];
		/* a lone CR would end the line for YAML: keep it inside */
		b[(*len)++] = c == '\r' ? ' ' : c;
		at_start = c == '\n';
	}
	b[(*len)++] = '\n';
}

static void put(char *b, size_t *len, const char *s)
{
	size_t n = strlen(s);
	memcpy(b + *len, s, n);
	*len += n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *expr = (const char *)data;
	/* every input byte may become itself plus an indentation of 10 */
	size_t cap = 1024 + 3 * (size * 11 + 16);
	char *b = malloc(cap);
	FZ_CHECK(b != NULL);
	size_t len = 0;

	put(b, &len, "custprof: 1\npack: fm\nparams:\n  n: 10\n  s: 'gotone'\n"
	             "metrics:\n  - id: fm_value\n    expr: |2-\n");
	put_block(b, &len, expr, size, 6);
	compile_pack(b, len);

	len = 0;
	put(b, &len, "custprof: 1\npack: ft\nparams:\n  n: 10\n  s: 'gotone'\n"
	             "tags:\n  - id: ft.t\n    when: |2-\n");
	put_block(b, &len, expr, size, 6);
	put(b, &len, "  - id: ft.u\n    when: not tag('ft.t')\n"
	             "groups:\n  - id: ft.g\n    mode: first-match\n    members: [ft.t, ft.u]\n"
	             "lifecycle:\n  - track: ft\n    stages:\n      - stage: churned\n"
	             "        when: |2-\n");
	put_block(b, &len, expr, size, 10);
	put(b, &len, "    otherwise: maturity\n");
	FZ_CHECK(len < cap);
	compile_pack(b, len);
	free(b);
	return 0;
}
