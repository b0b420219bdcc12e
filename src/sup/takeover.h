/* Bind takeover: hold the listening sockets apps bind themselves (design.md, "Bind takeover").
 * Each generation runs under a seccomp filter that sends its bind(2) calls to baton
 * (proc/bindtrap.h); the generation's listener is attached here. For a stream socket binding a
 * held kind of address (takeover_addr.h): the first time, baton keeps a duplicate of the app's
 * socket (pidfd_getfd(2)) and lets the bind run as the app (its own error if it fails); when a
 * later generation binds the same address, baton puts the held socket in place of the new one
 * (SECCOMP_IOCTL_NOTIF_ADDFD, same fd number) and answers success. Everything else continues
 * untouched. The held sockets live as long as the struct: connections arriving while no
 * generation runs wait in the backlog. */
#ifndef BATON_TAKEOVER_H
#define BATON_TAKEOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct loop;
struct takeover;

/* NULL with a fresh message in *why (the caller frees) when takeover cannot work here
 * (bindtrap_probe()). */
struct takeover *takeover_new(struct loop *l, char **why);
/* Closes the listeners and the held sockets. NULL is fine. */
void takeover_free(struct takeover *tk);
/* Hold a socket baton owns already (a [[listen]] listener; duplicated): an app binding its
 * address gets it. 0 or -errno (-EINVAL: not an address takeover holds). */
int takeover_hold_fd(struct takeover *tk, int fd);
/* A [[listen]] socket behind the HTTP front (own ports behind the front): an app binding its
 * address gets, in place of its own socket, the one route() gives for that generation (its
 * private socket; family: the app's socket's) instead of the public one, so every request
 * still goes through the front. route returns a listening fd that stays baton's (installed as
 * a duplicate), or -errno with *err set (the caller frees): the app's bind fails with it. fd
 * is duplicated as in takeover_hold_fd(). 0 or -errno. */
typedef int (*takeover_route_fn)(void *data, int gen, int index, int family, char **err);
int takeover_route_fd(struct takeover *tk, int fd, takeover_route_fn route, void *data, int index);
/* Binds that pass untouched although their address is of a held kind: pass(data, gen, sa, len)
 * true (the front's per-generation forward port, which no later generation binds). NULL:
 * none. */
struct sockaddr;
void takeover_set_pass(struct takeover *tk,
		       bool (*pass)(void *data, int gen, const struct sockaddr *sa, size_t len),
		       void *data);
/* Generation gen's bind filter listener (tk owns trap_fd from here, even on failure). 0 or
 * -errno. The listener is dropped when every process under the filter is gone. */
int takeover_attach(struct takeover *tk, int gen, int trap_fd);
/* Readiness by takeover: true when gen has bound every address prev had bound (and each of
 * them is listening), or, when prev held none, when gen has bound at least one address and it
 * is listening. */
bool takeover_gen_ready(struct takeover *tk, int gen, int prev);
/* True when gen had bound any address. */
bool takeover_gen_bound(const struct takeover *tk, int gen);
/* gen serves now: drop held sockets that it did not bind (addresses the app no longer uses;
 * [[listen]] sockets stay). */
void takeover_serving(struct takeover *tk, int gen);
/* 1 when a process of process group pgid is not stopped yet or has a connection open that was
 * accepted on a held address (a request in flight), or (queues) a held TCP socket gen bound has
 * connections waiting to be accepted; 0 when none, -errno when it cannot tell. Meant for a
 * stopped (SIGSTOP) group: see gen.c's quiet stop. */
int takeover_group_busy(struct takeover *tk, pid_t pgid, int gen, bool queues);
/* Take the held sockets out of the epoll sets of every process of the stopped group pgid
 * (their event loops then never hear of a new connection on them), so that the group, let go
 * on with its stop signal, does not accept one more connection on its way out. Best effort;
 * returns how many registrations were removed. */
int takeover_group_unwatch(struct takeover *tk, pid_t pgid);
/* Held addresses bound by gen, "a b c" (fresh string; empty when none). */
char *takeover_addresses(const struct takeover *tk, int gen);

#endif
