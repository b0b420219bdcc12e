/* struct config -> a commented baton.toml that loads back to the same config (`baton check
 * --print`). Keys and comments come from the schema table, so the output lists every key. */
#include "config/config_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "util/buf.h"
#include "util/duration.h"
#include "util/signame.h"
#include "util/xalloc.h"

char *config_toml_quote(const char *s)
{
	struct buf b = BUF_INIT;
	buf_putc(&b, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		switch (c) {
		case '"':
			buf_puts(&b, "\\\"");
			break;
		case '\\':
			buf_puts(&b, "\\\\");
			break;
		case '\n':
			buf_puts(&b, "\\n");
			break;
		case '\t':
			buf_puts(&b, "\\t");
			break;
		case '\r':
			buf_puts(&b, "\\r");
			break;
		default:
			if (c < 0x20 || c == 0x7f)
				buf_printf(&b, "\\u%04X", c);
			else
				buf_putc(&b, (char)c);
		}
	}
	buf_putc(&b, '"');
	return buf_detach(&b);
}

static void put_quoted(struct buf *b, const char *s)
{
	char *q = config_toml_quote(s ? s : "");
	buf_puts(b, q);
	free(q);
}

static void put_duration(struct buf *b, int64_t ms)
{
	char d[48];
	duration_format_ms(ms, d, sizeof(d));
	put_quoted(b, d);
}

static void put_signal(struct buf *b, int sig)
{
	const char *name = signame_str(sig);
	char num[16];
	if (strncmp(name, "SIG", 3) != 0) {
		snprintf(num, sizeof(num), "%d", sig);
		name = num;
	}
	put_quoted(b, name);
}

static void put_list(struct buf *b, const struct strv *sv)
{
	buf_putc(b, '[');
	for (size_t i = 0; i < sv->n; i++) {
		if (i)
			buf_puts(b, ", ");
		put_quoted(b, sv->v[i]);
	}
	buf_putc(b, ']');
}

static void put_env(struct buf *b, const struct strv *sv)
{
	if (!sv->n) {
		buf_puts(b, "{}");
		return;
	}
	buf_puts(b, "{ ");
	for (size_t i = 0; i < sv->n; i++) {
		const char *eq = strchr(sv->v[i], '=');
		char *key = xstrndup(sv->v[i], (size_t)(eq - sv->v[i]));
		if (i)
			buf_puts(b, ", ");
		put_quoted(b, key);
		buf_puts(b, " = ");
		put_quoted(b, eq + 1);
		free(key);
	}
	buf_puts(b, " }");
}

static void put_action(struct buf *b, const struct cfg_action *a)
{
	char *s;
	switch (a->kind) {
	case ACTION_SIGNAL:
		s = xasprintf("signal:%s", signame_str(a->signal));
		break;
	case ACTION_EXEC:
		s = xasprintf("exec:%s", a->cmd ? a->cmd : "");
		break;
	default:
		s = xstrdup("restart");
		break;
	}
	put_quoted(b, s);
	free(s);
}

char *config_key_format(const struct config_key *k, const void *base)
{
	const char *f = (const char *)base + k->off;
	struct buf b = BUF_INIT;
	char d[48];
	switch (k->type) {
	case CT_STR:
	case CT_OPTSTR:
	case CT_ADDRESS:
	case CT_OPTADDRESS:
	case CT_FORWARD:
	case CT_NAME:
	case CT_URLPATH:
		put_quoted(&b, *(char *const *)f);
		break;
	case CT_PROXY:
		buf_puts(&b, *(const enum listen_proxy *)f == LISTEN_PROXY_HTTP	   ? "\"http\""
			     : *(const enum listen_proxy *)f == LISTEN_PROXY_HTTPS ? "\"https\""
										   : "\"\"");
		break;
	case CT_BOOL:
		buf_puts(&b, *(const bool *)f ? "true" : "false");
		break;
	case CT_INT:
		buf_printf(&b, "%d", *(const int *)f);
		break;
	case CT_DURATION:
		put_duration(&b, *(const int64_t *)f);
		break;
	case CT_SIGNAL:
		put_signal(&b, *(const int *)f);
		break;
	case CT_OPTSIGNAL:
		if (*(const int *)f)
			put_signal(&b, *(const int *)f);
		else
			buf_puts(&b, "\"\"");
		break;
	case CT_STRV:
	case CT_EXTV:
	case CT_REGEXV:
		put_list(&b, (const struct strv *)f);
		break;
	case CT_ENV:
		put_env(&b, (const struct strv *)f);
		break;
	case CT_READY: {
		static const char *const names[] = {"notify", "exec", "delay", "port"};
		enum ready_kind r = *(const enum ready_kind *)f;
		if (r == READY_HTTP) {
			char *s =
				xasprintf("http:%s", ((const struct config *)base)->run.ready_path);
			put_quoted(&b, s);
			free(s);
		} else if (r == READY_DELAY) {
			duration_format_ms(*(const int64_t *)((const char *)base + k->off2), d,
					   sizeof(d));
			buf_printf(&b, "\"delay:%s\"", d);
		} else {
			buf_printf(&b, "\"%s\"", names[r]);
		}
		break;
	}
	case CT_ACTION:
		put_action(&b, (const struct cfg_action *)f);
		break;
	case CT_POLL: {
		enum poll_mode m = *(const enum poll_mode *)f;
		if (m == POLL_FORCE)
			put_duration(&b, *(const int64_t *)((const char *)base + k->off2));
		else
			buf_puts(&b, m == POLL_OFF ? "\"off\"" : "\"auto\"");
		break;
	}
	case CT_COLOR: {
		int c = *(const int *)f;
		buf_puts(&b, c == LOG_COLOR_ALWAYS  ? "\"always\""
			     : c == LOG_COLOR_NEVER ? "\"never\""
						    : "\"auto\"");
		break;
	}
	case CT_LOGFORMAT:
		buf_puts(&b, *(const bool *)f ? "\"json\"" : "\"text\"");
		break;
	case CT_PERCENTV: {
		const struct cfg_percents *p = (const struct cfg_percents *)f;
		buf_putc(&b, '[');
		for (int i = 0; i < p->n; i++)
			buf_printf(&b, "%s%d", i ? ", " : "", p->v[i]);
		buf_putc(&b, ']');
		break;
	}
	case CT_DECIMAL: {
		/* shortest form that reads back the same, always with a '.' (a TOML float) */
		double x = *(const double *)f;
		char s[40];
		for (int prec = 1; prec <= 17; prec++) {
			snprintf(s, sizeof(s), "%.*g", prec, x);
			if (strtod(s, NULL) == x)
				break;
		}
		buf_puts(&b, s);
		if (!strpbrk(s, ".eEn"))
			buf_puts(&b, ".0");
		break;
	}
	}
	return buf_detach(&b);
}

/* "# " lines wrapped at 98 columns. */
static void put_comment(struct buf *b, const char *indent, const char *text)
{
	const size_t width = 96;
	const char *s = text;
	while (*s) {
		size_t n = strlen(s);
		if (n > width) {
			n = width;
			while (n > 0 && s[n] != ' ')
				n--;
			if (n == 0)
				n = width;
		}
		buf_printf(b, "%s# ", indent);
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)s[i];
			buf_putc(b, c < 0x20 || c == 0x7f ? '?' : (char)c);
		}
		buf_putc(b, '\n');
		s += n;
		while (*s == ' ')
			s++;
	}
}

static char *default_text(const struct config_key *k)
{
	if (!k->def)
		return NULL;
	switch (k->type) {
	case CT_BOOL:
	case CT_INT:
	case CT_DECIMAL:
		return xstrdup(k->def);
	case CT_PERCENTV: {
		struct buf b = BUF_INIT;
		buf_putc(&b, '[');
		for (const char *s = k->def; *s; s++)
			buf_puts(&b, *s == ',' ? ", " : (char[]){*s, 0});
		buf_putc(&b, ']');
		return buf_detach(&b);
	}
	case CT_DURATION: {
		struct buf b = BUF_INIT;
		int64_t ms;
		if (duration_parse_ms(k->def, &ms, NULL) < 0)
			ms = 0;
		put_duration(&b, ms);
		return buf_detach(&b);
	}
	case CT_STRV:
	case CT_EXTV:
	case CT_REGEXV: {
		struct buf b = BUF_INIT;
		char *copy = xstrdup(k->def), *save = NULL;
		buf_putc(&b, '[');
		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			if (b.len > 1)
				buf_puts(&b, ", ");
			put_quoted(&b, t);
		}
		buf_putc(&b, ']');
		free(copy);
		return buf_detach(&b);
	}
	default:
		return config_toml_quote(k->def);
	}
}

static void put_keys(struct buf *b, const char *table, const void *base, bool comments)
{
	for (size_t i = 0; i < config_nkeys; i++) {
		const struct config_key *k = &config_keys[i];
		if ((!table) != (!k->table) || (table && strcmp(table, k->table) != 0))
			continue;
		if (k->type == CT_FORWARD && !*(char *const *)((const char *)base + k->off))
			continue;
		if (k->type == CT_NAME && !*(char *const *)((const char *)base + k->off))
			continue; /* an unnamed [[tls]] group */
		if (k->type == CT_STRV && k->scope == CS_LISTEN &&
		    !((const struct strv *)((const char *)base + k->off))->n)
			continue; /* tls on a listener that is not https */
		if (k->type == CT_PROXY &&
		    *(const enum listen_proxy *)((const char *)base + k->off) == LISTEN_PROXY_NONE)
			continue;
		if (comments) {
			char *def = default_text(k), *help;
			help = def ? xasprintf("%s; default %s", k->help, def) : xstrdup(k->help);
			put_comment(b, "", help);
			free(help);
			free(def);
		}
		char *v = config_key_format(k, base);
		buf_printf(b, "%s = %s\n", k->name, v);
		free(v);
	}
}

static void put_array(struct buf *b, const struct config_table *t, const struct config *cfg)
{
	int n = t->scope == CS_LISTEN	? cfg->nlisten
		: t->scope == CS_RELOAD ? cfg->nreload
		: t->scope == CS_SOURCE ? cfg->nsources
					: cfg->ntls;
	put_comment(b, "", t->help);
	if (n == 0) {
		if (t->scope == CS_LISTEN) {
			put_comment(
				b, "",
				"none: baton holds no socket, so the app binds its own port and "
				"PORT is left to it (a restart then has a moment when connections "
				"are refused). To have baton hold the port:");
			buf_puts(b,
				 "# [[listen]]\n# name = \"http\"\n# address = \":8080\"\n"
				 "# forward = \"127.0.0.1:8081\"  # only if the app binds its own "
				 "port (it gets PORT=8081)\n\n");
		} else {
			buf_printf(b, "# [[%s]]: none\n\n", t->name);
		}
		return;
	}
	for (int i = 0; i < n; i++) {
		const void *e = t->scope == CS_LISTEN	? (const void *)&cfg->listen[i]
				: t->scope == CS_RELOAD ? (const void *)&cfg->reload[i]
				: t->scope == CS_SOURCE ? (const void *)&cfg->sources[i]
							: (const void *)&cfg->tls[i];
		buf_printf(b, "[[%s]]\n", t->name);
		put_keys(b, t->name, e, i == 0);
		buf_putc(b, '\n');
	}
}

static char *root_text(const struct config *cfg)
{
	size_t n = strlen(cfg->dir);
	if (strcmp(cfg->root, cfg->dir) == 0)
		return xstrdup(".");
	if (strncmp(cfg->root, cfg->dir, n) == 0 && (cfg->root[n] == '/' || n == 1))
		return xstrdup(cfg->root + (n == 1 ? 1 : n + 1));
	return xstrdup(cfg->root);
}

char *config_to_toml(const struct config *cfg)
{
	struct buf b = BUF_INIT;
	char *head = NULL;
	switch (cfg->source) {
	case CONFIG_SRC_FILE:
		head = xasprintf("loaded from %s", cfg->path ? cfg->path : "(buffer)");
		break;
	case CONFIG_SRC_AIR:
		head = xasprintf("translated from air's %s (`baton check` lists the air keys that "
				 "have no baton equivalent)",
				 cfg->path ? cfg->path : ".air.toml");
		break;
	case CONFIG_SRC_DEFAULT:
		head = xasprintf(
			"zero-config defaults for the Go main package in %s (no baton.toml "
			"or .air.toml found): build it into .baton/bin/app and run that",
			cfg->dir);
		break;
	}
	put_comment(&b, "", "baton.toml: the effective configuration, every key with its value");
	put_comment(&b, "", head);
	put_comment(&b, "", "reference: docs/config.md");
	buf_putc(&b, '\n');
	free(head);
	char *root = root_text(cfg);
	const struct config_key *rk = config_key_find(NULL, "root");
	put_comment(&b, "", rk->help);
	buf_puts(&b, "root = ");
	put_quoted(&b, root);
	buf_putc(&b, '\n');
	if (strcmp(root, cfg->root) != 0) {
		char *where = xasprintf("resolved: %s", cfg->root);
		put_comment(&b, "", where);
		free(where);
	}
	buf_putc(&b, '\n');
	free(root);
	for (size_t i = 0; i < config_ntables; i++) {
		const struct config_table *t = &config_tables[i];
		if (t->scope != CS_ROOT) {
			put_array(&b, t, cfg);
			continue;
		}
		buf_printf(&b, "[%s]  # %s\n", t->name, t->help);
		put_keys(&b, t->name, cfg, true);
		buf_putc(&b, '\n');
	}
	return buf_detach(&b);
}
