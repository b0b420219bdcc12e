/* Path filters: globs with "**", .gitignore rules, extensions, editor temp names. Pure. */
#include "watch/filter.h"

#include <errno.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

struct gi_rule {
	char *pat;
	bool neg;      /* "!pat": re-include */
	bool dir_only; /* "pat/" */
	bool anchored; /* contains an inner or leading '/': relative to the file's directory */
};

struct gi_set {
	char *base; /* directory of the .gitignore, "" for the root */
	size_t baselen;
	int depth;
	struct gi_rule *rules;
	size_t n;
};

struct filter {
	struct strv include_ext, include_dir, include_file, exclude_dir, exclude;
	regex_t *regex;
	size_t nregex;
	bool dev_mode;
	struct gi_set *gi;
	size_t ngi, capgi;
};

/* ---- globs ---- */

/* Match a "[...]" class at p against c; *endp is set past the ']'. A class without its ']' is
 * a literal '['. */
static bool class_match(const char *p, char ch, const char **endp, bool *ok)
{
	unsigned char c = (unsigned char)ch;
	const char *q = p + 1;
	bool neg = false;
	if (*q == '!' || *q == '^') {
		neg = true;
		q++;
	}
	bool hit = false;
	bool first = true;
	for (;;) {
		if (*q == '\0') {
			*ok = false; /* no closing ']': a literal '[' */
			return false;
		}
		if (*q == ']' && !first)
			break;
		first = false;
		unsigned char lo = (unsigned char)*q;
		if (lo == '\\' && q[1])
			lo = (unsigned char)*++q;
		q++;
		unsigned char hi = lo;
		if (q[0] == '-' && q[1] && q[1] != ']') {
			q++;
			hi = (unsigned char)*q;
			if (hi == '\\' && q[1])
				hi = (unsigned char)*++q;
			q++;
		}
		if (c >= lo && c <= hi)
			hit = true;
	}
	*ok = true;
	*endp = q + 1;
	return hit != neg;
}

static bool glob_at(const char *pat0, const char *p, const char *s)
{
	while (*p) {
		if (p[0] == '*' && p[1] == '*' && (p == pat0 || p[-1] == '/') &&
		    (p[2] == '/' || p[2] == '\0')) {
			if (p[2] == '\0')
				return true; /* "**" at the end: everything below */
			const char *q = p + 3;
			for (const char *t = s;;) {
				if (glob_at(pat0, q, t))
					return true;
				t = strchr(t, '/');
				if (!t)
					return false;
				t++;
			}
		}
		switch (*p) {
		case '*':
			while (*p == '*')
				p++;
			for (const char *t = s;; t++) {
				if (glob_at(pat0, p, t))
					return true;
				if (*t == '\0' || *t == '/')
					return false;
			}
		case '?':
			if (*s == '\0' || *s == '/')
				return false;
			p++;
			s++;
			continue;
		case '[': {
			if (*s == '\0' || *s == '/')
				return false;
			const char *end;
			bool ok;
			bool m = class_match(p, *s, &end, &ok);
			if (ok) {
				if (!m)
					return false;
				p = end;
				s++;
				continue;
			}
			break; /* a literal '[' */
		}
		case '\\':
			if (p[1])
				p++;
			break;
		default:
			break;
		}
		if (*p != *s)
			return false;
		p++;
		s++;
	}
	return *s == '\0';
}

bool filter_glob(const char *pat, const char *path)
{
	return glob_at(pat, pat, path);
}

static const char *base_name(const char *rel)
{
	const char *s = strrchr(rel, '/');
	return s ? s + 1 : rel;
}

/* A glob without '/' matches the base name; with one it is anchored at the root. */
static bool glob_rel(const char *pat, const char *rel)
{
	if (strchr(pat, '/'))
		return filter_glob(pat, rel);
	return filter_glob(pat, base_name(rel));
}

/* ---- editor and VCS temp names ---- */

static bool ends_with(const char *s, size_t n, const char *suf)
{
	size_t k = strlen(suf);
	return n >= k && memcmp(s + n - k, suf, k) == 0;
}

bool filter_temp_name(const char *b)
{
	size_t n = strlen(b);
	if (n == 0)
		return false;
	/* vim's writability probe: 4913, then 4913 + 123k while the name is taken */
	if (n >= 4 && n <= 6 && strspn(b, "0123456789") == n) {
		long v = strtol(b, NULL, 10);
		if (v >= 4913 && (v - 4913) % 123 == 0)
			return true;
	}
	if (b[n - 1] == '~')
		return true;
	if (b[0] == '.' && n >= 6 && memcmp(b + n - 4, ".sw", 3) == 0)
		return true; /* .name.swp, .swo, .swn ... */
	if (b[0] == '.' && ends_with(b, n, ".swpx"))
		return true;
	if (n >= 2 && b[0] == '.' && b[1] == '#')
		return true; /* emacs lock link */
	if (n >= 2 && b[0] == '#' && b[n - 1] == '#')
		return true; /* emacs auto-save */
	if (ends_with(b, n, "___jb_tmp___") || ends_with(b, n, "___jb_old___") ||
	    ends_with(b, n, "___jb_bak___"))
		return true;
	if (n == 9 && memcmp(b, "sed", 3) == 0) {
		for (int i = 3; i < 9; i++) {
			char c = b[i];
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
				return false;
		}
		return true; /* GNU sed -i temp file */
	}
	return false;
}

/* ---- .gitignore ---- */

static int path_depth(const char *rel)
{
	if (!*rel)
		return 0;
	int d = 1;
	for (; *rel; rel++)
		d += *rel == '/';
	return d;
}

static void gi_set_clear(struct gi_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->rules[i].pat);
	free(s->rules);
	free(s->base);
}

static void gi_parse_line(struct gi_set *s, size_t *cap, const char *line, size_t len)
{
	while (len && (line[len - 1] == '\r' || line[len - 1] == '\n'))
		len--;
	/* trailing spaces are dropped unless escaped */
	while (len && line[len - 1] == ' ' && !(len >= 2 && line[len - 2] == '\\'))
		len--;
	if (len == 0 || line[0] == '#')
		return;
	struct gi_rule r = {0};
	if (line[0] == '!') {
		r.neg = true;
		line++;
		len--;
	}
	while (len && line[len - 1] == '/') {
		r.dir_only = true;
		len--;
	}
	if (len == 0)
		return;
	if (memchr(line, '/', len))
		r.anchored = true;
	if (line[0] == '/') {
		line++;
		len--;
	}
	if (len == 0)
		return;
	r.pat = xstrndup(line, len);
	s->rules = xgrow(s->rules, cap, s->n + 1, sizeof(*s->rules));
	s->rules[s->n++] = r;
}

int filter_gitignore_set(struct filter *f, const char *dir_rel, const char *text, size_t len)
{
	size_t i;
	for (i = 0; i < f->ngi; i++)
		if (strcmp(f->gi[i].base, dir_rel) == 0)
			break;
	if (i < f->ngi) {
		gi_set_clear(&f->gi[i]);
		f->gi[i] = f->gi[--f->ngi];
	}
	if (!text || !len)
		return 0;
	struct gi_set s = {0};
	size_t cap = 0;
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		gi_parse_line(&s, &cap, p, n);
		p += n + 1;
	}
	if (!s.n) {
		free(s.rules);
		return 0;
	}
	s.base = xstrdup(dir_rel);
	s.baselen = strlen(dir_rel);
	s.depth = path_depth(dir_rel);
	f->gi = xgrow(f->gi, &f->capgi, f->ngi + 1, sizeof(*f->gi));
	f->gi[f->ngi++] = s;
	return (int)s.n;
}

bool filter_gitignore_has(const struct filter *f, const char *dir_rel)
{
	for (size_t i = 0; i < f->ngi; i++)
		if (strcmp(f->gi[i].base, dir_rel) == 0)
			return true;
	return false;
}

static bool gi_rule_match(const struct gi_rule *r, const char *sub, bool is_dir)
{
	if (r->dir_only && !is_dir)
		return false;
	if (r->anchored)
		return filter_glob(r->pat, sub);
	return filter_glob(r->pat, base_name(sub));
}

bool filter_gitignored(const struct filter *f, const char *rel, bool is_dir)
{
	int best_depth = -1;
	bool ignored = false;
	for (size_t i = 0; i < f->ngi; i++) {
		const struct gi_set *s = &f->gi[i];
		const char *sub;
		if (s->baselen == 0)
			sub = rel;
		else if (strncmp(rel, s->base, s->baselen) == 0 && rel[s->baselen] == '/')
			sub = rel + s->baselen + 1;
		else
			continue;
		if (s->depth <= best_depth)
			continue;
		for (size_t k = s->n; k-- > 0;) {
			if (gi_rule_match(&s->rules[k], sub, is_dir)) {
				best_depth = s->depth;
				ignored = !s->rules[k].neg;
				break;
			}
		}
	}
	return ignored;
}

/* ---- the filter ---- */

static void copy_paths(struct strv *dst, const struct strv *src)
{
	if (!src)
		return;
	for (size_t i = 0; i < src->n; i++) {
		const char *s = src->v[i];
		while (s[0] == '.' && s[1] == '/')
			s += 2;
		while (*s == '/')
			s++;
		size_t n = strlen(s);
		while (n && s[n - 1] == '/')
			n--;
		if (n == 1 && s[0] == '.')
			n = 0;
		strv_push_owned(dst, xstrndup(s, n));
	}
}

struct filter *filter_new(const struct filter_spec *spec, char **err)
{
	struct filter *f = xcalloc(1, sizeof(*f));
	f->dev_mode = spec->dev_mode;
	if (spec->include_ext) {
		for (size_t i = 0; i < spec->include_ext->n; i++) {
			const char *e = spec->include_ext->v[i];
			strv_push(&f->include_ext, *e == '.' ? e + 1 : e);
		}
	}
	copy_paths(&f->include_dir, spec->include_dir);
	copy_paths(&f->include_file, spec->include_file);
	copy_paths(&f->exclude_dir, spec->exclude_dir);
	copy_paths(&f->exclude, spec->exclude);
	if (spec->exclude_regex && spec->exclude_regex->n) {
		f->regex = xcalloc(spec->exclude_regex->n, sizeof(*f->regex));
		for (size_t i = 0; i < spec->exclude_regex->n; i++) {
			int rc = regcomp(&f->regex[i], spec->exclude_regex->v[i],
					 REG_EXTENDED | REG_NOSUB);
			if (rc != 0) {
				if (err) {
					char msg[256];
					regerror(rc, &f->regex[i], msg, sizeof(msg));
					*err = xasprintf("bad regular expression \"%s\": %s",
							 spec->exclude_regex->v[i], msg);
				}
				filter_free(f);
				errno = EINVAL;
				return NULL;
			}
			f->nregex++;
		}
	}
	return f;
}

void filter_free(struct filter *f)
{
	if (!f)
		return;
	strv_release(&f->include_ext);
	strv_release(&f->include_dir);
	strv_release(&f->include_file);
	strv_release(&f->exclude_dir);
	strv_release(&f->exclude);
	for (size_t i = 0; i < f->nregex; i++)
		regfree(&f->regex[i]);
	free(f->regex);
	for (size_t i = 0; i < f->ngi; i++)
		gi_set_clear(&f->gi[i]);
	free(f->gi);
	free(f);
}

/* rel == p, or rel inside p */
static bool under(const char *rel, const char *p)
{
	size_t n = strlen(p);
	if (n == 0)
		return true;
	return strncmp(rel, p, n) == 0 && (rel[n] == '\0' || rel[n] == '/');
}

static bool excluded_glob(const struct filter *f, const char *rel, bool is_dir)
{
	for (size_t i = 0; i < f->exclude.n; i++) {
		const char *pat = f->exclude.v[i];
		if (glob_rel(pat, rel))
			return true;
		if (is_dir) {
			/* "dir/" + "**" prunes dir itself: nothing below it could be reported */
			size_t n = strlen(pat);
			if (n >= 3 && strcmp(pat + n - 3, "/**") == 0) {
				char *head = xstrndup(pat, n - 3);
				bool m = filter_glob(head, rel); /* anchored, like pat */
				free(head);
				if (m)
					return true;
			}
		}
	}
	return false;
}

bool filter_dir_ok(const struct filter *f, const char *rel)
{
	if (!*rel)
		return true;
	const char *b = base_name(rel);
	if (f->dev_mode && strcmp(b, ".git") == 0)
		return false;
	for (size_t i = 0; i < f->exclude_dir.n; i++)
		if (glob_rel(f->exclude_dir.v[i], rel))
			return false;
	if (f->include_dir.n) {
		bool ok = false;
		for (size_t i = 0; i < f->include_dir.n && !ok; i++) {
			const char *d = f->include_dir.v[i];
			ok = under(rel, d) || under(d, rel); /* inside, or an ancestor on the way */
		}
		if (!ok)
			return false;
	}
	if (excluded_glob(f, rel, true))
		return false;
	if (f->ngi && filter_gitignored(f, rel, true))
		return false;
	return true;
}

static bool ext_ok(const struct filter *f, const char *b)
{
	if (!f->include_ext.n)
		return true;
	const char *dot = strrchr(b, '.');
	if (!dot || dot == b)
		return false;
	for (size_t i = 0; i < f->include_ext.n; i++)
		if (strcmp(dot + 1, f->include_ext.v[i]) == 0)
			return true;
	return false;
}

bool filter_file_ok(const struct filter *f, const char *rel)
{
	const char *b = base_name(rel);
	if (f->dev_mode && filter_temp_name(b))
		return false;
	for (size_t i = 0; i < f->include_file.n; i++)
		if (strcmp(rel, f->include_file.v[i]) == 0)
			return true;
	if (!ext_ok(f, b))
		return false;
	if (f->include_dir.n) {
		bool ok = false;
		for (size_t i = 0; i < f->include_dir.n && !ok; i++)
			ok = under(rel, f->include_dir.v[i]);
		if (!ok)
			return false;
	}
	if (excluded_glob(f, rel, false))
		return false;
	for (size_t i = 0; i < f->nregex; i++)
		if (regexec(&f->regex[i], rel, 0, NULL, 0) == 0)
			return false;
	if (f->ngi && filter_gitignored(f, rel, false))
		return false;
	return true;
}
