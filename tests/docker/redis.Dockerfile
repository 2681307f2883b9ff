# The Redis service's image for the tests: Debian's redis-server on the tests' local base image, standing in for the
# official `redis` image that deploy/stack.yml names (the test machine reaches no image registry). Like the official
# image it keeps its data in /data, owned by the `redis` user the stack runs it as.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/* \
    && install -d -o redis -g redis -m 0750 /data
WORKDIR /data
EXPOSE 6379
CMD ["redis-server", "--protected-mode", "no"]
