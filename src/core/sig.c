#include "core/sig.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "core/loop.h"
#include "util/xalloc.h"

struct sig {
	struct loop *loop;
	struct loop_src *src;
	int fd;
	sigset_t old_mask;
	sig_cb cb;
	void *data;
};

static void sig_readable(struct loop *l, int fd, uint32_t events, void *data)
{
	(void)l;
	(void)events;
	struct sig *s = data;
	struct signalfd_siginfo si[8];
	for (;;) {
		ssize_t n = read(fd, si, sizeof(si));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return; /* EAGAIN: drained */
		}
		size_t cnt = (size_t)n / sizeof(si[0]);
		for (size_t i = 0; i < cnt; i++)
			s->cb(&si[i], s->data);
		if (cnt < 8)
			return;
	}
}

struct sig *sig_new(struct loop *l, const int *signals, int n, sig_cb cb, void *data)
{
	struct sig *s = xcalloc(1, sizeof(*s));
	sigset_t mask;
	sigemptyset(&mask);
	for (int i = 0; i < n; i++)
		sigaddset(&mask, signals[i]);
	signal(SIGPIPE, SIG_IGN);
	if (sigprocmask(SIG_BLOCK, &mask, &s->old_mask) < 0)
		goto out_free;
	s->fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (s->fd < 0)
		goto out_mask;
	s->loop = l;
	s->cb = cb;
	s->data = data;
	s->src = loop_add(l, s->fd, EPOLLIN, sig_readable, s);
	if (!s->src)
		goto out_close;
	return s;

out_close: {
	int e = errno;
	close(s->fd);
	errno = e;
}
out_mask: {
	int e = errno;
	sigprocmask(SIG_SETMASK, &s->old_mask, NULL);
	errno = e;
}
out_free:
	free(s);
	return NULL;
}

void sig_free(struct sig *s)
{
	if (!s)
		return;
	loop_del(s->loop, s->src);
	close(s->fd);
	sigprocmask(SIG_SETMASK, &s->old_mask, NULL);
	free(s);
}

void sig_reset_for_child(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (int i = 1; i < NSIG; i++) {
		if (i == SIGKILL || i == SIGSTOP)
			continue;
		sigaction(i, &sa, NULL); /* EINVAL for the few reserved numbers: ignored */
	}
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}
