#include "sup/takeover_addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

int tk_addr_decode(const void *sa, size_t len, char key[TK_KEY_MAX])
{
	key[0] = '\0';
	sa_family_t fam;
	if (len < sizeof(fam))
		return -EINVAL;
	memcpy(&fam, sa, sizeof(fam));
	char ip[INET6_ADDRSTRLEN];
	if (fam == AF_INET) {
		struct sockaddr_in in;
		if (len < sizeof(in))
			return -EINVAL;
		memcpy(&in, sa, sizeof(in));
		if (in.sin_port == 0)
			return 0;
		inet_ntop(AF_INET, &in.sin_addr, ip, sizeof(ip));
		snprintf(key, TK_KEY_MAX, "%s:%u", ip, (unsigned)ntohs(in.sin_port));
		return 1;
	}
	if (fam == AF_INET6) {
		struct sockaddr_in6 in6;
		if (len < sizeof(in6))
			return -EINVAL;
		memcpy(&in6, sa, sizeof(in6));
		if (in6.sin6_port == 0)
			return 0;
		inet_ntop(AF_INET6, &in6.sin6_addr, ip, sizeof(ip));
		if (in6.sin6_scope_id)
			snprintf(key, TK_KEY_MAX, "[%s%%%u]:%u", ip, (unsigned)in6.sin6_scope_id,
				 (unsigned)ntohs(in6.sin6_port));
		else
			snprintf(key, TK_KEY_MAX, "[%s]:%u", ip, (unsigned)ntohs(in6.sin6_port));
		return 1;
	}
	if (fam == AF_UNIX) {
		size_t off = offsetof(struct sockaddr_un, sun_path);
		if (len > sizeof(struct sockaddr_un))
			return -EINVAL;
		if (len <= off + 1)
			return 0; /* unnamed (autobind), or an empty path: the kernel decides */
		const unsigned char *p = (const unsigned char *)sa + off;
		size_t n = len - off;
		if (p[0] != '\0')
			return 0; /* a path: the app may remove it on exit, see design.md */
		size_t k = (size_t)snprintf(key, TK_KEY_MAX, "unix:@");
		for (size_t i = 1; i < n; i++) {
			if (p[i] >= 0x21 && p[i] < 0x7f && p[i] != '\\')
				key[k++] = (char)p[i];
			else
				k += (size_t)snprintf(key + k, TK_KEY_MAX - k, "\\x%02x", p[i]);
		}
		key[k] = '\0';
		return 1;
	}
	return 0;
}
