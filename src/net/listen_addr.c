#include "net/listen_addr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/xalloc.h"

static int fail(char **err, const char *reason)
{
	if (err)
		*err = xstrdup(reason);
	return -EINVAL;
}

static bool all_digits(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

static int parse_port(const char *s, int *port, char **err)
{
	size_t n = strlen(s);
	if (n == 0)
		return fail(err, "missing port after ':'");
	if (!all_digits(s, n))
		return fail(err, "the port must be a number from 0 to 65535");
	if (n > 5)
		return fail(err, "port out of range (0..65535)");
	long v = 0;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	if (v > 65535)
		return fail(err, "port out of range (0..65535)");
	*port = (int)v;
	return 0;
}

/* An IPv4 literal, or a DNS name checked for shape (letters, digits, '-', '.'). */
static int check_host(const char *h, char **err)
{
	size_t n = strlen(h);
	if (n == 0)
		return 0;
	if (strcmp(h, "*") == 0)
		return fail(err, "write ':PORT' (empty host) to listen on every address");
	bool numeric = true;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)h[i]) && h[i] != '.')
			numeric = false;
	if (numeric) {
		struct in_addr a4;
		if (inet_pton(AF_INET, h, &a4) != 1)
			return fail(err, "invalid IPv4 address");
		return 0;
	}
	if (n > 253)
		return fail(err, "host name too long");
	size_t label = 0;
	for (size_t i = 0; i <= n; i++) {
		char c = h[i];
		if (c == '.' || c == '\0') {
			if (label == 0 || h[i - 1] == '-')
				return fail(err, "invalid host name");
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)c) && c != '-')
			return fail(err, "invalid character in host name");
		if (label == 0 && c == '-')
			return fail(err, "invalid host name");
		if (++label > 63)
			return fail(err, "host name label too long");
	}
	return 0;
}

static int parse_unix(const char *rest, struct listen_addr *out, char **err)
{
	if (rest[0] == '@') {
		const char *name = rest + 1;
		if (!*name)
			return fail(err, "empty abstract socket name after 'unix:@'");
		if (strlen(name) > LISTEN_ADDR_PATH_MAX - 1)
			return fail(err, "abstract socket name too long (at most 107 bytes)");
		out->family = LISTEN_ADDR_ABSTRACT;
		strcpy(out->path, name);
		return 0;
	}
	if (!*rest)
		return fail(err, "empty socket path after 'unix:'");
	if (strlen(rest) > LISTEN_ADDR_PATH_MAX - 1)
		return fail(err, "socket path too long (at most 107 bytes)");
	out->family = LISTEN_ADDR_UNIX;
	strcpy(out->path, rest);
	return 0;
}

int listen_addr_parse(const char *s, struct listen_addr *out, char **err)
{
	memset(out, 0, sizeof(*out));
	if (!s || !*s)
		return fail(err, "empty address");
	if (strncmp(s, "unix:", 5) == 0)
		return parse_unix(s + 5, out, err);
	if (strstr(s, "://"))
		return fail(err, "no scheme: write 'host:port' or 'unix:/path'");
	for (const char *p = s; *p; p++)
		if (isspace((unsigned char)*p))
			return fail(err, "addresses contain no spaces");
	out->family = LISTEN_ADDR_TCP;
	const char *port;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close)
			return fail(err, "missing ']' after an IPv6 address");
		size_t hl = (size_t)(close - s - 1);
		if (hl == 0 || hl >= sizeof(out->host))
			return fail(err, "invalid IPv6 address");
		memcpy(out->host, s + 1, hl);
		out->host[hl] = '\0';
		struct in6_addr a6;
		if (inet_pton(AF_INET6, out->host, &a6) != 1)
			return fail(err, "invalid IPv6 address");
		out->host_v6 = true;
		if (close[1] != ':')
			return fail(err, "missing ':PORT' after ']'");
		port = close + 2;
	} else {
		const char *colon = strrchr(s, ':');
		if (!colon) {
			if (all_digits(s, strlen(s)))
				return fail(err, "missing ':' before the port (write ':PORT')");
			return fail(err,
				    "missing port (write 'host:PORT', ':PORT' or 'unix:/path')");
		}
		size_t hl = (size_t)(colon - s);
		if (memchr(s, ':', hl))
			return fail(err, "an IPv6 address needs brackets: '[::1]:PORT'");
		if (hl >= sizeof(out->host))
			return fail(err, "host name too long");
		memcpy(out->host, s, hl);
		out->host[hl] = '\0';
		if (check_host(out->host, err) < 0)
			return -EINVAL;
		port = colon + 1;
	}
	return parse_port(port, &out->port, err);
}

int listen_addr_format(const struct listen_addr *a, char *out, size_t outlen)
{
	switch (a->family) {
	case LISTEN_ADDR_UNIX:
		return snprintf(out, outlen, "unix:%s", a->path);
	case LISTEN_ADDR_ABSTRACT:
		return snprintf(out, outlen, "unix:@%s", a->path);
	case LISTEN_ADDR_TCP:
		break;
	}
	if (a->host_v6)
		return snprintf(out, outlen, "[%s]:%d", a->host, a->port);
	return snprintf(out, outlen, "%s:%d", a->host, a->port);
}

bool listen_addr_is_any(const struct listen_addr *a)
{
	return a->family == LISTEN_ADDR_TCP &&
	       (!a->host[0] || strcmp(a->host, "0.0.0.0") == 0 || strcmp(a->host, "::") == 0);
}

bool listen_addr_conflict(const struct listen_addr *a, const struct listen_addr *b)
{
	if (a->family != b->family)
		return false;
	if (a->family != LISTEN_ADDR_TCP)
		return strcmp(a->path, b->path) == 0;
	if (a->port != b->port || a->port == 0)
		return false;
	if (strcmp(a->host, b->host) == 0)
		return true;
	/* "0.0.0.0" covers IPv4 only; "" and "::" cover both families (dual-stack). */
	const struct listen_addr *x = a, *y = b;
	for (int i = 0; i < 2; i++, x = b, y = a) {
		if (!listen_addr_is_any(x))
			continue;
		if (strcmp(x->host, "0.0.0.0") == 0 && y->host_v6)
			continue;
		return true;
	}
	return false;
}
