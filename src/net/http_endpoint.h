/* An HTTP endpoint as written in the config ("http://127.0.0.1:2379", "https://[::1]:2379",
 * "http://localhost:2379"): an IPv4 address, a bracketed IPv6 address or localhost, and a port.
 * No name lookups: baton never blocks on DNS. Pure. */
#ifndef BATON_HTTP_ENDPOINT_H
#define BATON_HTTP_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* 0, or -EINVAL when url is not such an endpoint. *tls: https://. host (may be NULL) gets the
 * host as written, without brackets ("localhost" stays; the address is 127.0.0.1). */
int http_endpoint_parse(const char *url, struct sockaddr_storage *ss, socklen_t *sl, bool *tls,
			char *host, size_t hostlen);

#endif
