/* "did you mean": the closest known key by edit distance (optimal string alignment, so a swap
 * of two neighbours costs 1: "debuonce" -> "debounce"). */
#include "config/config_impl.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

#define MAXLEN 64

static size_t min3(size_t a, size_t b, size_t c)
{
	size_t m = a < b ? a : b;
	return m < c ? m : c;
}

static size_t distance(const char *a, const char *b)
{
	size_t n = strlen(a), m = strlen(b);
	if (n > MAXLEN || m > MAXLEN)
		return (size_t)-1;
	size_t d[MAXLEN + 1][MAXLEN + 1];
	for (size_t i = 0; i <= n; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= m; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= n; i++) {
		for (size_t j = 1; j <= m; j++) {
			size_t cost = tolower((unsigned char)a[i - 1]) !=
				      tolower((unsigned char)b[j - 1]);
			d[i][j] = min3(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < d[i][j])
				d[i][j] = d[i - 2][j - 2] + 1;
		}
	}
	return d[n][m];
}

const char *config_suggest(const char *word, const char *const *cands, size_t n)
{
	size_t len = strlen(word);
	/* a third of the word, at least 1, at most 3 edits */
	size_t limit = len / 3;
	if (limit < 1)
		limit = 1;
	if (limit > 3)
		limit = 3;
	const char *best = NULL;
	size_t bestd = (size_t)-1;
	for (size_t i = 0; i < n; i++) {
		size_t d = distance(word, cands[i]);
		if (d <= limit && d < bestd) {
			best = cands[i];
			bestd = d;
		}
	}
	return best;
}

/* Names valid in one table (NULL: the top level, where table names count as keys). */
static size_t candidates(const char *table, const char **out, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < config_nkeys && n < cap; i++) {
		const struct config_key *k = &config_keys[i];
		if ((!table && !k->table) || (table && k->table && strcmp(table, k->table) == 0))
			out[n++] = k->name;
	}
	if (!table)
		for (size_t i = 0; i < config_ntables && n < cap; i++)
			out[n++] = config_tables[i].name;
	return n;
}

const char *config_suggest_key(const char *table, const char *key, char **owned)
{
	const char *cands[128];
	size_t n = candidates(table, cands, 128);
	*owned = NULL;
	const char *s = config_suggest(key, cands, n);
	if (s) {
		const struct config_table *t = table ? NULL : config_table_find(s);
		if (t && t->scope == CS_ROOT)
			*owned = xasprintf("; did you mean [%s]?", s);
		else if (t)
			*owned = xasprintf("; did you mean [[%s]]?", s);
		else
			*owned = xasprintf("; did you mean '%s'?", s);
		return *owned;
	}
	/* a top-level key written after a [table] header belongs to that table */
	if (table && (config_table_find(key) || config_key_find(NULL, key))) {
		*owned = xasprintf("; '%s' belongs at the top level: move it above the first "
				   "[table] header",
				   key);
		return *owned;
	}
	/* the right key in the wrong table: "debounce" under [run] */
	for (size_t i = 0; i < config_nkeys; i++) {
		const struct config_key *k = &config_keys[i];
		if (!k->table || (table && strcmp(table, k->table) == 0))
			continue;
		if (strcmp(k->name, key) == 0) {
			*owned = xasprintf("; did you mean '%s' in [%s%s%s]?", key,
					   k->scope == CS_ROOT ? "" : "[", k->table,
					   k->scope == CS_ROOT ? "" : "]");
			return *owned;
		}
	}
	return "";
}
