/* The build step of `baton dev`: run [build].cmd (sh -c) in its own process group, stream its
 * output line by line to the owner, and cancel it when a newer change arrives (kill its group,
 * then start again once it is gone). The output of the last build is kept so that a failure
 * can be summarised once, and an identical failure recognised.
 *
 * build owns its child and its output buffer; the cmd/cwd/env strings must outlive it. */
#ifndef BATON_BUILD_H
#define BATON_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct child_reaper;
struct build;

struct build_cbs {
	/* A build finished (not called for cancelled ones). status: "exited with status 2". */
	void (*done)(struct build *b, bool ok, const char *status, int64_t took_ms, void *data);
	/* One output line (stream 1 or 2). */
	void (*output)(struct build *b, const char *line, size_t len, void *data);
};

struct build *build_new(struct loop *l, const char *cmd, const char *cwd, const char *const *env,
			struct child_reaper *reaper, const struct build_cbs *cbs, void *data);
void build_free(struct build *b);

/* Start a build delay_ms from now (build.delay; <= 0: now). A start asked for while another
 * waits keeps the earlier moment (changes made meanwhile are in that build, as with air's
 * delay); one for now replaces the wait. If a build is running when the start comes, it is
 * cancelled first and the new one starts when the old one's group is gone. Returns 0 or -errno
 * (spawn failures are reported through done()). */
int build_start(struct build *b, int64_t delay_ms);
/* Cancel a running build (and a waiting or queued start). */
void build_cancel(struct build *b);
bool build_running(const struct build *b);
/* The output of the last finished build (empty string if none). */
const char *build_output(const struct build *b);

#endif
