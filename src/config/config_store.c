/* Storing: a TOML value checked against its key's type and stored into struct config (or an
 * element's struct), the defaults, and the release of what was stored. The keys themselves are
 * in config_schema.c. */
#include "config/config_impl.h"

#include <assert.h>
#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/listen_addr.h"
#include "core/log.h"
#include "util/duration.h"
#include "util/signame.h"
#include "util/strv.h"
#include "util/xalloc.h"

#define DAY (24LL * 3600 * 1000)

static const char *value_kind(const struct toml_value *v)
{
	switch (v->type) {
	case TOML_STRING:
		return "string";
	case TOML_INTEGER:
		return "integer";
	case TOML_FLOAT:
		return "float";
	case TOML_BOOL:
		return "boolean";
	case TOML_DATETIME:
	case TOML_DATETIME_LOCAL:
	case TOML_DATE_LOCAL:
	case TOML_TIME_LOCAL:
		return "date-time";
	case TOML_ARRAY:
		return "array";
	case TOML_TABLE:
		return "table";
	}
	return "value";
}

static char *key_path(const struct config_key *k)
{
	return k->table ? xasprintf("%s.%s", k->table, k->name) : xstrdup(k->name);
}

static int errf(char **err, const struct config_key *k, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int errf(char **err, const struct config_key *k, const char *fmt, ...)
{
	char *path = key_path(k), *msg = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	*err = xasprintf("'%s': %s", path, msg);
	free(path);
	free(msg);
	return -EINVAL;
}

static int type_err(char **err, const struct config_key *k, const struct toml_value *v)
{
	return errf(err, k, "expected %s, got %s", config_type_expect(k->type), value_kind(v));
}

const char *config_action_parse(const char *s, struct cfg_action *a)
{
	memset(a, 0, sizeof(*a));
	if (strcmp(s, "restart") == 0) {
		a->kind = ACTION_RESTART;
		return NULL;
	}
	if (strncmp(s, "signal:", 7) == 0) {
		int sig = signame_parse(s + 7);
		if (sig <= 0)
			return "unknown signal after 'signal:' (use a name such as SIGHUP)";
		a->kind = ACTION_SIGNAL;
		a->signal = sig;
		return NULL;
	}
	if (strncmp(s, "exec:", 5) == 0) {
		if (!s[5])
			return "empty command after 'exec:'";
		a->kind = ACTION_EXEC;
		a->cmd = xstrdup(s + 5);
		return NULL;
	}
	return "expected \"restart\", \"signal:SIGNAME\" or \"exec:COMMAND\"";
}

static bool valid_name(const char *s)
{
	if (!*s || strlen(s) > 255)
		return false;
	for (; *s; s++)
		if (!(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z') &&
		    !(*s >= '0' && *s <= '9') && *s != '.' && *s != '_' && *s != '-')
			return false;
	return true;
}

static void set_str(char **field, const char *s)
{
	free(*field);
	*field = s ? xstrdup(s) : NULL;
}

static int set_duration(const struct config_key *k, int64_t *field, const char *s, char **err)
{
	int64_t ms;
	char *why = NULL;
	if (duration_parse_ms(s, &ms, &why) < 0) {
		int r = errf(err, k, "invalid duration \"%.64s\": %s", s, why);
		free(why);
		return r;
	}
	if (ms < k->min) {
		char b[32];
		duration_format_ms(k->min, b, sizeof(b));
		return errf(err, k, "must be at least %s", b);
	}
	if (ms > k->max)
		return errf(err, k, "duration \"%.64s\" is too long (at most a day)", s);
	*field = ms;
	return 0;
}

static int set_ready(const struct config_key *k, char *base, const char *s, char **err)
{
	enum ready_kind *kind = (enum ready_kind *)(base + k->off);
	int64_t *delay = (int64_t *)(base + k->off2);
	if (strcmp(s, "notify") == 0)
		*kind = READY_NOTIFY;
	else if (strcmp(s, "exec") == 0)
		*kind = READY_EXEC;
	else if (strcmp(s, "port") == 0)
		*kind = READY_PORT;
	else if (strncmp(s, "http:", 5) == 0) {
		const char *why = config_urlpath_check(s + 5);
		if (why)
			return errf(err, k, "invalid value \"%.64s\": %s", s, why);
		/* CT_READY is a [run] key: its path lives in the root struct */
		set_str(&((struct config *)base)->run.ready_path, s + 5);
		*kind = READY_HTTP;
		*delay = 0;
		return 0;
	} else if (strncmp(s, "delay:", 6) == 0) {
		int64_t ms;
		char *why = NULL;
		if (duration_parse_ms(s + 6, &ms, &why) < 0) {
			int r = errf(err, k, "invalid duration in \"%.64s\": %s", s, why);
			free(why);
			return r;
		}
		*kind = READY_DELAY;
		*delay = ms;
		return 0;
	} else
		return errf(err, k, "invalid value \"%.64s\": expected %s", s,
			    config_type_expect(k->type));
	*delay = 0;
	return 0;
}

static int set_poll(const struct config_key *k, char *base, const char *s, char **err)
{
	enum poll_mode *mode = (enum poll_mode *)(base + k->off);
	int64_t *interval = (int64_t *)(base + k->off2);
	if (strcmp(s, "auto") == 0) {
		*mode = POLL_AUTO;
		return 0;
	}
	if (strcmp(s, "off") == 0) {
		*mode = POLL_OFF;
		return 0;
	}
	int64_t ms;
	if (duration_parse_ms(s, &ms, NULL) < 0)
		return errf(err, k, "invalid value \"%.64s\": expected %s", s,
			    config_type_expect(k->type));
	if (ms < 10)
		return errf(err, k, "polling interval must be at least 10ms");
	if (ms > DAY)
		return errf(err, k, "polling interval \"%.64s\" is too long (at most a day)", s);
	*mode = POLL_FORCE;
	*interval = ms;
	return 0;
}

const char *config_urlpath_check(const char *p)
{
	if (p[0] != '/')
		return "the path must start with '/' (such as \"/healthz\")";
	if (strlen(p) > 1024)
		return "the path is longer than 1024 bytes";
	for (; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '#')
			return "the path must not hold spaces, control characters or '#'";
	return NULL;
}

/* An address listen_addr_parse() refused, saying why (freed here). */
static int bad_address(char **err, const struct config_key *k, const char *s, char *why)
{
	int r = errf(err, k, "invalid address \"%.64s\": %s", s, why);
	free(why);
	return r;
}

/* Every key whose value is written as a string. */
static int set_string(const struct config_key *k, char *base, const char *s, char **err)
{
	char *field = base + k->off;
	struct listen_addr la;
	const char *why;
	char *aerr = NULL;
	if (!*s && (k->flags & CK_NONEMPTY))
		return errf(err, k, "must not be empty");
	switch (k->type) {
	case CT_STR:
		set_str((char **)field, s);
		return 0;
	case CT_OPTSTR:
		set_str((char **)field, *s ? s : NULL);
		return 0;
	case CT_DURATION:
		return set_duration(k, (int64_t *)field, s, err);
	case CT_SIGNAL:
	case CT_OPTSIGNAL: {
		if (!*s && k->type == CT_OPTSIGNAL) {
			*(int *)field = 0;
			return 0;
		}
		int sig = signame_parse(s);
		if (sig <= 0)
			return errf(err, k,
				    "unknown signal \"%.64s\" (use a name such as \"SIGTERM\")", s);
		*(int *)field = sig;
		return 0;
	}
	case CT_READY:
		return set_ready(k, base, s, err);
	case CT_ACTION: {
		struct cfg_action a;
		why = config_action_parse(s, &a);
		if (why)
			return errf(err, k, "invalid action \"%.64s\": %s", s, why);
		struct cfg_action *dst = (struct cfg_action *)field;
		free(dst->cmd);
		*dst = a;
		return 0;
	}
	case CT_POLL:
		return set_poll(k, base, s, err);
	case CT_OPTADDRESS:
		if (!*s) {
			set_str((char **)field, NULL);
			return 0;
		}
		/* fall through */
	case CT_ADDRESS:
		if (listen_addr_parse(s, &la, &aerr) < 0)
			return bad_address(err, k, s, aerr);
		set_str((char **)field, s);
		return 0;
	case CT_FORWARD:
		if (!*s) {
			set_str((char **)field, NULL);
			return 0;
		}
		if (listen_addr_parse(s, &la, &aerr) < 0)
			return bad_address(err, k, s, aerr);
		if (la.family != LISTEN_ADDR_TCP || la.port == 0)
			return errf(err, k,
				    "invalid address \"%.64s\": expected \"host:port\" with a port "
				    "the app binds, such as \"127.0.0.1:8081\"",
				    s);
		set_str((char **)field, s);
		return 0;
	case CT_COLOR:
		if (strcmp(s, "auto") == 0)
			*(int *)field = LOG_COLOR_AUTO;
		else if (strcmp(s, "always") == 0)
			*(int *)field = LOG_COLOR_ALWAYS;
		else if (strcmp(s, "never") == 0)
			*(int *)field = LOG_COLOR_NEVER;
		else
			return errf(err, k, "invalid value \"%.64s\": expected %s", s,
				    config_type_expect(k->type));
		return 0;
	case CT_LOGFORMAT:
		if (strcmp(s, "text") != 0 && strcmp(s, "json") != 0)
			return errf(err, k, "invalid value \"%.64s\": expected %s", s,
				    config_type_expect(k->type));
		*(bool *)field = strcmp(s, "json") == 0;
		return 0;
	case CT_NAME:
		if (!valid_name(s))
			return errf(err, k,
				    "invalid name \"%.64s\": use letters, digits, '.', '_' and '-' "
				    "(at most 255)",
				    s);
		set_str((char **)field, s);
		return 0;
	case CT_PROXY:
		if (!*s)
			*(enum listen_proxy *)field = LISTEN_PROXY_NONE;
		else if (strcmp(s, "http") == 0)
			*(enum listen_proxy *)field = LISTEN_PROXY_HTTP;
		else if (strcmp(s, "https") == 0)
			*(enum listen_proxy *)field = LISTEN_PROXY_HTTPS;
		else
			return errf(err, k, "invalid value \"%.64s\": expected %s", s,
				    config_type_expect(k->type));
		return 0;
	case CT_URLPATH:
		if (!*s) {
			set_str((char **)field, NULL);
			return 0;
		}
		why = config_urlpath_check(s);
		if (why)
			return errf(err, k, "invalid path \"%.64s\": %s", s, why);
		set_str((char **)field, s);
		return 0;
	case CT_BOOL:
	case CT_INT:
	case CT_STRV:
	case CT_EXTV:
	case CT_REGEXV:
	case CT_ENV:
	case CT_PERCENTV:
	case CT_DECIMAL:
		break;
	}
	assert(!"not a string type");
	return -EINVAL;
}

static bool has_nul(const struct toml_value *v)
{
	return strlen(v->u.str.ptr) != v->u.str.len;
}

static int store_percents(const struct config_key *k, struct cfg_percents *out,
			  const struct toml_value *v, char **err, struct toml_pos *errpos)
{
	if (v->type != TOML_ARRAY)
		return type_err(err, k, v);
	if (v->u.arr.n < 1 || v->u.arr.n > CFG_PERCENTS_MAX)
		return errf(err, k, "expected 1 to %d steps, got %zu", CFG_PERCENTS_MAX,
			    (size_t)v->u.arr.n);
	struct cfg_percents p = {.n = 0};
	for (size_t i = 0; i < v->u.arr.n; i++) {
		const struct toml_value *it = &v->u.arr.items[i];
		*errpos = it->pos;
		if (it->type != TOML_INTEGER)
			return errf(err, k, "expected integers, got %s in the array",
				    value_kind(it));
		if (it->u.i < k->min || it->u.i > k->max)
			return errf(err, k, "%lld is out of range (%lld..%lld)", (long long)it->u.i,
				    k->min, k->max);
		if (p.n && it->u.i <= p.v[p.n - 1])
			return errf(err, k, "%lld after %d: steps must increase",
				    (long long)it->u.i, p.v[p.n - 1]);
		p.v[p.n++] = (int)it->u.i;
	}
	*out = p;
	return 0;
}

/* Check one item of a string list; returns 0 or -EINVAL with *err. */
static int check_item(const struct config_key *k, const char *s, char **err)
{
	if (!*s && !(k->flags & CK_EMPTY_ITEMS))
		return errf(err, k, "empty string in the list");
	if (k->type == CT_EXTV && strchr(s, '/'))
		return errf(err, k, "\"%.64s\" is not a file extension", s);
	if (k->type == CT_REGEXV) {
		regex_t re;
		int rc = regcomp(&re, s, REG_EXTENDED | REG_NOSUB);
		if (rc != 0) {
			char why[128];
			regerror(rc, &re, why, sizeof(why));
			return errf(err, k, "invalid regular expression \"%.64s\": %s", s, why);
		}
		regfree(&re);
	}
	return 0;
}

static void push_item(const struct config_key *k, struct strv *sv, const char *s)
{
	if (k->type == CT_EXTV && s[0] == '.' && s[1])
		s++;
	strv_push(sv, s);
}

static int store_list(const struct config_key *k, char *base, const struct toml_value *v,
		      char **err, struct toml_pos *errpos)
{
	struct strv tmp = STRV_INIT;
	const struct toml_value *items = v;
	size_t n = 1;
	if (v->type == TOML_ARRAY) {
		items = v->u.arr.items;
		n = v->u.arr.n;
	} else if (v->type != TOML_STRING) {
		return type_err(err, k, v);
	}
	for (size_t i = 0; i < n; i++) {
		const struct toml_value *it = &items[i];
		*errpos = it->pos;
		if (it->type != TOML_STRING) {
			strv_release(&tmp);
			return errf(err, k, "expected an array of strings, got %s in the array",
				    value_kind(it));
		}
		if (has_nul(it) || check_item(k, it->u.str.ptr, err) < 0) {
			if (!*err)
				errf(err, k, "string contains a NUL character");
			strv_release(&tmp);
			return -EINVAL;
		}
		push_item(k, &tmp, it->u.str.ptr);
	}
	if (n == 0 && (k->flags & CK_NONEMPTY)) {
		*errpos = v->pos;
		return errf(err, k, "must not be empty");
	}
	struct strv *dst = (struct strv *)(base + k->off);
	strv_release(dst);
	*dst = tmp;
	return 0;
}

static const char *const reserved_env[] = {"LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES",
					   "NOTIFY_SOCKET", "BATON_GENERATION"};

static int store_env(const struct config_key *k, char *base, const struct toml_value *v, char **err,
		     struct toml_pos *errpos)
{
	if (v->type != TOML_TABLE)
		return type_err(err, k, v);
	struct strv tmp = STRV_INIT;
	const struct toml_table *t = v->u.tab;
	for (size_t i = 0; i < t->n; i++) {
		const struct toml_kv *kv = &t->items[i];
		const struct toml_value *e = &kv->val;
		char *val = NULL;
		*errpos = kv->key_pos;
		if (!kv->keylen || strlen(kv->key) != kv->keylen || strchr(kv->key, '=')) {
			errf(err, k, "invalid environment variable name \"%.64s\"", kv->key);
			goto fail;
		}
		for (size_t r = 0; r < sizeof(reserved_env) / sizeof(reserved_env[0]); r++) {
			if (strcmp(kv->key, reserved_env[r]) == 0) {
				errf(err, k, "\"%s\" is set by baton itself", kv->key);
				goto fail;
			}
		}
		*errpos = e->pos;
		if (e->type == TOML_STRING && !has_nul(e))
			val = xstrdup(e->u.str.ptr);
		else if (e->type == TOML_INTEGER)
			val = xasprintf("%lld", (long long)e->u.i);
		else if (e->type == TOML_BOOL)
			val = xstrdup(e->u.b ? "true" : "false");
		if (!val) {
			errf(err, k, "value of \"%.64s\": expected a string, got %s", kv->key,
			     value_kind(e));
			goto fail;
		}
		strv_pushf(&tmp, "%s=%s", kv->key, val);
		free(val);
	}
	struct strv *dst = (struct strv *)(base + k->off);
	strv_release(dst);
	*dst = tmp;
	return 0;
fail:
	strv_release(&tmp);
	return -EINVAL;
}

int config_key_store(const struct config_key *k, void *base, const struct toml_value *v, char **err,
		     struct toml_pos *errpos)
{
	char *b = base, *field = b + k->off;
	*err = NULL;
	*errpos = v->pos;
	switch (k->type) {
	case CT_BOOL:
		if (v->type != TOML_BOOL)
			return type_err(err, k, v);
		*(bool *)field = v->u.b;
		return 0;
	case CT_INT:
		if (v->type != TOML_INTEGER)
			return type_err(err, k, v);
		if (v->u.i < k->min || v->u.i > k->max)
			return errf(err, k, "%lld is out of range (%lld..%lld)", (long long)v->u.i,
				    k->min, k->max);
		*(int *)field = (int)v->u.i;
		return 0;
	case CT_STRV:
	case CT_EXTV:
	case CT_REGEXV:
		return store_list(k, b, v, err, errpos);
	case CT_ENV:
		return store_env(k, b, v, err, errpos);
	case CT_PERCENTV:
		return store_percents(k, (struct cfg_percents *)field, v, err, errpos);
	case CT_DECIMAL: {
		double d;
		if (v->type == TOML_INTEGER)
			d = (double)v->u.i;
		else if (v->type == TOML_FLOAT)
			d = v->u.f;
		else
			return type_err(err, k, v);
		if (!(d >= (double)k->min && d <= (double)k->max))
			return errf(err, k, "%g is out of range (%lld..%lld)", d, k->min, k->max);
		*(double *)field = d;
		return 0;
	}
	default:
		break;
	}
	if (v->type != TOML_STRING)
		return type_err(err, k, v);
	if (has_nul(v))
		return errf(err, k, "string contains a NUL character");
	return set_string(k, b, v->u.str.ptr, err);
}

void config_scope_defaults(enum config_scope scope, void *base)
{
	char *b = base;
	for (size_t i = 0; i < config_nkeys; i++) {
		const struct config_key *k = &config_keys[i];
		if (k->scope != scope || !k->def)
			continue;
		char *err = NULL;
		switch (k->type) {
		case CT_BOOL:
			*(bool *)(b + k->off) = strcmp(k->def, "true") == 0;
			break;
		case CT_INT:
			*(int *)(b + k->off) = atoi(k->def);
			break;
		case CT_STRV:
		case CT_EXTV:
		case CT_REGEXV: {
			struct strv *sv = (struct strv *)(b + k->off);
			strv_release(sv);
			char *copy = xstrdup(k->def), *save = NULL;
			for (char *t = strtok_r(copy, ",", &save); t;
			     t = strtok_r(NULL, ",", &save))
				strv_push(sv, t);
			free(copy);
			break;
		}
		case CT_ENV:
			break;
		case CT_PERCENTV: {
			struct cfg_percents *p = (struct cfg_percents *)(b + k->off);
			p->n = 0;
			for (const char *s = k->def; *s && p->n < CFG_PERCENTS_MAX;) {
				p->v[p->n++] = atoi(s);
				s += strcspn(s, ",");
				s += *s == ',';
			}
			break;
		}
		case CT_DECIMAL:
			*(double *)(b + k->off) = strtod(k->def, NULL);
			break;
		default:
			if (set_string(k, b, k->def, &err) < 0) {
				/* a broken default is a bug in the table above */
				fprintf(stderr, "baton: bad default: %s\n", err);
				abort();
			}
			break;
		}
	}
}

void config_scope_release(enum config_scope scope, void *base)
{
	char *b = base;
	for (size_t i = 0; i < config_nkeys; i++) {
		const struct config_key *k = &config_keys[i];
		if (k->scope != scope)
			continue;
		char *field = b + k->off;
		switch (k->type) {
		case CT_STR:
		case CT_OPTSTR:
		case CT_ADDRESS:
		case CT_OPTADDRESS:
		case CT_FORWARD:
		case CT_NAME:
		case CT_URLPATH:
			free(*(char **)field);
			*(char **)field = NULL;
			break;
		case CT_STRV:
		case CT_EXTV:
		case CT_REGEXV:
		case CT_ENV:
			strv_release((struct strv *)field);
			break;
		case CT_ACTION:
			free(((struct cfg_action *)field)->cmd);
			((struct cfg_action *)field)->cmd = NULL;
			break;
		case CT_READY:
			free(((struct config *)base)->run.ready_path);
			((struct config *)base)->run.ready_path = NULL;
			break;
		default:
			break;
		}
	}
}
