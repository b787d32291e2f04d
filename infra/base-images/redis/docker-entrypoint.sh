#!/bin/sh
# As the official redis image: `redis-server ...` without a configuration file listens on every
# interface, so protected mode (which would refuse every client but localhost) is turned off.
set -e
if [ "$1" = redis-server ]; then
  shift
  set -- redis-server --protected-mode no "$@"
fi
exec "$@"
