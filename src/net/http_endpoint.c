/* HTTP endpoints from the config (http_endpoint.h). */
#include "net/http_endpoint.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int http_endpoint_parse(const char *url, struct sockaddr_storage *ss, socklen_t *sl, bool *tls,
			char *hostout, size_t hostlen)
{
	*tls = strncmp(url, "https://", 8) == 0;
	if (!*tls && strncmp(url, "http://", 7) != 0)
		return -EINVAL;
	const char *h = url + (*tls ? 8 : 7), *colon;
	char host[64];
	bool bracketed = *h == '[';
	if (bracketed) {
		const char *rb = strchr(h, ']');
		if (!rb || rb[1] != ':' || (size_t)(rb - h - 1) >= sizeof(host))
			return -EINVAL;
		memcpy(host, h + 1, (size_t)(rb - h - 1));
		host[rb - h - 1] = 0;
		colon = rb + 1;
	} else {
		colon = strrchr(h, ':');
		if (!colon || (size_t)(colon - h) >= sizeof(host))
			return -EINVAL;
		memcpy(host, h, (size_t)(colon - h));
		host[colon - h] = 0;
	}
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (end == colon + 1 || *end || port <= 0 || port > 65535)
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	const char *addr = strcmp(host, "localhost") == 0 ? "127.0.0.1" : host;
	if (!bracketed && inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*sl = sizeof(*s4);
	} else if (bracketed && inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*sl = sizeof(*s6);
	} else {
		return -EINVAL;
	}
	if (hostout)
		snprintf(hostout, hostlen, "%s", host);
	return 0;
}
