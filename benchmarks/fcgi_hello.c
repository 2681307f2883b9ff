/* The benchmark's floor: the smallest useful FastCGI responder, in C on libfcgi (Debian's libfcgi-dev).
 *
 * It answers every request with "Hello World!" (text/plain, Content-Length 12), from THREADS threads that each
 * accept on one shared listening socket, so what it measures is Apache plus the FastCGI hop and nothing of a
 * language runtime. benchmarks/peers.py builds and starts it:
 *
 *     cc -O2 -o fcgi_hello fcgi_hello.c -lfcgi -lpthread
 *     fcgi_hello ADDRESS [THREADS]      ADDRESS is ":PORT", "HOST:PORT" or a unix socket path
 */
#include <fcgiapp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static int listen_fd;

static void *serve(void *unused)
{
    FCGX_Request request;
    (void)unused;
    if (FCGX_InitRequest(&request, listen_fd, 0) != 0)
        return NULL;
    while (FCGX_Accept_r(&request) >= 0) {
        FCGX_PutS("Content-Type: text/plain\r\nContent-Length: 12\r\n\r\nHello World!", request.out);
        FCGX_Finish_r(&request);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = argc > 2 ? atoi(argv[2]) : 8;
    pthread_t *ids;
    int i;

    if (argc < 2 || threads < 1) {
        fprintf(stderr, "usage: %s ADDRESS [THREADS]\n", argv[0]);
        return 2;
    }
    if (FCGX_Init() != 0)
        return 1;
    listen_fd = FCGX_OpenSocket(argv[1], 128);
    if (listen_fd < 0) {
        fprintf(stderr, "fcgi_hello: cannot listen on %s\n", argv[1]);
        return 1;
    }
    ids = calloc((size_t)threads, sizeof(*ids));
    if (ids == NULL)
        return 1;
    for (i = 0; i < threads; i++)
        pthread_create(&ids[i], NULL, serve, NULL);
    for (i = 0; i < threads; i++)
        pthread_join(ids[i], NULL);
    return 0;
}
