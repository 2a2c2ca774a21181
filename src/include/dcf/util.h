/* util.h - clocks, a seeded generator, number parsing, /proc lookups. */
#ifndef DCF_UTIL_H
#define DCF_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define DCF_NSEC 1000000000ULL

/*
 * In a function that reports through `char *err, size_t errlen`: say why,
 * set errno and return -1 (the library's one error convention).
 */
#define DCF_BAD(e, ...) \
	do { \
		snprintf(err, errlen, __VA_ARGS__); \
		errno = (e); \
		return -1; \
	} while (0)

uint64_t dcf_now_ns(void);  /* CLOCK_MONOTONIC */
uint64_t dcf_wall_ns(void); /* CLOCK_REALTIME */

/* splitmix64: a stateless mix, and a tiny stream generator built on it. */
uint64_t dcf_mix64(uint64_t x);
struct dcf_rng {
	uint64_t s;
};
void dcf_rng_seed(struct dcf_rng *r, uint64_t seed);
uint64_t dcf_rng_next(struct dcf_rng *r);
/* Uniform in [lo, hi] (inclusive). */
uint64_t dcf_rng_range(struct dcf_rng *r, uint64_t lo, uint64_t hi);
/* Uniform in [0, 1). */
double dcf_rng_unit(struct dcf_rng *r);

/*
 * Parse a whole unsigned decimal in [min, max]. 0 ok; -1 with errno EINVAL
 * (not a number, trailing junk) or ERANGE (outside the bounds).
 */
int dcf_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* A whole decimal with an optional sign, in [min, max]; -1 with EINVAL or ERANGE. */
int dcf_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);
/* "A" or "A-B" with A <= B, each in [min, max]. */
int dcf_parse_range(const char *s, uint64_t min, uint64_t max, uint64_t *lo, uint64_t *hi);
/* A probability in [0, 1], as parts per million. */
int dcf_parse_prob_ppm(const char *s, uint64_t *ppm);

/*
 * Start time of a process, in clock ticks since boot (/proc/PID/stat field
 * 22). -1 with errno ENOENT or ESRCH if there is no such process; any other
 * errno (EMFILE, EACCES, EINVAL for unreadable contents) says nothing about it.
 */
int dcf_proc_start(pid_t pid, uint64_t *ticks);

/* The deterministic cpu work: `iters` steps of a 64-bit LCG from `x`. */
uint64_t dcf_lcg_run(uint64_t x, uint64_t iters);
/* The same result in O(log iters): used to check a worker's answer. */
uint64_t dcf_lcg_jump(uint64_t x, uint64_t iters);

#endif
