# The load generator (cmd/loadgen) for the compose profile `load`: FROM
# scratch, the static binary built on the host by `make image-loadgen`.
FROM scratch
COPY loadgen /loadgen
USER 10001:10001
ENTRYPOINT ["/loadgen"]
