/* The event loop: one epoll instance; every source of work is an fd with a callback; timers are
 * monotonic deadlines (the earliest one bounds epoll_wait). Nothing blocks, nothing sleeps.
 *
 * Ownership: the loop never closes fds. loop_del() removes the fd from epoll at once
 * (EPOLL_CTL_DEL, so the caller may close() it right after) and frees the source after the
 * current batch of events, so a callback may delete any source, including its own. */
#ifndef BATON_LOOP_H
#define BATON_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct loop;
struct loop_src;
struct loop_timer;

typedef void (*loop_fd_cb)(struct loop *l, int fd, uint32_t events, void *data);
typedef void (*loop_timer_cb)(struct loop *l, void *data);

/* NULL with errno set on failure. */
struct loop *loop_new(void);
/* Frees the loop and every source and timer still registered (closes nothing but epoll). */
void loop_free(struct loop *l);

/* Register fd for events (EPOLLIN, EPOLLOUT, ...; level-triggered unless EPOLLET is given).
 * NULL with errno set on failure. */
struct loop_src *loop_add(struct loop *l, int fd, uint32_t events, loop_fd_cb cb, void *data);
int loop_mod(struct loop *l, struct loop_src *s, uint32_t events);
void loop_del(struct loop *l, struct loop_src *s);

/* Timers: created disarmed. Deadlines are absolute CLOCK_MONOTONIC milliseconds
 * (util/timeutil.h now_ms()). A timer fires once per arm. */
struct loop_timer *loop_timer_new(struct loop *l, loop_timer_cb cb, void *data);
void loop_timer_arm_at(struct loop_timer *t, int64_t deadline_ms);
void loop_timer_arm_in(struct loop_timer *t, int64_t delay_ms);
void loop_timer_disarm(struct loop_timer *t);
bool loop_timer_armed(const struct loop_timer *t);
int64_t loop_timer_deadline(const struct loop_timer *t); /* -1 when disarmed */
/* Safe inside any callback. */
void loop_timer_free(struct loop_timer *t);

/* Run until loop_exit(); returns the code given to loop_exit(), or -errno on epoll failure. */
int loop_run(struct loop *l);
/* One iteration: wait at most max_wait_ms (-1: until the next timer/event), dispatch.
 * Returns the number of callbacks run, or -errno. */
int loop_run_once(struct loop *l, int64_t max_wait_ms);
void loop_exit(struct loop *l, int code);

#endif
