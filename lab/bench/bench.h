/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the lab's benchmarks share: a monotonic clock in microseconds and
 * the median of a set of samples.
 */
#ifndef GMEM_BENCH_H
#define GMEM_BENCH_H

#include <stdlib.h>
#include <time.h>

static inline double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The median of the @n samples of @v, which it sorts. */
static inline double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#endif /* GMEM_BENCH_H */
