# The image under test with what the escape suites run added: Python for
# the attack programs (scripts using ctypes for raw system calls), and
# ssh-agent and tmux, whose sockets the network suite's legitimate uses
# serve, and curl, the egress suite's client of the proxy. Nothing else
# differs: the same binary, user, entry point and files, plus the files of
# those packages and their dependencies. The project's image has no
# package manager left, so they are installed in a stage made from the same
# base and only the files of the packages that stage added are copied.
ARG IMAGE=mcp-commander:test
FROM debian:bookworm-slim AS tools
# hadolint ignore=DL3008,SC2086
RUN dpkg-query -W -f '${Package}\n' | sort >/before \
    && apt-get update \
    && apt-get install -y --no-install-recommends python3 openssh-client tmux curl \
    && dpkg-query -W -f '${Package}\n' | sort >/after \
    && mkdir /add \
    && comm -13 /before /after | xargs dpkg -L | sort -u | while read -r f; do \
         if [ -f "$f" ] || [ -L "$f" ]; then cp -a --parents "$f" /add; fi; done \
    && /add/usr/bin/python3 -c 'import ctypes, socket, struct' \
    && test -x /add/usr/bin/curl
FROM ${IMAGE}
COPY --from=tools /add/ /
