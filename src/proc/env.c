#include "proc/env.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/fileio.h"
#include "util/xalloc.h"

#define ENV_FILE_MAX (1 << 20)

static const char *const managed_keys[] = {
	"LISTEN_FDS",	 "LISTEN_PID",	 "LISTEN_FDNAMES", "LISTEN_PIDFDID",
	"NOTIFY_SOCKET", "WATCHDOG_PID", "WATCHDOG_USEC",
};

bool env_name_valid(const char *name, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			return false;
	}
	return true;
}

bool env_is_managed(const char *key, size_t keylen)
{
	for (size_t i = 0; i < sizeof(managed_keys) / sizeof(managed_keys[0]); i++)
		if (strlen(managed_keys[i]) == keylen && memcmp(managed_keys[i], key, keylen) == 0)
			return true;
	return false;
}

/* Does entry "K=V" have key (of keylen bytes)? */
static bool entry_is(const char *entry, const char *key, size_t keylen)
{
	return strncmp(entry, key, keylen) == 0 && entry[keylen] == '=';
}

const char *env_get(const struct strv *env, const char *key)
{
	size_t kl = strlen(key);
	for (size_t i = env->n; i-- > 0;)
		if (entry_is(env->v[i], key, kl))
			return env->v[i] + kl + 1;
	return NULL;
}

/* Put the owned entry for key in place of the first existing one, dropping the others. */
static void env_put_owned(struct strv *env, const char *key, size_t kl, char *entry)
{
	size_t j = 0;
	bool placed = false;
	for (size_t i = 0; i < env->n; i++) {
		if (entry_is(env->v[i], key, kl)) {
			free(env->v[i]);
			if (placed)
				continue;
			env->v[j++] = entry;
			placed = true;
		} else {
			env->v[j++] = env->v[i];
		}
	}
	if (placed) {
		env->n = j;
		env->v[j] = NULL;
		return;
	}
	strv_push_owned(env, entry);
}

void env_set(struct strv *env, const char *key, const char *value)
{
	env_put_owned(env, key, strlen(key), xasprintf("%s=%s", key, value));
}

int env_set_entry(struct strv *env, const char *entry)
{
	const char *eq = strchr(entry, '=');
	if (!eq || !env_name_valid(entry, (size_t)(eq - entry)))
		return -EINVAL;
	env_put_owned(env, entry, (size_t)(eq - entry), xstrdup(entry));
	return 0;
}

static int add_entries(struct strv *out, const struct strv *in, char **err)
{
	if (!in)
		return 0;
	for (size_t i = 0; i < in->n; i++) {
		if (env_set_entry(out, in->v[i]) < 0) {
			if (err)
				*err = xasprintf("invalid environment entry \"%s\"", in->v[i]);
			return -EINVAL;
		}
	}
	return 0;
}

int env_build(const struct env_input *in, struct strv *out, char **err)
{
	if (err)
		*err = NULL;
	for (const char *const *e = in->base; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		if (!eq || eq == *e || env_is_managed(*e, (size_t)(eq - *e)))
			continue;
		env_put_owned(out, *e, (size_t)(eq - *e), xstrdup(*e));
	}
	int r = add_entries(out, in->files, err);
	if (r < 0)
		return r;
	r = add_entries(out, in->config, err);
	if (r < 0)
		return r;
	if (in->generation >= 0) {
		char g[32];
		snprintf(g, sizeof(g), "%ld", in->generation);
		env_set(out, "BATON_GENERATION", g);
	}
	if (in->port)
		env_set(out, "PORT", in->port);
	return 0;
}

/* ---- env files ---- */

struct scan {
	const char *name;
	const char *p, *end;
	unsigned line;
	char **err;
};

static int scan_error(struct scan *s, unsigned line, const char *msg)
{
	if (s->err)
		*s->err = xasprintf("%s:%u: %s", s->name, line, msg);
	return -EINVAL;
}

static bool at_eol(const struct scan *s)
{
	return s->p >= s->end || *s->p == '\n' ||
	       (*s->p == '\r' && s->p + 1 < s->end && s->p[1] == '\n');
}

static void skip_blanks(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t'))
		s->p++;
}

/* Move past the end of the current line (and its newline). */
static void skip_line(struct scan *s)
{
	while (s->p < s->end && *s->p != '\n')
		s->p++;
	if (s->p < s->end) {
		s->p++;
		s->line++;
	}
}

static int scan_single(struct scan *s, struct buf *v)
{
	unsigned start = s->line;
	s->p++;
	for (; s->p < s->end; s->p++) {
		char c = *s->p;
		if (c == '\'') {
			s->p++;
			return 0;
		}
		if (c == '\r' && s->p + 1 < s->end && s->p[1] == '\n')
			continue;
		if (c == '\n')
			s->line++;
		buf_putc(v, c);
	}
	return scan_error(s, start, "unterminated single-quoted value");
}

static int scan_double(struct scan *s, struct buf *v)
{
	unsigned start = s->line;
	s->p++;
	for (; s->p < s->end; s->p++) {
		char c = *s->p;
		if (c == '"') {
			s->p++;
			return 0;
		}
		if (c == '\r' && s->p + 1 < s->end && s->p[1] == '\n')
			continue;
		if (c == '\n')
			s->line++;
		if (c == '\\' && s->p + 1 < s->end) {
			char n = *++s->p;
			switch (n) {
			case 'n':
				buf_putc(v, '\n');
				break;
			case 't':
				buf_putc(v, '\t');
				break;
			case 'r':
				buf_putc(v, '\r');
				break;
			case '\\':
			case '"':
			case '$':
			case '`':
				buf_putc(v, n);
				break;
			case '\n':
				s->line++; /* line continuation */
				break;
			default:
				buf_putc(v, '\\');
				buf_putc(v, n);
			}
			continue;
		}
		buf_putc(v, c);
	}
	return scan_error(s, start, "unterminated double-quoted value");
}

static void scan_unquoted(struct scan *s, struct buf *v)
{
	const char *start = s->p;
	while (!at_eol(s)) {
		/* " #" starts a comment */
		if (*s->p == '#' && s->p > start && (s->p[-1] == ' ' || s->p[-1] == '\t'))
			break;
		s->p++;
	}
	const char *e = s->p;
	while (e > start && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		e--;
	buf_append(v, start, (size_t)(e - start));
	skip_line(s);
}

/* One "KEY=VALUE" assignment starting at s->p (blanks already skipped). */
static int scan_assignment(struct scan *s, struct strv *out)
{
	unsigned line = s->line;
	if (s->end - s->p > 6 && memcmp(s->p, "export", 6) == 0 &&
	    (s->p[6] == ' ' || s->p[6] == '\t')) {
		s->p += 6;
		skip_blanks(s);
	}
	const char *k = s->p;
	while (s->p < s->end && *s->p != '=' && *s->p != ' ' && *s->p != '\t' && !at_eol(s))
		s->p++;
	size_t klen = (size_t)(s->p - k);
	skip_blanks(s);
	if (klen == 0 || s->p >= s->end || *s->p != '=')
		return scan_error(s, line, "expected KEY=VALUE");
	if (!env_name_valid(k, klen)) {
		char msg[160];
		snprintf(msg, sizeof(msg), "invalid variable name \"%.*s\"",
			 (int)(klen > 64 ? 64 : klen), k);
		return scan_error(s, line, msg);
	}
	s->p++; /* '=' */
	skip_blanks(s);

	struct buf v = BUF_INIT;
	int r = 0;
	if (s->p < s->end && (*s->p == '\'' || *s->p == '"')) {
		r = *s->p == '\'' ? scan_single(s, &v) : scan_double(s, &v);
		if (r < 0)
			goto out;
		skip_blanks(s);
		if (!at_eol(s) && *s->p != '#') {
			r = scan_error(s, s->line, "unexpected text after the closing quote");
			goto out;
		}
		skip_line(s);
	} else {
		scan_unquoted(s, &v);
	}
	char *key = xstrndup(k, klen);
	env_set(out, key, buf_cstr(&v));
	free(key);
out:
	buf_release(&v);
	return r;
}

int env_file_parse(const char *name, const char *data, size_t len, struct strv *out, char **err)
{
	struct scan s = {.name = name, .p = data, .end = data + len, .line = 1, .err = err};
	if (err)
		*err = NULL;
	const char *nul = memchr(data, '\0', len);
	if (nul) {
		unsigned line = 1;
		for (const char *q = data; q < nul; q++)
			line += *q == '\n';
		return scan_error(&s, line, "NUL byte in file");
	}
	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
		s.p += 3;
	while (s.p < s.end) {
		skip_blanks(&s);
		if (at_eol(&s) || *s.p == '#') {
			skip_line(&s);
			continue;
		}
		int r = scan_assignment(&s, out);
		if (r < 0)
			return r;
	}
	return 0;
}

int env_file_load(const char *path, struct strv *out, char **err)
{
	char *data;
	size_t len;
	if (err)
		*err = NULL;
	int r = file_read_all(path, ENV_FILE_MAX, &data, &len);
	if (r < 0) {
		if (err)
			*err = xasprintf("cannot read \"%s\": %s", path, strerror(-r));
		return r;
	}
	r = env_file_parse(path, data, len, out, err);
	free(data);
	return r;
}
