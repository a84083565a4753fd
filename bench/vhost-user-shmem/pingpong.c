/*
 * The limit for the vhost-user SHMEM_MAP/UNMAP benchmark: the same message
 * pattern as a back-end and a front-end exchange on the back-end channel,
 * in C, between two processes over a socketpair. Each round is a 52-byte
 * "map" message carrying one fd (SCM_RIGHTS) answered by a 20-byte ack,
 * then a 52-byte "unmap" message answered by a 20-byte ack. The receiver
 * closes every fd it gets, as a front-end does.
 *
 * Usage: pingpong MILLISECONDS
 * Prints the rounds per second on stdout.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define REQ_SIZE 52
#define ACK_SIZE 20

static int send_msg(int sock, const void *buf, size_t len, int fd)
{
    struct iovec iov = { (void *)buf, len };
    char control[CMSG_SPACE(sizeof(int))];
    struct msghdr msg = { 0 };
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (fd >= 0) {
        memset(control, 0, sizeof(control));
        msg.msg_control = control;
        msg.msg_controllen = sizeof(control);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    return sendmsg(sock, &msg, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

static int recv_msg(int sock, void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        char control[CMSG_SPACE(8 * sizeof(int))];
        struct iovec iov = { (char *)buf + got, len - got };
        struct msghdr msg = { 0 };
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof(control);
        ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
        if (n <= 0) {
            return -1;
        }
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                int nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (int i = 0; i < nfds; i++) {
                    int fd;
                    memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                    close(fd);
                }
            }
        }
        got += n;
    }
    return 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    double ms = argc > 1 ? atof(argv[1]) : 1000;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        perror("socketpair");
        return 1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        /* The front-end: ack every request. */
        uint8_t req[REQ_SIZE], ack[ACK_SIZE] = { 0 };
        close(sv[0]);
        while (recv_msg(sv[1], req, sizeof(req)) == 0) {
            memcpy(ack, req, 4);
            ack[4] = 0x5;
            ack[8] = 8;
            if (send_msg(sv[1], ack, sizeof(ack), -1) < 0) {
                break;
            }
        }
        _exit(0);
    }
    close(sv[1]);
    int memfd = dup(1);
    uint8_t req[REQ_SIZE] = { 0 }, ack[ACK_SIZE];
    req[4] = 0x9;
    req[8] = 40;
    double start = now(), end = start + ms / 1000;
    long rounds = 0;
    for (;;) {
        for (int i = 0; i < 100; i++) {
            req[0] = 9; /* map, with an fd */
            if (send_msg(sv[0], req, sizeof(req), memfd) < 0 || recv_msg(sv[0], ack, sizeof(ack)) < 0) {
                return 1;
            }
            req[0] = 10; /* unmap */
            if (send_msg(sv[0], req, sizeof(req), -1) < 0 || recv_msg(sv[0], ack, sizeof(ack)) < 0) {
                return 1;
            }
        }
        rounds += 100;
        if (now() >= end) {
            break;
        }
    }
    double secs = now() - start;
    close(sv[0]);
    waitpid(pid, NULL, 0);
    printf("%.1f\n", rounds / secs);
    return 0;
}
