/* The TOML tree: tables (keys in document order, with a hash index once they grow), arrays,
 * freeing, and the public lookups. */
#include "toml/toml_internal.h"

#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

/* Tables with fewer keys are searched linearly. */
#define INDEX_MIN 16

struct toml_table *toml_table_new(unsigned flags)
{
	struct toml_table *t = xcalloc(1, sizeof(*t));
	t->flags = flags;
	return t;
}

static uint64_t hash_key(const char *key, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static void index_insert(struct toml_table *t, size_t item)
{
	const struct toml_kv *kv = &t->items[item];
	size_t mask = t->nslots - 1;
	size_t i = (size_t)hash_key(kv->key, kv->keylen) & mask;
	while (t->slots[i])
		i = (i + 1) & mask;
	t->slots[i] = item + 1;
}

/* Keep the index at most half full. */
static void index_grow(struct toml_table *t)
{
	if (t->n < INDEX_MIN || t->n * 2 <= t->nslots)
		return;
	size_t ns = t->nslots ? t->nslots : 2 * INDEX_MIN;
	while (t->n * 2 > ns)
		ns *= 2;
	free(t->slots);
	t->slots = xcalloc(ns, sizeof(*t->slots));
	t->nslots = ns;
	for (size_t k = 0; k < t->n; k++)
		index_insert(t, k);
}

struct toml_kv *toml_table_find(struct toml_table *t, const char *key, size_t keylen)
{
	if (!t->nslots) {
		for (size_t k = 0; k < t->n; k++) {
			struct toml_kv *kv = &t->items[k];
			if (kv->keylen == keylen && memcmp(kv->key, key, keylen) == 0)
				return kv;
		}
		return NULL;
	}
	size_t mask = t->nslots - 1;
	for (size_t i = (size_t)hash_key(key, keylen) & mask; t->slots[i]; i = (i + 1) & mask) {
		struct toml_kv *kv = &t->items[t->slots[i] - 1];
		if (kv->keylen == keylen && memcmp(kv->key, key, keylen) == 0)
			return kv;
	}
	return NULL;
}

struct toml_kv *toml_table_add(struct toml_table *t, char *key, size_t keylen,
			       struct toml_pos key_pos)
{
	t->items = xgrow(t->items, &t->cap, t->n + 1, sizeof(*t->items));
	struct toml_kv *kv = &t->items[t->n++];
	memset(kv, 0, sizeof(*kv));
	kv->key = key;
	kv->keylen = keylen;
	kv->key_pos = key_pos;
	if (t->nslots && t->n * 2 <= t->nslots)
		index_insert(t, t->n - 1);
	else
		index_grow(t);
	return kv;
}

void toml_array_push(struct toml_array *a, const struct toml_value *v)
{
	a->items = xgrow(a->items, &a->cap, a->n + 1, sizeof(*a->items));
	a->items[a->n++] = *v;
}

/* Freeing recurses once per level; the parser bounds the depth (TOML_MAX_DEPTH). */
static void table_free(struct toml_table *t)
{
	for (size_t k = 0; k < t->n; k++) {
		free(t->items[k].key);
		toml_value_release(&t->items[k].val);
	}
	free(t->items);
	free(t->slots);
	free(t);
}

void toml_value_release(struct toml_value *v)
{
	switch (v->type) {
	case TOML_STRING:
		free(v->u.str.ptr);
		break;
	case TOML_ARRAY:
		for (size_t k = 0; k < v->u.arr.n; k++)
			toml_value_release(&v->u.arr.items[k]);
		free(v->u.arr.items);
		break;
	case TOML_TABLE:
		if (v->u.tab)
			table_free(v->u.tab);
		break;
	default:
		break;
	}
	memset(&v->u, 0, sizeof(v->u));
	v->type = TOML_TABLE; /* with no table: clearing again is harmless */
}

void toml_free(struct toml_value *root)
{
	if (!root)
		return;
	toml_value_release(root);
	free(root);
}

const struct toml_kv *toml_table_get(const struct toml_value *table, const char *key)
{
	if (!table || table->type != TOML_TABLE || !table->u.tab || !key)
		return NULL;
	return toml_table_find(table->u.tab, key, strlen(key));
}
