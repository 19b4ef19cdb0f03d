#!/bin/sh
echo "init.sh (supervisord, proxy, tunnels) is not reproduced by this replica" >&2
exit 3
