/* Reading a certificate, key or CA file and splitting it into PEM blocks, strictly: every
 * BEGIN line needs its END line with the same label, every block must decode, and nothing but
 * whitespace may follow the last block (a half-written or concatenated-by-mistake file). Text
 * before a block is allowed, as OpenSSL allows it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tls/certcheck_int.h"
#include "util/regfile.h"
#include "util/xalloc.h"

static const char begin_tag[] = "-----BEGIN ";
static const char end_tag[] = "-----END ";
static const char dashes[] = "-----";

/* A line [s, e) without its trailing whitespace (and \r). */
static size_t trimmed_len(const char *s, const char *e)
{
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		e--;
	return (size_t)(e - s);
}

static bool is_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n' && s[i] != '\f' &&
		    s[i] != '\v')
			return false;
	return true;
}

/* The label of a "-----BEGIN X-----" (or END) line, or NULL when the line is not one. */
static char *tag_label(const char *s, size_t n, const char *tag)
{
	size_t tl = strlen(tag), dl = strlen(dashes);
	if (n < tl + dl + 1 || memcmp(s, tag, tl) != 0 || memcmp(s + n - dl, dashes, dl) != 0)
		return NULL;
	return xstrndup(s + tl, n - tl - dl);
}

static void add_block(struct cc_file *f, struct cc_block *b)
{
	f->blocks = xrealloc(f->blocks, (size_t)(f->n + 1) * sizeof(*f->blocks));
	f->blocks[f->n++] = *b;
}

/* Decode the block text [s, e) (BEGIN line to END line included). */
static bool decode_block(struct cc_ctx *c, struct cc_file *f, const char *s, const char *e,
			 const char *label, unsigned line)
{
	/* PEM_read_bio_ex wants the END line terminated: copy the text with a final newline. */
	size_t n = (size_t)(e - s);
	char *text = xmalloc(n + 2);
	memcpy(text, s, n);
	if (n == 0 || text[n - 1] != '\n')
		text[n++] = '\n';
	text[n] = '\0';
	BIO *bio = BIO_new_mem_buf(text, (int)n);
	struct cc_block b = {.line = line};
	int ok = bio && PEM_read_bio_ex(bio, &b.label, &b.header, &b.der, &b.len, 0) == 1;
	BIO_free(bio);
	if (f->secret)
		OPENSSL_cleanse(text, n);
	free(text);
	ERR_clear_error();
	if (!ok) {
		cc_problem(
			c, CERT_BAD_PEM,
			"\"%s\": the %s block on line %u is corrupt (its base64 does not decode)",
			f->name, label, line);
		return false;
	}
	add_block(f, &b);
	return true;
}

/* Split f->data into blocks; false (reported) on the first envelope problem. */
static bool split_blocks(struct cc_ctx *c, struct cc_file *f)
{
	const char *p = f->data, *end = f->data + f->len;
	const char *blk_start = NULL;
	char *label = NULL;
	unsigned line = 0, blk_line = 0, text_line = 0;
	bool ok = true;
	while (p < end && ok) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl + 1 : end;
		size_t n = trimmed_len(p, e);
		line++;
		if (!label) {
			label = tag_label(p, n, begin_tag);
			if (label) {
				blk_start = p;
				blk_line = line;
				text_line = 0;
			} else if (!is_blank(p, n) && !text_line) {
				text_line = line;
			}
		} else if (n >= strlen(end_tag) && memcmp(p, end_tag, strlen(end_tag)) == 0) {
			char *el = tag_label(p, n, end_tag);
			char *want = xasprintf("%s%s%s", end_tag, label, dashes);
			bool cut = !el && e == end && strncmp(p, want, n) == 0 && n < strlen(want);
			free(want);
			if (cut) {
				/* the file ends in the middle of the END line */
				cc_problem(c, CERT_TRUNCATED,
					   "\"%s\": truncated: the %s block on line %u has no END "
					   "line",
					   f->name, label, blk_line);
				ok = false;
			} else if (!el || strcmp(el, label) != 0) {
				cc_problem(c, CERT_BAD_PEM,
					   "\"%s\": line %u: \"%.*s\" does not close \"-----BEGIN "
					   "%s-----\" (line %u)",
					   f->name, line, (int)(n > 80 ? 80 : n), p, label,
					   blk_line);
				ok = false;
			} else {
				ok = decode_block(c, f, blk_start, e, label, blk_line);
			}
			free(el);
			free(label);
			label = NULL;
		} else if (n >= strlen(begin_tag) && memcmp(p, begin_tag, strlen(begin_tag)) == 0) {
			cc_problem(c, CERT_TRUNCATED,
				   "\"%s\": truncated: the %s block on line %u has no END line "
				   "(another block begins on line %u)",
				   f->name, label, blk_line, line);
			ok = false;
		}
		p = e;
	}
	if (!ok) {
		free(label);
		return false;
	}
	if (label) {
		cc_problem(c, CERT_TRUNCATED,
			   "\"%s\": truncated: the %s block on line %u has no END line", f->name,
			   label, blk_line);
		free(label);
		return false;
	}
	if (f->n == 0) {
		if ((unsigned char)f->data[0] == 0x30)
			cc_problem(
				c, CERT_BAD_PEM,
				"\"%s\": not PEM (it looks like DER: convert it with `openssl x509 "
				"-inform der` or `openssl pkey -inform der`)",
				f->name);
		else
			cc_problem(c, CERT_BAD_PEM, "\"%s\": not PEM: no \"-----BEGIN\" line",
				   f->name);
		return false;
	}
	if (text_line) {
		cc_problem(c, CERT_BAD_PEM,
			   "\"%s\": unexpected text after the last PEM block (line %u)", f->name,
			   text_line);
		return false;
	}
	return true;
}

bool cc_file_load(struct cc_ctx *c, struct cc_file *f, const char *name, const char *root,
		  bool secret)
{
	memset(f, 0, sizeof(*f));
	f->name = name;
	f->secret = secret;
	char *path =
		root && *root && name[0] != '/' ? xasprintf("%s/%s", root, name) : xstrdup(name);
	/* regular files only, never blocking: a FIFO named as a certificate must not freeze
	 * `baton check` or the reload machinery */
	int r = regfile_read_all(path, CERTCHECK_MAX_FILE, &f->data, &f->len);
	free(path);
	if (r < 0) {
		f->data = NULL;
		if (r == -EFBIG)
			cc_problem(c, CERT_IO, "\"%s\": cannot read: larger than %u MiB", name,
				   CERTCHECK_MAX_FILE >> 20);
		else
			cc_problem(c, CERT_IO, "\"%s\": cannot read: %s", name,
				   regfile_strerror(r));
		if (c->res->kind == CERT_IO && !c->res->err)
			c->res->err = -r;
		return false;
	}
	if (is_blank(f->data, f->len)) {
		cc_problem(c, CERT_EMPTY, "\"%s\": empty file", name);
		return false;
	}
	return split_blocks(c, f);
}

void cc_file_release(struct cc_file *f)
{
	for (int i = 0; i < f->n; i++) {
		struct cc_block *b = &f->blocks[i];
		OPENSSL_free(b->label);
		OPENSSL_free(b->header);
		if (f->secret)
			OPENSSL_clear_free(b->der, (size_t)b->len);
		else
			OPENSSL_free(b->der);
	}
	free(f->blocks);
	if (f->data && f->secret)
		OPENSSL_cleanse(f->data, f->len);
	free(f->data);
	memset(f, 0, sizeof(*f));
}
