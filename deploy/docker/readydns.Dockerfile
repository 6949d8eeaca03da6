# The compose twin of a headless Service's DNS (cmd/readydns): FROM scratch,
# the static binary built on the host by `make image-readydns`. It binds port
# 53 as user 10001: Docker (20.10 and later) opens the ports below 1024 to
# unprivileged users inside a container (net.ipv4.ip_unprivileged_port_start=0).
FROM scratch
COPY readydns /readydns
USER 10001:10001
ENTRYPOINT ["/readydns"]
