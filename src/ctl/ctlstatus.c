#include "ctl/ctlstatus.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl/ctlproto.h"
#include "util/buf.h"
#include "util/duration.h"
#include "util/xalloc.h"

/* ---- JSON ---- */

static void json_str(struct buf *b, const char *s)
{
	if (!s) {
		buf_puts(b, "null");
		return;
	}
	size_t n = strlen(s);
	buf_putc(b, '"');
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x80) {
			size_t k = ctlproto_utf8_seq(s + i, n - i);
			if (k) {
				buf_append(b, s + i, k);
				i += k;
			} else {
				buf_puts(b, "\\ufffd");
				i++;
			}
			continue;
		}
		switch (c) {
		case '"':
			buf_puts(b, "\\\"");
			break;
		case '\\':
			buf_puts(b, "\\\\");
			break;
		case '\n':
			buf_puts(b, "\\n");
			break;
		case '\r':
			buf_puts(b, "\\r");
			break;
		case '\t':
			buf_puts(b, "\\t");
			break;
		default:
			if (c < 0x20 || c == 0x7f)
				buf_printf(b, "\\u%04x", c);
			else
				buf_putc(b, (char)c);
		}
		i++;
	}
	buf_putc(b, '"');
}

static void json_ms_or_null(struct buf *b, int64_t ms)
{
	if (ms < 0)
		buf_puts(b, "null");
	else
		buf_printf(b, "%lld", (long long)ms);
}

/* "2024-05-01T12:00:00.000Z", or false when the time is unknown. */
static bool format_utc(int64_t unix_ms, char *out, size_t outlen)
{
	if (unix_ms <= 0)
		return false;
	time_t t = (time_t)(unix_ms / 1000);
	struct tm tm;
	if (!gmtime_r(&t, &tm))
		return false;
	char day[40];
	if (!strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm))
		return false;
	snprintf(out, outlen, "%s.%03dZ", day, (int)(unix_ms % 1000));
	return true;
}

static void json_reload(struct buf *b, const struct ctlstatus_reload *r)
{
	if (!r->done) {
		buf_puts(b, "null");
		return;
	}
	char at[64];
	buf_printf(b, "{\"ok\": %s, \"reason\": ", r->ok ? "true" : "false");
	json_str(b, r->reason);
	buf_printf(b, ", \"duration_ms\": %lld, \"at\": ", (long long)r->duration_ms);
	if (format_utc(r->at_unix_ms, at, sizeof(at)))
		json_str(b, at);
	else
		buf_puts(b, "null");
	buf_printf(b, ", \"ago_ms\": %lld}", (long long)r->ago_ms);
}

/* A proxy listener's front: client connections, and per generation its requests in flight. */
static void json_proxy(struct buf *b, const struct ctlstatus_listener *l)
{
	buf_printf(b, ", \"proxy\": {\"connections\": %llu, \"generations\": [",
		   (unsigned long long)l->connections);
	for (int i = 0; i < l->nbackends; i++) {
		const struct ctlstatus_backend *be = &l->backends[i];
		buf_printf(b,
			   "%s{\"id\": %d, \"inflight\": %llu, \"tunnels\": %llu, \"up\": %s, "
			   "\"weight\": %d, \"rps\": %.3f, \"error_rate\": %.3f, \"p99_ms\": ",
			   i ? ", " : "", be->id, (unsigned long long)be->inflight,
			   (unsigned long long)be->tunnels, be->up ? "true" : "false", be->weight,
			   be->rps, be->error_rate);
		if (be->p99_ms >= 0)
			buf_printf(b, "%.3f}", be->p99_ms);
		else
			buf_puts(b, "null}");
	}
	buf_puts(b, "]}");
}

char *ctlstatus_json(const struct ctlstatus *st)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, "{\n  \"version\": ");
	json_str(&b, st->version);
	buf_printf(&b, ",\n  \"pid\": %d,\n  \"uptime_ms\": %lld,\n  \"serving\": ", (int)st->pid,
		   (long long)st->uptime_ms);
	if (st->serving > 0)
		buf_printf(&b, "%d", st->serving);
	else
		buf_puts(&b, "null");
	buf_printf(&b, ",\n  \"reloading\": %s,\n  \"stopping\": %s,\n  \"crashes\": %d,\n",
		   st->reloading ? "true" : "false", st->stopping ? "true" : "false", st->crashes);

	buf_puts(&b, "  \"generations\": [");
	for (int i = 0; i < st->ngens; i++) {
		const struct ctlstatus_gen *g = &st->gens[i];
		buf_printf(&b, "%s\n    {\"id\": %d, \"pid\": %d, \"state\": ", i ? "," : "", g->id,
			   (int)g->pid);
		json_str(&b, g->state);
		buf_printf(&b, ", \"age_ms\": %lld, \"ready_ms\": ", (long long)g->age_ms);
		json_ms_or_null(&b, g->ready_ms);
		if (g->holds && *g->holds) {
			buf_puts(&b, ", \"holds\": [");
			const char *p = g->holds;
			for (int k = 0; *p; k++) {
				size_t n = strcspn(p, " ");
				char *one = xstrndup(p, n);
				buf_puts(&b, k ? ", " : "");
				json_str(&b, one);
				free(one);
				p += n;
				p += strspn(p, " ");
			}
			buf_putc(&b, ']');
		}
		buf_putc(&b, '}');
	}
	buf_puts(&b, st->ngens ? "\n  ],\n" : "],\n");

	buf_puts(&b, "  \"listeners\": [");
	for (int i = 0; i < st->nlisteners; i++) {
		const struct ctlstatus_listener *l = &st->listeners[i];
		buf_printf(&b, "%s\n    {\"name\": ", i ? "," : "");
		json_str(&b, l->name);
		buf_puts(&b, ", \"address\": ");
		json_str(&b, l->address);
		if (l->proxy)
			json_proxy(&b, l);
		buf_putc(&b, '}');
	}
	buf_puts(&b, st->nlisteners ? "\n  ],\n" : "],\n");

	if (st->rollout) {
		const struct ctlstatus_rollout *ro = st->rollout;
		buf_puts(&b, "  \"rollout\": {\"strategy\": ");
		json_str(&b, ro->strategy);
		buf_printf(&b,
			   ", \"step\": %d, \"steps\": %d, \"weight\": %d, \"step_left_ms\": %lld, "
			   "\"generations\": [",
			   ro->step, ro->nsteps, ro->weight, (long long)ro->left_ms);
		const struct ctlstatus_rollout_gen *g2[2] = {&ro->old, &ro->new_};
		for (int i = 0; i < 2; i++)
			buf_printf(&b,
				   "%s{\"generation\": %d, \"role\": \"%s\", \"requests\": %llu, "
				   "\"error_rate\": %.3f, \"p99_ms\": %.3f}",
				   i ? ", " : "", g2[i]->id, i ? "new" : "old",
				   (unsigned long long)g2[i]->requests, g2[i]->error_rate,
				   g2[i]->p99_ms);
		buf_puts(&b, "], \"reason\": ");
		json_str(&b, ro->reason ? ro->reason : "");
		buf_puts(&b, "},\n");
	}
	buf_puts(&b, "  \"last_reload\": ");
	json_reload(&b, &st->last_reload);
	if (st->ngroups) {
		buf_puts(&b, ",\n  \"reload_groups\": [");
		for (int i = 0; i < st->ngroups; i++) {
			const struct ctlstatus_group *g = &st->groups[i];
			buf_printf(&b, "%s\n    {\"name\": ", i ? "," : "");
			json_str(&b, g->name);
			buf_puts(&b, ", \"kind\": ");
			json_str(&b, g->kind);
			buf_printf(&b, ", \"ok\": %s, \"error\": ", g->ok ? "true" : "false");
			json_str(&b, g->error);
			buf_puts(&b, ", \"warning\": ");
			json_str(&b, g->warning);
			if (g->good_hash)
				buf_printf(&b, ", \"good\": \"%016llx\"",
					   (unsigned long long)g->good_hash);
			else
				buf_puts(&b, ", \"good\": null");
			buf_puts(&b, ", \"attempt_ago_ms\": ");
			json_ms_or_null(&b, g->attempt_ago_ms);
			buf_printf(&b, ", \"applied\": %u}", g->applied);
		}
		buf_puts(&b, "\n  ]");
	}
	if (st->nstored > 0) {
		buf_printf(&b, ",\n  \"fd_store\": {\"count\": %d, \"max\": %d, \"names\": [",
			   st->nstored, st->fd_store_max);
		for (int i = 0; i < st->nstored; i++) {
			buf_puts(&b, i ? ", " : "");
			json_str(&b, st->stored_fds[i]);
		}
		buf_puts(&b, "]}");
	}
	buf_puts(&b, "\n}\n");
	return buf_detach(&b);
}

/* ---- text ---- */

/* s with control characters as '?' and invalid UTF-8 bytes as '?'; NULL as "-". */
static void text_str(struct buf *b, const char *s)
{
	if (!s) {
		buf_putc(b, '-');
		return;
	}
	size_t n = strlen(s);
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		size_t k = c < 0x80 ? 1 : ctlproto_utf8_seq(s + i, n - i);
		if (!k || c < 0x20 || c == 0x7f) {
			buf_putc(b, '?');
			i++;
			continue;
		}
		buf_append(b, s + i, k);
		i += k;
	}
}

static void text_dur(struct buf *b, int64_t ms)
{
	char d[64];
	duration_format_ms(ms < 0 ? 0 : ms, d, sizeof(d));
	buf_puts(b, d);
}

/* Display width of a clean UTF-8 string: one column per character (good enough for names). */
static int text_width(const char *s, size_t n)
{
	int w = 0;
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			w++;
	return w;
}

#define NCOLS 5
#define CELL_MAX 24 /* columns; longer cells (a strange state name) are cut */

/* A table cell: clean text cut to CELL_MAX characters. */
static char *cell(const char *s)
{
	struct buf b = BUF_INIT;
	text_str(&b, s);
	size_t i = 0;
	int w = 0;
	while (i < b.len && w < CELL_MAX) {
		i += ctlproto_utf8_seq(b.p + i, b.len - i);
		w++;
	}
	if (i < b.len) {
		b.len = i;
		b.p[i] = '\0';
	}
	return buf_detach(&b);
}

static char *cell_dur(int64_t ms)
{
	char d[64];
	if (ms < 0)
		return cell("-");
	duration_format_ms(ms, d, sizeof(d));
	return cell(d);
}

static void text_table(struct buf *b, const struct ctlstatus *st)
{
	static const char *const head[NCOLS] = {"GEN", "PID", "STATE", "AGE", "READY IN"};
	int nrows = st->ngens + 1;
	char *(*rows)[NCOLS] = xcalloc((size_t)nrows, sizeof(*rows));
	int width[NCOLS] = {0};
	char num[32];

	for (int c = 0; c < NCOLS; c++)
		rows[0][c] = cell(head[c]);
	for (int i = 0; i < st->ngens; i++) {
		const struct ctlstatus_gen *g = &st->gens[i];
		char **r = rows[i + 1];
		snprintf(num, sizeof(num), "%d%s", g->id, g->id == st->serving ? "*" : "");
		r[0] = cell(num);
		snprintf(num, sizeof(num), "%d", (int)g->pid);
		r[1] = cell(num);
		r[2] = cell(g->state);
		r[3] = cell_dur(g->age_ms);
		r[4] = cell_dur(g->ready_ms);
	}
	for (int i = 0; i < nrows; i++)
		for (int c = 0; c < NCOLS; c++) {
			int w = text_width(rows[i][c], strlen(rows[i][c]));
			if (w > width[c])
				width[c] = w;
		}
	for (int i = 0; i < nrows; i++) {
		size_t start = b->len;
		buf_puts(b, "  ");
		for (int c = 0; c < NCOLS; c++) {
			const char *s = rows[i][c];
			buf_puts(b, s);
			int pad = width[c] - text_width(s, strlen(s)) + 2;
			for (int k = 0; c < NCOLS - 1 && k < pad; k++)
				buf_putc(b, ' ');
			free(rows[i][c]);
		}
		while (b->len > start && b->p[b->len - 1] == ' ')
			b->len--;
		buf_putc(b, '\n');
	}
	free(rows);
}

/* "proxy http: 12 connections · gen 4: 0 in flight, 1 tunnel · gen 5 (down): 2 in flight" */
static void text_proxy(struct buf *b, const struct ctlstatus_listener *l)
{
	buf_puts(b, "proxy ");
	text_str(b, l->name);
	buf_printf(b, ": %llu connection%s", (unsigned long long)l->connections,
		   l->connections == 1 ? "" : "s");
	for (int i = 0; i < l->nbackends; i++) {
		const struct ctlstatus_backend *be = &l->backends[i];
		buf_printf(b, " · gen %d%s: %d%% of requests, %.1f/s, %.2f%% errors", be->id,
			   be->up ? "" : " (down)", be->weight, be->rps, be->error_rate);
		if (be->p99_ms >= 0)
			buf_printf(b, ", p99 %.1f ms", be->p99_ms);
		buf_printf(b, ", %llu in flight", (unsigned long long)be->inflight);
		if (be->tunnels)
			buf_printf(b, ", %llu tunnel%s", (unsigned long long)be->tunnels,
				   be->tunnels == 1 ? "" : "s");
	}
	buf_putc(b, '\n');
}

char *ctlstatus_text(const struct ctlstatus *st)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, "baton ");
	text_str(&b, st->version);
	buf_printf(&b, " · pid %d · up ", (int)st->pid);
	text_dur(&b, st->uptime_ms);
	if (st->serving > 0)
		buf_printf(&b, " · serving generation %d", st->serving);
	else
		buf_puts(&b, " · no generation serving");
	if (st->reloading)
		buf_puts(&b, " · reload in progress");
	if (st->stopping)
		buf_puts(&b, " · stopping");
	buf_putc(&b, '\n');

	buf_puts(&b, "listeners: ");
	if (!st->nlisteners)
		buf_puts(&b, "none");
	for (int i = 0; i < st->nlisteners; i++) {
		if (i)
			buf_puts(&b, ", ");
		text_str(&b, st->listeners[i].name);
		buf_putc(&b, ' ');
		text_str(&b, st->listeners[i].address);
	}
	buf_putc(&b, '\n');
	for (int i = 0; i < st->nlisteners; i++)
		if (st->listeners[i].proxy)
			text_proxy(&b, &st->listeners[i]);
	buf_putc(&b, '\n');

	if (st->ngens)
		text_table(&b, st);
	else
		buf_puts(&b, "  no generation running\n");
	for (int i = 0; i < st->ngens; i++)
		if (st->gens[i].holds && *st->gens[i].holds) {
			buf_printf(&b, "  generation %d holds ", st->gens[i].id);
			text_str(&b, st->gens[i].holds);
			buf_putc(&b, '\n');
		}
	buf_putc(&b, '\n');

	if (st->rollout) {
		const struct ctlstatus_rollout *ro = st->rollout;
		buf_puts(&b, "rollout: ");
		text_str(&b, ro->strategy);
		buf_printf(&b, ", step %d of %d: %d%% of new requests to generation %d, ", ro->step,
			   ro->nsteps, ro->weight, ro->new_.id);
		text_dur(&b, ro->left_ms);
		buf_puts(&b, " left\n");
		const struct ctlstatus_rollout_gen *g2[2] = {&ro->old, &ro->new_};
		for (int i = 0; i < 2; i++)
			buf_printf(
				&b,
				"  generation %d (%s): %llu requests, %.2f%% errors, p99 %.1f ms\n",
				g2[i]->id, i ? "new" : "old", (unsigned long long)g2[i]->requests,
				g2[i]->error_rate, g2[i]->p99_ms);
		if (ro->reason && *ro->reason) {
			buf_puts(&b, "  last decision: ");
			text_str(&b, ro->reason);
			buf_putc(&b, '\n');
		}
	}
	const struct ctlstatus_reload *r = &st->last_reload;
	buf_puts(&b, "last reload: ");
	if (!r->done) {
		buf_puts(&b, "none");
	} else {
		buf_puts(&b, r->ok ? "ok, " : "failed, ");
		text_dur(&b, r->ago_ms);
		buf_puts(&b, " ago, took ");
		text_dur(&b, r->duration_ms);
		if (r->reason && *r->reason) {
			buf_puts(&b, " — ");
			text_str(&b, r->reason);
		}
	}
	buf_printf(&b, "\ncrashes: %d\n", st->crashes);
	if (st->nstored > 0) {
		buf_printf(&b, "fd store: %d of %d (", st->nstored, st->fd_store_max);
		for (int i = 0; i < st->nstored; i++) {
			buf_puts(&b, i ? ", " : "");
			text_str(&b, st->stored_fds[i]);
		}
		buf_puts(&b, ")\n");
	}
	if (st->ngroups)
		buf_puts(&b, "\nreload groups:\n");
	for (int i = 0; i < st->ngroups; i++) {
		const struct ctlstatus_group *g = &st->groups[i];
		buf_puts(&b, "  ");
		text_str(&b, g->kind);
		buf_puts(&b, " \"");
		text_str(&b, g->name);
		buf_printf(&b, "\": %s, applied %u", g->ok ? "ok" : "rejected", g->applied);
		if (g->good_hash)
			buf_printf(&b, ", good %016llx", (unsigned long long)g->good_hash);
		if (g->error) {
			buf_puts(&b, " — ");
			text_str(&b, g->error);
		}
		if (g->warning) {
			buf_puts(&b, " (warning: ");
			text_str(&b, g->warning);
			buf_putc(&b, ')');
		}
		buf_putc(&b, '\n');
	}
	return buf_detach(&b);
}
