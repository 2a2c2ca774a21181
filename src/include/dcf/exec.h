/*
 * exec.h - run one user command as a task, and leave nothing of it behind.
 *
 * A worker runs its tasks one at a time through a struct dcf_exec. The
 * contract that makes "nothing left behind" hold:
 *
 *  - The task's process tree is every process the command starts, however
 *    it starts them: in its process group, in a session of its own (setsid),
 *    or double-forked away from its parent. dcf_exec_init makes the caller a
 *    child subreaper, so every orphan of the tree comes back to the caller as
 *    a child; with a cgroup, every process of the tree is also in the task
 *    cgroup, which none of them can leave without privilege.
 *  - When the main process ends, however it ends, whatever is left of the
 *    tree is SIGKILLed at once and reaped before dcf_exec_run returns: the
 *    next task never shares the machine with the last one's leftovers.
 *  - At the deadline the whole tree gets SIGTERM (then SIGCONT, as
 *    timeout(1) sends, so a stopped process can act on it), and SIGKILL
 *    kill_after_ns later, as `timeout -k` does.
 *  - No PID is trusted beyond what the kernel guarantees: a process group is
 *    signalled only while its leader, the main process, is unreaped (its ID
 *    cannot be reused before); a PID only while it is the caller's own
 *    unreaped child or is pinned by a pidfd; the cgroup by cgroup.kill.
 *  - The task dies with its worker: the main process has PR_SET_PDEATHSIG
 *    SIGKILL; for the rest of the tree, the worker's death handler calls
 *    dcf_exec_kill_now, and the supervisor can empty a dead worker's cgroup
 *    with dcf_cg_kill.
 *
 * What the caller must keep: one dcf_exec per process, initialised in the
 * process that runs the tasks (the subreaper flag is not inherited by fork);
 * no children of its own besides the executor's (every child is taken to be
 * part of the tree, and killed and reaped as such); SIGCHLD not ignored (no
 * SIG_IGN, no SA_NOCLDWAIT: the tree must be reaped here, for its exit
 * statuses and its CPU time); its own descriptors close-on-exec (the task
 * inherits every other one); one thread.
 *
 * Cgroups (v2): dcf_exec_init(x, DIR) creates DIR/task (or reuses it) and
 * every task joins it before it execs. The cgroup v2 "no internal
 * processes" rule forbids processes in a cgroup whose subtree_control
 * enables a controller, except in the root; nothing here enables one, so
 * the worker may live in DIR itself while its tasks run in DIR/task. A
 * supervisor that enables controllers (memory, pids) for its workers must
 * put each worker in a leaf of its own instead. Any cgroup failure falls
 * back to process groups and the subreaper, silently: cg_on says which is in
 * use, cg_why why not, for the caller to log once.
 */
#ifndef DCF_EXEC_H
#define DCF_EXEC_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* How a task ended (struct dcf_exec_res.how). */
enum dcf_exec_how {
	DCF_EXEC_EXITED = 1,   /* the main process exited: exit_code */
	DCF_EXEC_SIGNALED = 2, /* a signal ended the main process: term_sig */
	DCF_EXEC_TIMEDOUT = 3, /* the deadline passed and the tree was killed */
	DCF_EXEC_NOEXEC = 4    /* the command never ran: exec_errno */
};

struct dcf_exec_report; /* what a spawned child reports before it execs */

/*
 * Per-worker state: set up by dcf_exec_init, which also makes every field
 * safe for dcf_exec_kill_now and dcf_exec_fini even if it fails. Callers
 * read cg_on and cg_why only.
 */
struct dcf_exec {
	/*
	 * 1: tasks run in the task cgroup. It can drop to 0 after a run (the
	 * cgroup refused a task, or would not empty), never rise again.
	 */
	int cg_on;
	char cg_why[200]; /* why not, when a cgroup was asked for: for the log */

	pid_t self;   /* the process that called dcf_exec_init */
	int devnull;  /* every task's standard input */
	int sigfd;    /* SIGCHLD signalfd: the wait when pidfds are missing */
	int cg_procs; /* the task cgroup's cgroup.procs, cgroup.kill, cgroup.events */
	int cg_kill;
	int cg_events;
	char *cg_task; /* the task cgroup's path, removed by dcf_exec_fini */
	struct dcf_exec_report *rep;
	/* Shared with dcf_exec_kill_now, which may run in a signal handler. */
	volatile sig_atomic_t main_pid;  /* the running task's main process, 0 if none */
	volatile sig_atomic_t kn_reaped; /* dcf_exec_kill_now reaped it: kn_status */
	volatile sig_atomic_t kn_status;
	volatile uint64_t kn_cpu_us, kn_maxrss_kb; /* what it reaped */
};

/* One task. */
struct dcf_exec_req {
	/*
	 * argv[0] is looked up as execvp does: on the worker's own PATH
	 * (or /bin:/usr/bin), unless it holds a '/'.
	 */
	char *const *argv;
	char *const *envp; /* the task's environment; NULL: the worker's */
	int out_fd;        /* its standard output and error; -1: the worker's own */
	int err_fd;
	const char *cwd;        /* its working directory, or NULL: the worker's */
	uint64_t timeout_ns;    /* 0: none */
	uint64_t kill_after_ns; /* SIGKILL this long after the timeout's SIGTERM (0: at once) */
	/*
	 * A signal asked for while it runs (dcf-ctl kill), or NULL: whenever
	 * *interrupt is set (by a handler, which can run only while the run
	 * waits, and then ends the wait), it is cleared and want(want_arg)
	 * says the signal to send the whole tree (0: none).
	 */
	volatile sig_atomic_t *interrupt;
	int (*want)(void *arg);
	void *want_arg;
	/*
	 * Several hosts, or NULL: the run may go on until *lease_until
	 * (CLOCK_MONOTONIC; 0: no bound), read again whenever the wait wakes;
	 * past it the whole tree is killed at once, and lease_lost said.
	 */
	const uint64_t *lease_until;
	/*
	 * Another user's task (as_user set): the child takes these groups, gid
	 * and uid (all three ids of each) before it enters cwd and execs, and
	 * its parent-death signal again after.
	 */
	int as_user;
	uint32_t as_uid, as_gid;
	const gid_t *as_groups;
	size_t as_ngroups;
};

/* How it went. */
struct dcf_exec_res {
	int how; /* enum dcf_exec_how */
	/*
	 * EXITED: the exit status. TIMEDOUT: the status, if the main process
	 * exited after the SIGTERM rather than being killed. NOEXEC: 127 when
	 * the command was not found (ENOENT, ENOTDIR), 126 when it was found
	 * but could not be run (EACCES, ENOEXEC without a shell, E2BIG...) or
	 * the task could not be set up (a bad out_fd: EBADF).
	 */
	int exit_code;
	int term_sig;   /* SIGNALED, TIMEDOUT: the signal that ended the main process */
	int lease_lost; /* killed because *lease_until passed (req.lease_until) */
	int exec_errno; /* NOEXEC: why */
	/* CLOCK_REALTIME, for the joblog: just before the spawn; once the main is reaped. */
	uint64_t start_wall_ns, end_wall_ns;
	uint64_t run_ns;    /* CLOCK_MONOTONIC, from the spawn to the main's end */
	uint64_t cpu_us;    /* user + system CPU of every process of the tree reaped */
	uint64_t maxrss_kb; /* the largest peak RSS among them */
	int sent_sig;       /* the last signal want asked for and the tree got (0: none) */
};

/*
 * Set up x for the calling process, which becomes a child subreaper.
 * cg_dir: a cgroup v2 directory of this worker's own (it creates and reuses
 * DIR/task, and first kills whatever a dead predecessor left in it; two
 * workers sharing one would kill each other's tasks), or NULL. 0, or -1
 * with errno and a message in err (no subreaper, no /dev/null, SIGCHLD
 * ignored, no memory); cgroup trouble is never an error.
 */
int dcf_exec_init(struct dcf_exec *x, const char *cg_dir, char *err, size_t errlen);

/*
 * Run one task to its end and reap its whole tree. 0 with *rs filled, or -1
 * with errno when nothing was started (EAGAIN from vfork, EINVAL for an
 * empty argv or an x set up in another process, EBUSY when a task is
 * already running). Signals are blocked while it runs, except while it
 * waits for the main process: a handler that calls dcf_exec_kill_now runs
 * only then.
 */
int dcf_exec_run(struct dcf_exec *x, const struct dcf_exec_req *rq, struct dcf_exec_res *rs);

/*
 * Kill (SIGKILL) and reap the whole tree of the task now running, if any,
 * and every other child the caller has. Async-signal-safe: for the worker's
 * parent-death signal handler, which should then _exit. If the handler
 * returns instead, the interrupted dcf_exec_run returns the task as ended
 * by SIGKILL (or however it had ended before).
 */
void dcf_exec_kill_now(struct dcf_exec *x);

/* dcf_exec_kill_now, then release x and remove the task cgroup. Idempotent. */
void dcf_exec_fini(struct dcf_exec *x);

/*
 * Where this process's cgroup v2 directory is: the cgroup2 mount (from
 * /proc/self/mountinfo; /sys/fs/cgroup, or /sys/fs/cgroup/unified on a
 * hybrid setup) joined with the "0::" line of /proc/self/cgroup. A
 * supervisor creates DIR/dcf-NAME.PID/ under it for its workers. 0, or -1
 * with errno ENOENT (no cgroup2 mount, or the cgroup is outside it) or
 * ENAMETOOLONG (len too small).
 */
int dcf_cg_self_dir(char *buf, size_t len);

/*
 * Kill every process in the cgroup directory dir and in the cgroups below it
 * (cgroup.kill), and wait until cgroup.events says it is empty, for at most
 * timeout_ns. For a supervisor whose worker died: its task's grandchildren
 * outlive it (only the main process has a parent-death signal). 0, or -1
 * with errno (ETIMEDOUT: a process would not die, as one stuck in the
 * kernel; others from opening and writing the files).
 */
int dcf_cg_kill(const char *dir, uint64_t timeout_ns);

/*
 * SIGKILL every descendant of root, a process that is not the caller's and
 * that root_fd (its pidfd) pins, each pinned in turn by a pidfd of its own
 * while it is seen to be the child of a pinned one: a dead supervisor's
 * worker, whose task tree was left behind. Root itself is not signalled;
 * kill it after, so that its tree cannot be reparented away first (a stopped
 * root is best: nothing of the tree is reaped meanwhile), and waits until
 * each has exited (5 s at most). The count signalled, or -1 without pidfds.
 */
int dcf_exec_kill_tree(pid_t root, int root_fd);

#endif
