#!/bin/sh
# The worker container's entrypoint: `zkpot node run` becomes the container's main process
# (exec), so `docker stop`'s SIGTERM reaches it directly; it stops its workers within
# ZKPOT_NODE_STOP_GRACE_S (30 s by default) and exits 0. Keep the compose service's
# stop_grace_period above that grace. Extra arguments go to `zkpot node run`.
set -e
exec zkpot node run --no-live "$@"
