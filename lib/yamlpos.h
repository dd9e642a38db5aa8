/*
 * yamlpos.h — positions inside parsed YAML scalars.
 *
 * Rule expressions are written in YAML scalars (`when: ...`), and libyaml
 * hands over their value with escapes resolved, lines folded and the
 * indentation stripped.  To report an error at the exact file position of a
 * token inside an expression, a cp_yamlpos maps every byte offset of a
 * scalar's value back to the line and column of the source character it came
 * from, for every scalar style: plain, 'single', "double" (escapes, escaped
 * line breaks), literal | and folded > (indentation indicators, chomping).
 *
 * Positions are 1-based lines and columns; a column counts characters (code
 * points, a tab is one), as libyaml marks do.  libyaml 0.2.5's mark.index
 * counts characters too, not bytes, and does not count a leading UTF-8 BOM;
 * a cp_yamlsrc turns it into a byte offset.  The source must be the UTF-8
 * text that libyaml parsed (the same bytes, from the start of the stream).
 *
 * Usage (one cp_yamlsrc per source text, scalars in any order; it is
 * cheapest in document order):
 *
 *	cp_yamlsrc src;
 *	cp__yamlsrc_init(&src, text, len);
 *	... for a scalar event ev:
 *	cp_yamlpos *pos;
 *	if (cp__yamlpos_new(&pos, &src, &ev.start_mark, &ev.end_mark,
 *	                    ev.data.scalar.style, (const char *)ev.data.scalar.value,
 *	                    ev.data.scalar.length) == CP_OK) {
 *		cp__yamlpos_locate(pos, token_offset, &line, &col);
 *		cp__yamlpos_free(pos);
 *	}
 *
 * The same works with the document API (yaml_node_t has the same marks,
 * style and value).
 */
#ifndef CP_YAMLPOS_H
#define CP_YAMLPOS_H

#include <stdbool.h>
#include <stddef.h>

#include <yaml.h>

/* A source text and a cursor that converts mark indexes to byte offsets.
 * Fields are private; initialise with cp__yamlsrc_init.  Borrows text. */
typedef struct cp_yamlsrc {
	const char *text;
	size_t len;
	size_t start; /* byte offset of character index 0 (3 after a BOM) */
	size_t index; /* cursor: a character index ... */
	size_t byte;  /* ... and the byte offset where that character starts */
} cp_yamlsrc;

void cp__yamlsrc_init(cp_yamlsrc *src, const char *text, size_t len);

typedef struct cp_yamlpos cp_yamlpos;

/*
 * Build the map of one scalar.  start and end are the scalar event's (or
 * node's) marks; start may be at an anchor or tag before the scalar.  style
 * is the event's style; YAML_ANY_SCALAR_STYLE means "from the source".
 * value[0..value_len) is the parsed value.
 *
 * The value is scanned again from the source with libyaml's rules for the
 * style, and the map is exact only when that reproduces value byte for byte;
 * otherwise (a source that is not the one parsed, a libyaml behaviour not
 * modelled) every offset maps to the start of the scalar, and
 * cp__yamlpos_exact() says false.  Cost: O(bytes before the scalar since the
 * previous call's scalar + scalar length); memory 8 bytes per value byte.
 *
 * Returns CP_OK (*out owned by the caller: cp__yamlpos_free), CP_EINVAL (a
 * NULL argument, marks outside the source or end before start) or
 * CP_ENOMEM; *out is NULL on failure.
 */
int cp__yamlpos_new(cp_yamlpos **out, cp_yamlsrc *src, const yaml_mark_t *start,
                    const yaml_mark_t *end, yaml_scalar_style_t style,
                    const char *value, size_t value_len);

/*
 * Position (1-based line and column) of the source character that produced
 * byte `offset` of the value:
 * - a character copied as is: that character (every byte of a multi-byte
 *   character maps to it);
 * - an escape sequence ("\n", "\u4e2d", '' in single quotes): its first
 *   character (the backslash, the first quote);
 * - a line break folded into a space, or kept as "\n": that line break,
 *   i.e. the column just after the last character of its line;
 * - offset >= value length: just after the last character of the value (on
 *   the line break itself when the value ends with one), or where the
 *   content starts when the value is empty.
 * pos NULL gives line and column 0 (unknown).
 */
void cp__yamlpos_locate(const cp_yamlpos *pos, size_t offset, unsigned *line,
                        unsigned *col);

/* true when the map is exact (see cp__yamlpos_new). */
bool cp__yamlpos_exact(const cp_yamlpos *pos);

/* Free a map; NULL is accepted. */
void cp__yamlpos_free(cp_yamlpos *pos);

#endif /* CP_YAMLPOS_H */
