/*
 * The limit for the vdev-shmem notification benchmark: two processes
 * ping-ponging over eventfds, as tsqom's doorbells do, with blocking reads
 * and nothing else. Prints the round-trip p50 and p99 in microseconds.
 *
 * Usage: pingpong ITERATIONS
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void ring(int fd)
{
    uint64_t one = 1;
    if (write(fd, &one, sizeof one) != sizeof one) exit(1);
}

static void wait_bell(int fd)
{
    uint64_t v;
    if (read(fd, &v, sizeof v) != sizeof v) exit(1);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 10000;
    int warm = n / 10;
    int to_b = eventfd(0, EFD_CLOEXEC), to_a = eventfd(0, EFD_CLOEXEC);
    double *lat = malloc(sizeof(double) * (size_t)n);
    pid_t child;

    if (to_a < 0 || to_b < 0 || !lat) return 1;
    child = fork();
    if (child < 0) return 1;
    if (child == 0) {
        for (int i = 0; i < warm + n; i++) {
            wait_bell(to_b);
            ring(to_a);
        }
        _exit(0);
    }
    for (int i = 0; i < warm + n; i++) {
        double t0 = now_us();
        ring(to_b);
        wait_bell(to_a);
        if (i >= warm) lat[i - warm] = now_us() - t0;
    }
    waitpid(child, NULL, 0);
    qsort(lat, (size_t)n, sizeof(double), cmp);
    printf("%.3f %.3f\n", lat[n / 2], lat[(size_t)n * 99 / 100]);
    return 0;
}
