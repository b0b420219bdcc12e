/* Signals as events: the given signals are blocked and read from a signalfd registered with the
 * loop. baton installs no asynchronous signal handlers at all. SIGPIPE is ignored. */
#ifndef BATON_SIG_H
#define BATON_SIG_H

#include <sys/signalfd.h>

struct loop;
struct sig;

typedef void (*sig_cb)(const struct signalfd_siginfo *si, void *data);

/* Block `signals` (n of them), ignore SIGPIPE, and deliver them through the loop.
 * NULL with errno set on failure. */
struct sig *sig_new(struct loop *l, const int *signals, int n, sig_cb cb, void *data);
/* Unregister, close the signalfd and restore the original mask. */
void sig_free(struct sig *s);
/* In a child between fork and exec: unblock every signal and reset every disposition to the
 * default. Async-signal-safe. */
void sig_reset_for_child(void);

#endif
