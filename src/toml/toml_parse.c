/* The TOML grammar and its redefinition rules.
 *
 * A document is a sequence of lines: key = value, [table], [[array.of.tables]], comments.
 * Which tables may be extended, and how, depends on how each table came to be (see the
 * TOML_TF_* flags): a [header] defines a table once; the parents a header names are implicit
 * until their own header defines them; dotted keys create tables that only further dotted keys
 * (and headers of new sub-tables) may extend; inline tables are sealed when they close; an
 * array made by [[x]] grows by [[x]] only, a static array (x = [...]) never does. */
#include "toml/toml_internal.h"

#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

struct key_part {
	char *s;
	size_t len;
	struct toml_pos pos;
};

struct key_path {
	struct key_part *v;
	size_t n;
	size_t cap;
};

struct parser {
	struct toml_lex lx;
	struct toml_table *root;
	struct toml_table *cur; /* the table the current [header] opened */
	int cur_depth;		/* its depth (root 0, each table or array below it one more) */
	struct buf scratch;
};

static int parse_value(struct parser *p, struct toml_value *v, int depth);

static int too_deep(struct parser *p, struct toml_pos pos)
{
	return toml_lex_fail(&p->lx, pos, "nesting too deep (more than %d levels)", TOML_MAX_DEPTH);
}

static void key_path_free(struct key_path *kp)
{
	for (size_t i = 0; i < kp->n; i++)
		free(kp->v[i].s);
	free(kp->v);
}

/* A copy of a key part's string for the tree (the path stays whole for messages). */
static char *key_copy(const struct key_part *k)
{
	char *s = xmalloc(k->len + 1);
	memcpy(s, k->s, k->len + 1);
	return s;
}

/* The key as written up to part `last`, for messages: a.b."c d" (cut short if long). */
static const char *path_str(const struct key_path *kp, size_t last, char *out, size_t size)
{
	struct buf b = BUF_INIT;
	for (size_t i = 0; i <= last && i < kp->n; i++) {
		const struct key_part *k = &kp->v[i];
		bool bare = k->len > 0;
		for (size_t j = 0; j < k->len; j++)
			bare = bare && toml_is_bare_key_char((unsigned char)k->s[j]);
		if (i)
			buf_putc(&b, '.');
		if (bare) {
			buf_append(&b, k->s, k->len);
		} else {
			char q[72];
			toml_quote(q, sizeof(q), k->s, k->len);
			q[0] = q[strlen(q) - 1] = '"';
			buf_puts(&b, q);
		}
	}
	size_t n = b.len;
	if (n >= size) {
		n = size - 4;
		while (n > 0 && (b.p[n] & 0xc0) == 0x80) /* not inside a UTF-8 sequence */
			n--;
		memcpy(out + n, "...", 4);
	} else {
		out[n] = '\0';
	}
	memcpy(out, buf_cstr(&b), n);
	buf_release(&b);
	return out;
}

static int dup_key(struct parser *p, const struct key_path *kp, size_t i, const struct toml_kv *old)
{
	char path[128];
	return toml_lex_fail(&p->lx, kp->v[i].pos, "duplicate key '%s' (first defined at %u:%u)",
			     path_str(kp, i, path, sizeof(path)), old->key_pos.line,
			     old->key_pos.col);
}

/* key = simple-key *( ws "." ws simple-key ); leaves the cursor after trailing whitespace. */
static int parse_key(struct parser *p, struct key_path *kp)
{
	struct toml_lex *lx = &p->lx;
	for (;;) {
		struct toml_pos pos = toml_lex_pos(lx);
		if (toml_lex_key_part(lx, &p->scratch) < 0)
			return -1;
		if (kp->n >= TOML_MAX_DEPTH)
			return too_deep(p, pos);
		kp->v = xgrow(kp->v, &kp->cap, kp->n + 1, sizeof(*kp->v));
		struct key_part *k = &kp->v[kp->n++];
		k->len = p->scratch.len;
		k->s = xmalloc(k->len + 1);
		memcpy(k->s, buf_cstr(&p->scratch), k->len + 1);
		k->pos = pos;
		toml_lex_skip_ws(lx);
		if (toml_lex_peek(lx) != '.')
			return 0;
		lx->off++;
		toml_lex_skip_ws(lx);
	}
}

static struct toml_table *add_table(struct toml_table *t, struct key_part *k, struct toml_pos pos,
				    unsigned flags)
{
	struct toml_kv *kv = toml_table_add(t, key_copy(k), k->len, k->pos);
	kv->val.type = TOML_TABLE;
	kv->val.pos = pos;
	kv->val.u.tab = toml_table_new(flags);
	return kv->val.u.tab;
}

/* One step of a dotted key (a part before the last) inside a key/value line. */
static struct toml_table *descend_dotted(struct parser *p, struct toml_table *t,
					 struct key_path *kp, size_t i)
{
	struct key_part *k = &kp->v[i];
	struct toml_kv *kv = toml_table_find(t, k->s, k->len);
	char path[128];

	if (!kv)
		return add_table(t, k, k->pos, TOML_TF_DOTTED);
	if (kv->val.type != TOML_TABLE) {
		dup_key(p, kp, i, kv);
		return NULL;
	}
	struct toml_table *sub = kv->val.u.tab;
	if (sub->flags & TOML_TF_INLINE) {
		toml_lex_fail(&p->lx, k->pos, "cannot extend inline table '%s' (defined at %u:%u)",
			      path_str(kp, i, path, sizeof(path)), kv->val.pos.line,
			      kv->val.pos.col);
		return NULL;
	}
	if (sub->flags & TOML_TF_DEFINED) {
		toml_lex_fail(&p->lx, k->pos,
			      "cannot add to table '%s' with dotted keys: it is defined by the "
			      "header at %u:%u",
			      path_str(kp, i, path, sizeof(path)), kv->val.pos.line,
			      kv->val.pos.col);
		return NULL;
	}
	sub->flags |= TOML_TF_DOTTED;
	return sub;
}

/* key = value, into table t (of depth `depth`): a line of the document or an inline table. */
static int parse_keyval(struct parser *p, struct toml_table *t, int depth)
{
	struct toml_lex *lx = &p->lx;
	struct key_path kp = {0};
	struct toml_value v;
	int rc = -1;

	if (parse_key(p, &kp) < 0)
		goto out;
	if (toml_lex_peek(lx) != '=') {
		toml_lex_fail(lx, toml_lex_pos(lx), "expected '=' after key");
		goto out;
	}
	lx->off++;
	toml_lex_skip_ws(lx);
	if (depth + (int)kp.n > TOML_MAX_DEPTH) {
		too_deep(p, kp.v[0].pos);
		goto out;
	}
	for (size_t i = 0; i + 1 < kp.n; i++) {
		t = descend_dotted(p, t, &kp, i);
		if (!t)
			goto out;
	}
	struct key_part *last = &kp.v[kp.n - 1];
	const struct toml_kv *old = toml_table_find(t, last->s, last->len);
	if (old) {
		dup_key(p, &kp, kp.n - 1, old);
		goto out;
	}
	if (parse_value(p, &v, depth + (int)kp.n) < 0)
		goto out;
	toml_table_add(t, key_copy(last), last->len, last->pos)->val = v;
	rc = 0;
out:
	key_path_free(&kp);
	return rc;
}

static int parse_array(struct parser *p, struct toml_value *v, int depth)
{
	struct toml_lex *lx = &p->lx;
	char what[64];

	v->type = TOML_ARRAY;
	lx->off++; /* '[' */
	for (;;) {
		struct toml_value item;
		if (toml_lex_skip_blank(lx) < 0)
			goto fail;
		if (toml_lex_peek(lx) == ']')
			break;
		if (parse_value(p, &item, depth + 1) < 0)
			goto fail;
		toml_array_push(&v->u.arr, &item);
		if (toml_lex_skip_blank(lx) < 0)
			goto fail;
		if (toml_lex_peek(lx) == ',') {
			lx->off++;
			continue;
		}
		if (toml_lex_peek(lx) == ']')
			break;
		toml_lex_fail(lx, toml_lex_pos(lx), "expected ',' or ']' in array, found %s",
			      toml_lex_what(lx, what, sizeof(what)));
		goto fail;
	}
	lx->off++; /* ']' */
	return 0;
fail:
	toml_value_release(v);
	return -1;
}

static int parse_inline_table(struct parser *p, struct toml_value *v, int depth)
{
	struct toml_lex *lx = &p->lx;
	char what[64];

	v->type = TOML_TABLE;
	v->u.tab = toml_table_new(0);
	lx->off++; /* '{' */
	toml_lex_skip_ws(lx);
	if (toml_lex_peek(lx) == '}')
		goto done;
	for (;;) {
		if (parse_keyval(p, v->u.tab, depth) < 0)
			goto fail;
		toml_lex_skip_ws(lx);
		int c = toml_lex_peek(lx);
		if (c == '}')
			break;
		if (c == ',') {
			lx->off++;
			toml_lex_skip_ws(lx);
			if (toml_lex_peek(lx) != '}')
				continue;
			toml_lex_fail(lx, toml_lex_pos(lx),
				      "trailing comma not allowed in inline table");
			goto fail;
		}
		if (c == '\n' || c == '\r')
			toml_lex_fail(lx, toml_lex_pos(lx),
				      "newline not allowed in inline table (expected ',' or '}')");
		else
			toml_lex_fail(lx, toml_lex_pos(lx),
				      "expected ',' or '}' in inline table, found %s",
				      toml_lex_what(lx, what, sizeof(what)));
		goto fail;
	}
done:
	lx->off++; /* '}' */
	v->u.tab->flags |= TOML_TF_INLINE;
	return 0;
fail:
	toml_value_release(v);
	return -1;
}

/* A value at `depth` (its container's depth + 1). On failure v owns nothing. */
static int parse_value(struct parser *p, struct toml_value *v, int depth)
{
	struct toml_lex *lx = &p->lx;
	int c = toml_lex_peek(lx);

	memset(v, 0, sizeof(*v));
	v->pos = toml_lex_pos(lx);
	if (depth > TOML_MAX_DEPTH)
		return too_deep(p, v->pos);
	if (c == '"' || c == '\'') {
		if (toml_lex_string(lx, &p->scratch, true) < 0)
			return -1;
		v->type = TOML_STRING;
		v->u.str.len = p->scratch.len;
		v->u.str.ptr = buf_detach(&p->scratch);
		return 0;
	}
	if (c == '[')
		return parse_array(p, v, depth);
	if (c == '{')
		return parse_inline_table(p, v, depth);
	return toml_scan_scalar(lx, v);
}

/* Walk a header's parent parts from the root: tables (not inline ones) are entered, created
 * implicitly when missing; an array of tables is entered at its last element. */
static struct toml_table *header_parent(struct parser *p, struct key_path *kp, struct toml_pos pos,
					int *depth)
{
	struct toml_table *t = p->root;
	char path[128];

	*depth = 0;
	for (size_t i = 0; i + 1 < kp->n; i++) {
		struct key_part *k = &kp->v[i];
		struct toml_kv *kv = toml_table_find(t, k->s, k->len);
		if (!kv) {
			t = add_table(t, k, pos, TOML_TF_IMPLICIT);
			*depth += 1;
		} else if (kv->val.type == TOML_TABLE) {
			if (kv->val.u.tab->flags & TOML_TF_INLINE) {
				toml_lex_fail(&p->lx, k->pos,
					      "cannot extend inline table '%s' (defined at %u:%u)",
					      path_str(kp, i, path, sizeof(path)), kv->val.pos.line,
					      kv->val.pos.col);
				return NULL;
			}
			t = kv->val.u.tab;
			*depth += 1;
		} else if (kv->val.type == TOML_ARRAY && (kv->val.u.arr.flags & TOML_AF_TABLES)) {
			t = kv->val.u.arr.items[kv->val.u.arr.n - 1].u.tab;
			*depth += 2;
		} else {
			dup_key(p, kp, i, kv);
			return NULL;
		}
	}
	return t;
}

/* [a.b.c]: define a table, or define one that was only implied so far. */
static struct toml_table *header_table(struct parser *p, struct toml_table *t, struct key_path *kp,
				       struct toml_pos pos)
{
	struct key_part *k = &kp->v[kp->n - 1];
	struct toml_kv *kv = toml_table_find(t, k->s, k->len);
	char path[128];

	path_str(kp, kp->n - 1, path, sizeof(path));
	if (!kv)
		return add_table(t, k, pos, TOML_TF_DEFINED);
	if (kv->val.type == TOML_ARRAY && (kv->val.u.arr.flags & TOML_AF_TABLES)) {
		toml_lex_fail(&p->lx, k->pos,
			      "table '%s' is already an array of tables (defined at %u:%u)", path,
			      kv->val.pos.line, kv->val.pos.col);
		return NULL;
	}
	if (kv->val.type != TOML_TABLE) {
		dup_key(p, kp, kp->n - 1, kv);
		return NULL;
	}
	struct toml_table *tab = kv->val.u.tab;
	if (tab->flags & (TOML_TF_DEFINED | TOML_TF_DOTTED | TOML_TF_INLINE)) {
		toml_lex_fail(&p->lx, k->pos, "duplicate table '%s' (first defined at %u:%u)", path,
			      kv->val.pos.line, kv->val.pos.col);
		return NULL;
	}
	tab->flags = (tab->flags & ~TOML_TF_IMPLICIT) | TOML_TF_DEFINED;
	kv->val.pos = pos;
	return tab;
}

/* [[a.b.c]]: append a table to an array of tables, creating the array the first time. */
static struct toml_table *header_array(struct parser *p, struct toml_table *t, struct key_path *kp,
				       struct toml_pos pos)
{
	struct key_part *k = &kp->v[kp->n - 1];
	struct toml_kv *kv = toml_table_find(t, k->s, k->len);
	char path[128];

	path_str(kp, kp->n - 1, path, sizeof(path));
	if (!kv) {
		kv = toml_table_add(t, key_copy(k), k->len, k->pos);
		kv->val.type = TOML_ARRAY;
		kv->val.pos = pos;
		kv->val.u.arr.flags = TOML_AF_TABLES;
	} else if (kv->val.type == TOML_ARRAY && !(kv->val.u.arr.flags & TOML_AF_TABLES)) {
		toml_lex_fail(&p->lx, k->pos,
			      "cannot append to static array '%s' (defined at %u:%u)", path,
			      kv->val.pos.line, kv->val.pos.col);
		return NULL;
	} else if (kv->val.type == TOML_TABLE) {
		toml_lex_fail(&p->lx, k->pos,
			      "'%s' is already a table (defined at %u:%u), not an array of tables",
			      path, kv->val.pos.line, kv->val.pos.col);
		return NULL;
	} else if (kv->val.type != TOML_ARRAY) {
		dup_key(p, kp, kp->n - 1, kv);
		return NULL;
	}
	struct toml_value tv = {.type = TOML_TABLE, .pos = pos};
	tv.u.tab = toml_table_new(TOML_TF_DEFINED);
	toml_array_push(&kv->val.u.arr, &tv);
	return tv.u.tab;
}

static int parse_header(struct parser *p)
{
	struct toml_lex *lx = &p->lx;
	struct toml_pos pos = toml_lex_pos(lx);
	bool aot = toml_lex_peek_at(lx, 1) == '[';
	struct key_path kp = {0};
	struct toml_table *t;
	int depth, rc = -1;

	lx->off += aot ? 2 : 1;
	toml_lex_skip_ws(lx);
	if (parse_key(p, &kp) < 0)
		goto out;
	if (toml_lex_peek(lx) != ']' || (aot && toml_lex_peek_at(lx, 1) != ']')) {
		toml_lex_fail(lx, toml_lex_pos(lx), "expected '%s' at the end of the %s header",
			      aot ? "]]" : "]", aot ? "array of tables" : "table");
		goto out;
	}
	lx->off += aot ? 2 : 1;
	t = header_parent(p, &kp, pos, &depth);
	if (!t)
		goto out;
	depth += aot ? 2 : 1;
	if (depth > TOML_MAX_DEPTH) {
		too_deep(p, pos);
		goto out;
	}
	t = aot ? header_array(p, t, &kp, pos) : header_table(p, t, &kp, pos);
	if (!t)
		goto out;
	p->cur = t;
	p->cur_depth = depth;
	rc = 0;
out:
	key_path_free(&kp);
	return rc;
}

/* After an expression: optional whitespace and comment, then a newline or the end. */
static int end_of_line(struct parser *p, const char *after)
{
	struct toml_lex *lx = &p->lx;
	char what[64];

	toml_lex_skip_ws(lx);
	if (toml_lex_peek(lx) == '#' && toml_lex_comment(lx) < 0)
		return -1;
	if (toml_lex_peek(lx) < 0 || toml_lex_newline(lx))
		return 0;
	return toml_lex_fail(lx, toml_lex_pos(lx), "expected end of line after %s, found %s", after,
			     toml_lex_what(lx, what, sizeof(what)));
}

static int parse_document(struct parser *p)
{
	struct toml_lex *lx = &p->lx;
	for (;;) {
		toml_lex_skip_ws(lx);
		int c = toml_lex_peek(lx);
		const char *after = "comment";
		if (c < 0)
			return 0;
		if (c == '[') {
			if (parse_header(p) < 0)
				return -1;
			after = "table header";
		} else if (c != '#' && c != '\n' && c != '\r') {
			if (parse_keyval(p, p->cur, p->cur_depth) < 0)
				return -1;
			after = "value";
		}
		if (end_of_line(p, after) < 0)
			return -1;
	}
}

struct toml_value *toml_parse(const char *data, size_t len, struct toml_error *err)
{
	struct toml_error spare;
	struct parser p = {.scratch = BUF_INIT};
	struct toml_value *root = xcalloc(1, sizeof(*root));

	if (!err)
		err = &spare;
	if (!data)
		len = 0;
	toml_lex_init(&p.lx, data ? data : "", len, err);
	root->type = TOML_TABLE;
	root->pos.line = root->pos.col = 1;
	root->u.tab = toml_table_new(TOML_TF_DEFINED);
	p.root = p.cur = root->u.tab;
	if (toml_lex_check_encoding(&p.lx) < 0 || parse_document(&p) < 0) {
		toml_free(root);
		root = NULL;
	}
	buf_release(&p.scratch);
	return root;
}
