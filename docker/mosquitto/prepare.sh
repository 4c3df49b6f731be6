#!/bin/sh
# The broker's first start (docs/deploy.md), run once before it in the recarga image, as root:
# the federation's CA and the broker's certificate for $BROKER_NAMES (and "mosquitto", its name
# on its own compose network, where `recarga accounts` reaches it), and the broker's accounts
# (admin, servers, and every simulated car and station with a secret of its own). Both are
# kept on later starts: a credential revoked at run time stays revoked.
#   /broker   the broker's secrets (its key, the CA's key, the initial accounts)
#   /ca       ca.crt alone, for every client
#   /devices  devices.json, the simulated devices' own secrets (owned by the simulator's user)
set -eu
python -m recarga.cli certs --out /broker --names "$BROKER_NAMES,mosquitto" --keep
python -m recarga.cli accounts init --companies "${COMPANIES:-a,b,c}" --cars "${CARS:-100}" \
    --out /broker/dynamic-security.json --devices /devices/devices.json
install -m 644 /broker/ca.crt /ca/ca.crt
chown 10001 /devices/devices.json
