/* kube9-shim DIR: the process runtime's per-container supervisor.
 *
 * Started by the agent in a session of its own, so it outlives a restarted agent. Reads the
 * container's command line (DIR/argv, NUL-separated, the first an absolute path), environment
 * (DIR/env, NUL-separated NAME=VALUE) and working directory (DIR/cwd); runs the command in a
 * process group of its own with stdout and stderr appended to DIR/log; records DIR/started and
 * DIR/pid; forwards SIGTERM and SIGINT to the group; when the command ends, writes DIR/exit as
 * "CODE FINISHED-AT" (CODE 128+N for signal N), atomically.
 *
 * Written in C so a container start costs a fork and an exec, not a Swift runtime start-up. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile pid_t child = 0;

static void forward(int signal_number) {
    if (child > 0) kill(-child, signal_number);
}

/* Reads a whole file; returns its size, -1 on error. The buffer is NUL-terminated. */
static long read_file(const char *path, char **out) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat info;
    if (fstat(fd, &info) != 0) { close(fd); return -1; }
    char *buffer = malloc((size_t)info.st_size + 1);
    if (!buffer) { close(fd); return -1; }
    long total = 0;
    while (total < info.st_size) {
        ssize_t got = read(fd, buffer + total, (size_t)(info.st_size - total));
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        total += got;
    }
    close(fd);
    buffer[total] = 0;
    *out = buffer;
    return total;
}

/* Splits NUL-separated strings into a NULL-terminated vector. */
static char **split(char *buffer, long size) {
    long count = 0;
    for (long i = 0; i < size; i++) if (buffer[i] == 0) count++;
    if (size > 0 && buffer[size - 1] != 0) count++;
    char **vector = calloc((size_t)count + 1, sizeof(char *));
    long index = 0;
    char *start = buffer;
    for (long i = 0; i <= size && index < count; i++) {
        if (i == size || buffer[i] == 0) {
            vector[index++] = start;
            start = buffer + i + 1;
        }
    }
    return vector;
}

static void now_rfc3339(char *out, size_t length) {
    time_t seconds = time(NULL);
    struct tm parts;
    gmtime_r(&seconds, &parts);
    strftime(out, length, "%Y-%m-%dT%H:%M:%SZ", &parts);
}

static void write_text(const char *dir, const char *name, const char *text) {
    char path[4096], temporary[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(temporary, sizeof temporary, "%s.tmp", path);
    int fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return;
    ssize_t ignored = write(fd, text, strlen(text));
    (void)ignored;
    close(fd);
    rename(temporary, path);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: kube9-shim DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    char path[4096];
    char *argv_buffer = NULL, *env_buffer = NULL, *cwd = NULL;
    snprintf(path, sizeof path, "%s/argv", dir);
    long argv_size = read_file(path, &argv_buffer);
    snprintf(path, sizeof path, "%s/env", dir);
    long env_size = read_file(path, &env_buffer);
    snprintf(path, sizeof path, "%s/cwd", dir);
    long cwd_size = read_file(path, &cwd);
    if (argv_size <= 0 || env_size < 0) {
        fprintf(stderr, "kube9-shim: %s has no argv or env\n", dir);
        return 2;
    }
    char **command = split(argv_buffer, argv_size);
    char **environment = split(env_buffer, env_size);
    snprintf(path, sizeof path, "%s/log", dir);
    int log = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    char started[64];
    now_rfc3339(started, sizeof started);

    signal(SIGTERM, forward);
    signal(SIGINT, forward);
    signal(SIGHUP, SIG_IGN);
    child = fork();
    if (child < 0) {
        char text[128];
        snprintf(text, sizeof text, "128 %s", started);
        write_text(dir, "exit", text);
        return 1;
    }
    if (child == 0) {
        setpgid(0, 0);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0) dup2(null, 0);
        if (log >= 0) {
            dup2(log, 1);
            dup2(log, 2);
        }
        if (cwd_size > 0 && chdir(cwd) != 0) {
            fprintf(stderr, "kube9-shim: working directory %s: %s\n", cwd, strerror(errno));
            _exit(128);
        }
        execve(command[0], command, environment);
        fprintf(stderr, "kube9-shim: cannot run %s: %s\n", command[0], strerror(errno));
        _exit(127);
    }
    setpgid(child, child);
    char text[128];
    write_text(dir, "started", started);
    snprintf(text, sizeof text, "%d", (int)child);
    write_text(dir, "pid", text);
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    char finished[64];
    now_rfc3339(finished, sizeof finished);
    snprintf(text, sizeof text, "%d %s", code, finished);
    write_text(dir, "exit", text);
    return 0;
}
